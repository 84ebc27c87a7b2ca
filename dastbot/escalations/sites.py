"""The ATLAS site map: which cloud a site, PanDA queue or RSE belongs to.

This module owns ``knowledge/sites.yaml`` (``load_sites`` / ``parse_sites`` -> ``SiteMap``,
``SitesError`` with every problem at once, each with ``file:line`` and the site), name lookup
(``SiteMap.resolve`` -> ``SiteResolution``; ``SiteMap.suggest`` for "did you mean ...?"), and
the conversion of an ATLAS CRIC export into that file (``import_cric``, ``sites_yaml``).

It is pure: no I/O except ``load_sites(path)``; ``import_cric`` takes the JSON text.

The file::

    sites:
      - site: CERN-PROD           # ATLAS site name as in CRIC
        cloud: CERN               # ATLAS cloud code (a cloud-<code> target in contacts.yaml)
        queues: [CERN, ...]       # PanDA queues
        rses: [CERN-PROD_DATADISK, ...]

Rules decided here:

* Names are matched case-insensitively and must be unique across the whole map (a name may be
  both a site and a queue of that same site, e.g. ``MWT2``).
* An RSE-looking name that is not listed (``FZK-LCG2_PHYS-HIGGS``) still resolves, as
  ``rse-prefix``, when its part before the last ``_`` is a known site or RSE prefix: the map lists
  a few RSEs per site, not all of them.
* ``import_cric`` keeps only ACTIVE sites, queues and endpoints (a missing state counts as active)
  and reads the two shapes CRIC's API returns: the site dump (``/api/atlas/site/query/?json``,
  keyed by site, with ``cloud``, ``state``, ``ddmendpoints`` and ``presources``) and the PanDA queue
  dump (``/api/atlas/pandaqueue/query/?json``, keyed by queue, with ``atlas_site``, ``cloud``,
  ``state`` and ``astorages``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from rapidfuzz import fuzz, process, utils

from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse, parse_file

__all__ = [
    "MatchKind",
    "Site",
    "SiteMap",
    "SiteResolution",
    "SitesError",
    "import_cric",
    "load_sites",
    "parse_sites",
    "sites_yaml",
]

MatchKind = Literal["site", "queue", "rse", "rse-prefix"]

SITE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
RSE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,99}$")
CLOUD_RE = re.compile(r"^[A-Z0-9]{2,8}$")
_RSE_TAIL_RE = re.compile(r"[A-Z]*(?:DISK|TAPE)|(?:PHYS|PERF|DET|TRIG|SOFT|CALIB)-[A-Z0-9-]+")
_ENTRY_KEYS = ("site", "cloud", "queues", "rses")
SUGGEST_CUTOFF = 60.0
"""Minimum rapidfuzz ratio (0-100) for ``suggest``."""


class SitesError(Exception):
    """Every problem found in a site map or CRIC export, each naming where it is."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Site:
    name: str
    cloud: str
    queues: tuple[str, ...] = ()
    rses: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class SiteResolution:
    """What a name turned out to be: ``matched`` (canonical spelling) of kind ``matched_kind``
    belongs to ``site`` in ``cloud``."""

    site: str
    cloud: str
    matched_kind: MatchKind
    matched: str


def _key(name: str) -> str:
    return name.strip().casefold()


