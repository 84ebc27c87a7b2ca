"""The knowledge base: load knowledge/*.yaml (or one YAML list) and validate it as a whole.

Validation collects every problem before failing: unique ids, required fields, known categories
and escalation targets, non-empty patterns; each error names the file, the line and the entry id.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse, parse_file

CATEGORIES = (
    "panda",
    "rucio",
    "grid-auth",
    "athena",
    "conditions",
    "site",
    "monitoring",
    "ami",
    "containers",
    "other",
)
ESCALATION_TARGETS = (
    "none",
    "cloud-support",
    "site-support",
    "panda-experts",
    "rucio-experts",
    "ami-team",
)
FACTS = ("task_id", "job_id", "error", "dataset", "site", "release", "log")
REQUIRED = ("id", "title", "category", "patterns", "answer", "escalate_to")
OPTIONAL = ("links", "ask_for", "tags")
# Files in a knowledge folder that hold other data (escalation contacts, the site map).
RESERVED_FILES = frozenset({"contacts.yaml", "sites.yaml"})
ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")


class KnowledgeError(Exception):
    """Every problem found in a knowledge base, each as ``file:line: entry 'id': message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    category: str
    patterns: tuple[str, ...]
    answer: str
    escalate_to: str
    links: tuple[Link, ...] = ()
    ask_for: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    origin: str = ""
    _by_id: dict[str, Entry] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({e.id: e for e in self.entries})

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p
            for p in path.iterdir()
            if p.suffix in (".yaml", ".yml") and p.is_file() and p.name not in RESERVED_FILES
        )
    return [path]


def _text_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    return None


class _Checker:
    def __init__(self, targets: Collection[str]) -> None:
        self.targets = targets
        self.errors: list[str] = []
        self.entries: list[Entry] = []
        self.seen: dict[str, str] = {}

    def error(self, located: Located, path: tuple[str | int, ...], entry: str, msg: str) -> None:
        label = f"entry '{entry}'" if entry else f"entry #{int(path[0]) + 1}"
        self.errors.append(f"{located.where(path)}: {label}: {msg}")

    def document(self, located: Located) -> None:
        data = located.data
        if data is None:
            return
        if isinstance(data, dict) and "entries" in data:
            data = data["entries"]
            located = Located(
                data,
                located.file,
                {k[1:]: v for k, v in located.lines.items() if k[:1] == ("entries",)},
            )
        if not isinstance(data, list):
            self.errors.append(f"{located.file}:1: expected a list of entries")
            return
        for i, raw in enumerate(data):
            self.entry(located, i, raw)

    def entry(self, located: Located, i: int, raw: Any) -> None:
        if not isinstance(raw, dict):
            self.error(located, (i,), "", "an entry must be a mapping of fields")
            return
        entry_id = raw.get("id")
        name = entry_id if isinstance(entry_id, str) else ""
        before = len(self.errors)
        for key in REQUIRED:
            if key not in raw or raw[key] is None or raw[key] == "":
                self.error(located, (i,), name, f"missing required field '{key}'")
        for key in raw:
            if key not in REQUIRED and key not in OPTIONAL:
                self.error(located, (i, key), name, f"unknown field '{key}'")
        if "id" in raw and raw["id"] is not None:
            if not isinstance(entry_id, str) or not ID_RE.match(entry_id):
                self.error(located, (i, "id"), name, "id must be lowercase kebab-case")
            elif entry_id in self.seen:
                where = self.seen[entry_id]
                self.error(located, (i, "id"), name, f"duplicate id (first defined at {where})")
            else:
                self.seen[entry_id] = located.where((i, "id"))
        for key in ("title", "answer"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                self.error(located, (i, key), name, f"'{key}' must be text")
        category = raw.get("category")
        if category is not None and category not in CATEGORIES:
            known = ", ".join(CATEGORIES)
            self.error(located, (i, "category"), name, f"unknown category {category!r} ({known})")
        target = raw.get("escalate_to")
        if target is not None and target not in self.targets:
            known = ", ".join(sorted(self.targets))
            msg = f"unknown escalation target {target!r} ({known})"
            self.error(located, (i, "escalate_to"), name, msg)
        patterns = _text_list(raw.get("patterns")) if "patterns" in raw else []
        if "patterns" in raw and raw["patterns"] is not None:
            if patterns is None:
                self.error(located, (i, "patterns"), name, "patterns must be a list of text")
            elif not [p for p in patterns if p.strip()]:
                self.error(located, (i, "patterns"), name, "patterns must not be empty")
        ask_for = _text_list(raw.get("ask_for", [])) or []
        for fact in ask_for:
            if fact not in FACTS:
                msg = f"unknown fact {fact!r} in ask_for ({', '.join(FACTS)})"
                self.error(located, (i, "ask_for"), name, msg)
        links = self.links(located, i, name, raw.get("links", []))
        tags = _text_list(raw.get("tags", [])) or []
        if len(self.errors) > before:
            return
        self.entries.append(
            Entry(
                id=str(entry_id),
                title=str(raw["title"]).strip(),
                category=str(category),
                patterns=tuple(p.strip() for p in patterns or [] if p.strip()),
                answer=str(raw["answer"]).strip(),
                escalate_to=str(target),
                links=links,
                ask_for=tuple(ask_for),
                tags=tuple(tags),
                source=located.where((i,)),
            )
        )

    def links(self, located: Located, i: int, name: str, raw: Any) -> tuple[Link, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error(located, (i, "links"), name, "links must be a list of {title, url}")
            return ()
        out: list[Link] = []
        for j, link in enumerate(raw):
            if isinstance(link, str) and link.startswith(("http://", "https://")):
                out.append(Link(title=link, url=link))
            elif (
                isinstance(link, dict)
                and isinstance(link.get("url"), str)
                and link["url"].startswith(("http://", "https://"))
            ):
                out.append(Link(title=str(link.get("title") or link["url"]), url=link["url"]))
            else:
                self.error(located, (i, "links", j), name, "a link needs an http(s) url")
        return tuple(out)


def validate(
    documents: Iterable[Located], targets: Collection[str] = ESCALATION_TARGETS
) -> KnowledgeBase:
    checker = _Checker(targets)
    origin: list[str] = []
    for located in documents:
        origin.append(located.file)
        checker.document(located)
    if checker.errors:
        raise KnowledgeError(checker.errors)
    if not checker.entries:
        raise KnowledgeError([f"{', '.join(origin) or 'knowledge'}: no entries found"])
    return KnowledgeBase(tuple(checker.entries), origin=", ".join(origin))


def load_knowledge(path: Path, targets: Collection[str] = ESCALATION_TARGETS) -> KnowledgeBase:
    """Load a folder of YAML files or one YAML file; raise KnowledgeError listing every problem."""
    if not path.exists():
        raise KnowledgeError([f"{path}: no such file or folder"])
    files = _files(path)
    if not files:
        raise KnowledgeError([f"{path}: no .yaml files in this folder"])
    documents: list[Located] = []
    errors: list[str] = []
    for file in files:
        try:
            documents.append(parse_file(file))
        except YamlSyntaxError as exc:
            errors.append(str(exc))
    try:
        kb = validate(documents, targets)
    except KnowledgeError as exc:
        raise KnowledgeError(errors + exc.errors) from None
    if errors:
        raise KnowledgeError(errors)
    return kb


def load_text(text: str, name: str = "<text>") -> KnowledgeBase:
    """Validate a knowledge base given as YAML text (for tests and chat-side reloads)."""
    try:
        return validate([parse(text, name)])
    except YamlSyntaxError as exc:
        raise KnowledgeError([str(exc)]) from None