@dataclass(frozen=True)
class SiteMap:
    """Sites with their cloud, PanDA queues and RSEs; lookups are case-insensitive."""

    sites: tuple[Site, ...]
    origin: str = ""
    _names: dict[str, tuple[Site, MatchKind, str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _prefixes: dict[str, Site] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for site in self.sites:
            self._names.setdefault(_key(site.name), (site, "site", site.name))
            self._prefixes.setdefault(_key(site.name), site)
        for site in self.sites:
            for queue in site.queues:
                self._names.setdefault(_key(queue), (site, "queue", queue))
            for rse in site.rses:
                self._names.setdefault(_key(rse), (site, "rse", rse))
                prefix = rse.rpartition("_")[0]
                if prefix:
                    self._prefixes.setdefault(_key(prefix), site)

    def __iter__(self) -> Iterator[Site]:
        return iter(self.sites)

    def __len__(self) -> int:
        return len(self.sites)

    def get(self, site: str) -> Site | None:
        """The site named ``site`` (case-insensitive), not a queue or RSE."""
        found = self._names.get(_key(site))
        return found[0] if found is not None and found[1] == "site" else None

    def clouds(self) -> tuple[str, ...]:
        return tuple(sorted({s.cloud for s in self.sites}))

    def resolve(self, name: str) -> SiteResolution | None:
        """The site behind a site, PanDA queue or RSE name; None when unknown."""
        found = self._names.get(_key(name))
        if found is not None:
            site, kind, matched = found
            return SiteResolution(site.name, site.cloud, kind, matched)
        upper = name.strip().upper()
        prefix, sep, tail = upper.rpartition("_")
        if sep and prefix and _RSE_TAIL_RE.fullmatch(tail):
            owner = self._prefixes.get(_key(prefix))
            if owner is not None:
                return SiteResolution(owner.name, owner.cloud, "rse-prefix", upper)
        return None

    def names(self) -> list[str]:
        """Every site, queue and RSE name (canonical spelling), without duplicates."""
        return [matched for _site, _kind, matched in self._names.values()]

    def suggest(self, name: str, n: int = 5) -> list[str]:
        """Up to ``n`` known names closest to ``name`` (best first), for "did you mean ...?"."""
        if n <= 0 or not name.strip():
            return []
        found = process.extract(
            name,
            self.names(),
            scorer=fuzz.ratio,
            processor=utils.default_process,
            limit=n,
            score_cutoff=SUGGEST_CUTOFF,
        )
        return [choice for choice, _score, _index in found]


# --- the sites file --------------------------------------------------------------------------


def _names_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    return None


class _SitesChecker:
    def __init__(self, clouds: Collection[str] | None) -> None:
        self.clouds = {c.upper() for c in clouds} if clouds is not None else None
        self.errors: list[str] = []
        self.pending: list[tuple[int, str]] = []
        self.sites: list[Site] = []
        self.claimed: dict[str, tuple[str, str]] = {}

    def error(self, located: Located, path: tuple[str | int, ...], label: str, msg: str) -> None:
        """An entry's error; ``entry`` reports them in line order once the entry is checked."""
        self.pending.append((located.line(path), f"{located.where(path)}: {label}: {msg}"))

    def claim(
        self, located: Located, path: tuple[str | int, ...], label: str, site: str, name: str
    ) -> bool:
        key = _key(name)
        if key in self.claimed and self.claimed[key][0] != site:
            other, where = self.claimed[key]
            self.error(located, path, label, f"{name!r} is already listed for {other} ({where})")
            return False
        self.claimed.setdefault(key, (site, located.where(path)))
        return True

    def document(self, located: Located) -> None:
        data = located.data
        if not isinstance(data, dict) or not isinstance(data.get("sites"), list):
            self.errors.append(f"{located.file}:1: expected a mapping with a list under sites:")
            return
        for key in data:
            if key != "sites":
                self.errors.append(f"{located.where((key,))}: unknown top-level field {key!r}")
        for i, raw in enumerate(data["sites"]):
            self.entry(located, i, raw)
            self.errors += [text for _line, text in sorted(self.pending, key=lambda p: p[0])]
            self.pending.clear()

    def entry(self, located: Located, i: int, raw: Any) -> None:
        path: tuple[str | int, ...] = ("sites", i)
        if not isinstance(raw, dict):
            self.error(located, path, f"site #{i + 1}", "an entry must be a mapping of fields")
            return
        name = raw.get("site")
        label = f"site '{name}'" if isinstance(name, str) else f"site #{i + 1}"
        for key in raw:
            if key not in _ENTRY_KEYS:
                known = ", ".join(_ENTRY_KEYS)
                self.error(located, (*path, key), label, f"unknown field {key!r} ({known})")
        if not isinstance(name, str) or not SITE_RE.match(name.strip()):
            self.error(located, (*path, "site"), label, "needs a site name (letters, digits, -_.)")
            name = None
        else:
            name = name.strip()
        cloud = raw.get("cloud")
        if not isinstance(cloud, str) or not CLOUD_RE.match(cloud.strip().upper()):
            self.error(located, (*path, "cloud"), label, "needs a cloud code such as DE or CERN")
            cloud = None
        else:
            cloud = cloud.strip().upper()
            if self.clouds is not None and cloud not in self.clouds:
                known = ", ".join(sorted(self.clouds))
                self.error(located, (*path, "cloud"), label, f"unknown cloud {cloud!r} ({known})")
        lists: dict[str, list[str]] = {}
        for key, regex, what in (
            ("queues", QUEUE_RE, "PanDA queue names"),
            ("rses", RSE_RE, "RSE names (upper case)"),
        ):
            values = _names_list(raw.get(key))
            if values is None:
                self.error(located, (*path, key), label, f"{key} must be a list of names")
                continue
            for j, value in enumerate(values):
                if not regex.match(value):
                    self.error(located, (*path, key, j), label, f"{value!r}: expected {what}")
            lists[key] = values
        if name is not None:
            self.claim(located, (*path, "site"), label, name, name)
            for key, values in lists.items():
                for j, value in enumerate(values):
                    self.claim(located, (*path, key, j), label, name, value)
        if self.pending or name is None or cloud is None:
            return
        self.sites.append(
            Site(
                name=name,
                cloud=cloud,
                queues=tuple(dict.fromkeys(lists.get("queues", []))),
                rses=tuple(dict.fromkeys(lists.get("rses", []))),
                source=located.where(path),
            )
        )


def _validate_sites(located: Located, clouds: Collection[str] | None) -> SiteMap:
    checker = _SitesChecker(clouds)
    checker.document(located)
    if checker.errors:
        raise SitesError(checker.errors)
    if not checker.sites:
        raise SitesError([f"{located.file}:1: no sites found"])
    return SiteMap(tuple(checker.sites), origin=located.file)


def load_sites(path: Path, clouds: Collection[str] | None = None) -> SiteMap:
    """Read and validate ``sites.yaml``; with ``clouds``, every site's cloud must be one of them
    (pass ``Contacts.clouds()`` so that each site has cloud support to escalate to)."""
    try:
        located = parse_file(path)
    except YamlSyntaxError as exc:
        raise SitesError([str(exc)]) from None
    return _validate_sites(located, clouds)


def parse_sites(text: str, name: str = "<text>", clouds: Collection[str] | None = None) -> SiteMap:
    """Validate a site map given as YAML text."""
    try:
        located = parse(text, name)
    except YamlSyntaxError as exc:
        raise SitesError([str(exc)]) from None
    return _validate_sites(located, clouds)


# --- CRIC import -----------------------------------------------------------------------------


def _active(value: Any) -> bool:
    """A CRIC object (or its state string) that is ACTIVE; no state at all counts as active."""
    state = value.get("state") if isinstance(value, Mapping) else value
    return state is None or str(state).upper() == "ACTIVE"


def _endpoint_names(value: Any) -> Iterable[str]:
    """RSE names from a CRIC ``ddmendpoints`` field: ``{name: {state, ...}}`` or a name list."""
    if isinstance(value, Mapping):
        return [str(k) for k, v in value.items() if _active(v)]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def _queue_names(site: Mapping[str, Any]) -> Iterable[str]:
    """PanDA queues of a CRIC site: ``presources`` is ``{panda site: {queue: {state, ...}}}``;
    flat ``pandaqueues`` / ``panda_queues`` lists are read too."""
    found: list[str] = []
    presources = site.get("presources")
    if isinstance(presources, Mapping):
        for queues in presources.values():
            if isinstance(queues, Mapping):
                found += [str(q) for q, v in queues.items() if _active(v)]
    for key in ("pandaqueues", "panda_queues"):
        value = site.get(key)
        if isinstance(value, Mapping):
            found += [str(q) for q, v in value.items() if _active(v)]
        elif isinstance(value, list):
            found += [str(q) for q in value if isinstance(q, str)]
    return found


def _is_queue_dump(data: Mapping[str, Any]) -> bool:
    values = [v for v in data.values() if isinstance(v, Mapping)]
    return bool(values) and all("atlas_site" in v or "panda_resource" in v for v in values)


def _entry(site: str, cloud: str, queues: Iterable[str], rses: Iterable[str]) -> dict[str, Any]:
    return {
        "site": site,
        "cloud": cloud,
        "queues": sorted(set(queues), key=str.casefold),
        "rses": sorted(set(rses)),
    }


def import_cric(json_text: str) -> list[dict[str, Any]]:
    """Site-map entries (``{site, cloud, queues, rses}``, sorted by site) from a CRIC export.

    Reads the site dump or the PanDA queue dump (see the module rules); inactive objects are left
    out. Raises SitesError listing every entry without a usable name or cloud.
    """
    try:
        data = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise SitesError([f"CRIC export:{exc.lineno}: invalid JSON: {exc.msg}"]) from None
    if isinstance(data, list):  # some tools save query/list output as a list of objects
        data = {str(v.get("name", i)): v for i, v in enumerate(data) if isinstance(v, Mapping)}
    if not isinstance(data, Mapping):
        raise SitesError(["CRIC export: expected a JSON object keyed by site or queue name"])
    errors: list[str] = []
    if _is_queue_dump(data):
        by_site: dict[str, dict[str, Any]] = {}
        for queue, attrs in data.items():
            if not _active(attrs):
                continue
            site = attrs.get("atlas_site") or attrs.get("rc_site")
            cloud = attrs.get("cloud")
            if not isinstance(site, str) or not isinstance(cloud, str) or not cloud:
                errors.append(f"CRIC export: queue {queue!r}: missing atlas_site or cloud")
                continue
            entry = by_site.setdefault(site, {"cloud": cloud, "queues": [], "rses": []})
            entry["queues"].append(str(attrs.get("panda_resource") or queue))
            storages = attrs.get("astorages")
            if isinstance(storages, Mapping):
                for names in storages.values():
                    entry["rses"] += _endpoint_names(names)
        entries = [_entry(s, e["cloud"], e["queues"], e["rses"]) for s, e in by_site.items()]
    else:
        entries = []
        for name, attrs in data.items():
            if not isinstance(attrs, Mapping):
                errors.append(f"CRIC export: site {name!r}: expected an object")
                continue
            if not _active(attrs):
                continue
            cloud = attrs.get("cloud")
            if not isinstance(cloud, str) or not cloud:
                errors.append(f"CRIC export: site {name!r}: missing cloud")
                continue
            rses = list(_endpoint_names(attrs.get("ddmendpoints")))
            rses += _endpoint_names(attrs.get("rses"))
            site = str(attrs.get("name") or name)
            entries.append(_entry(site, cloud.upper(), _queue_names(attrs), rses))
    if errors:
        raise SitesError(errors)
    return sorted(entries, key=lambda e: str(e["site"]).casefold())


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as the same string."""
    plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value) is not None
    if plain and yaml.safe_load(value) == value:
        return value
    return json.dumps(value)


def _flow(values: Sequence[str], indent: int) -> list[str]:
    """A YAML flow list starting at column ``indent``, wrapped at 100 columns; continuation
    lines carry their own indentation."""
    if not values:
        return ["[]"]
    pieces = [_scalar(v) + ("]" if i == len(values) - 1 else ",") for i, v in enumerate(values)]
    groups: list[list[str]] = [[]]
    column = indent + 1
    for piece in pieces:
        need = len(piece) + (1 if groups[-1] else 0)
        if groups[-1] and column + need > 100:
            groups.append([])
            column, need = indent + 1, len(piece)
        groups[-1].append(piece)
        column += need
    lines = [" ".join(group) for group in groups]
    return ["[" + lines[0]] + [" " * (indent + 1) + line for line in lines[1:]]


def sites_yaml(entries: Iterable[Mapping[str, Any]], header: str | None = None) -> str:
    """The text of a sites.yaml for ``entries`` (``{site, cloud, queues, rses}``), grouped by
    cloud and sorted by site; ``parse_sites`` reads it back to the same map."""
    rows = sorted(entries, key=lambda e: (str(e["cloud"]).upper(), str(e["site"]).casefold()))
    out = [
        "# " + line if line else "#"
        for line in (
            header
            or "dastbot site map: ATLAS sites with their cloud, PanDA queues and RSEs.\n"
            "NOT a knowledge-base file: read by dastbot.sites.load_sites."
        ).splitlines()
    ]
    out.append("")
    out.append("sites:")
    previous = ""
    for entry in rows:
        cloud = str(entry["cloud"]).upper()
        if cloud != previous:
            previous = cloud
            out.append(f"  # --- {cloud} " + "-" * max(3, 88 - len(cloud)))
        out.append(f"  - site: {_scalar(str(entry['site']))}")
        out.append(f"    cloud: {_scalar(cloud)}")
        for key in ("queues", "rses"):
            values = [str(v) for v in entry.get(key) or []]
            flow = _flow(values, len(f"    {key}: "))
            out.append(f"    {key}: {flow[0]}")
            out += flow[1:]
    return "\n".join(out) + "\n"
