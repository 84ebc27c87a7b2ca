"""Rucio data identifiers: ``scope:name`` and the bare ``user.``, ``group.``, ``data..``,
``mc..`` and ``valid`` names."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dastbot.answering.extract.base import ASCII, Cand, cand

# Rucio DIDs (original text). A scope is looked for just before a name.
_DID_TAIL = r"(?P<rest>[\w.-]{0,250})(?P<slash>/(?!\w))?"
_DID_RES = tuple(
    re.compile(head + _DID_TAIL, ASCII)
    for head in (
        r"user\.(?<![\w.@-]user\.)[\w-]{1,64}\.",
        r"group\.(?<![\w.@-]group\.)[\w-]{1,64}\.",
        r"data(?<![\w.@-]data)[0-9]{2}_[A-Za-z0-9]{1,32}\.",
        r"mc(?<![\w.@-]mc)[0-9]{2}_[A-Za-z0-9]{1,32}\.",
        r"valid(?<![\w.@-]valid)[0-9]{0,3}\.[\w-]{1,64}\.",
    )
)
_SCOPE_BEFORE_RE = re.compile(r"(?<![\w.:/@-])[A-Za-z][\w.-]{0,63}\Z", ASCII)
_KNOWN_SCOPE_RE = re.compile(
    r"(?:user|group)\.[\w-]+|(?:data|mc)[0-9]{2}_[A-Za-z0-9]+|valid[0-9]*|panda|tests?|hc_test",
    ASCII,
)


def did_cands(text: str) -> Iterator[Cand]:
    for regex in _DID_RES:
        for m in regex.finditer(text):
            rest = m.group("rest").rstrip(".")
            if not rest:
                continue
            start, name = m.start(), text[m.start() : m.start("rest")] + rest
            end = start + len(name)
            if m.group("slash") and len(rest) == len(m.group("rest")):
                end += 1
            if start > 1 and text[start - 1] == ":":
                sm = _SCOPE_BEFORE_RE.search(text, max(0, start - 65), start - 1)
                if sm is not None:
                    scope = sm.group()
                    if _KNOWN_SCOPE_RE.fullmatch(scope) or name.startswith(scope + "."):
                        start, name = sm.start(), f"{scope}:{name}"
            yield cand("did", start, end, name)


def add_did(dids: list[str], slot: dict[str, int], did: str) -> None:
    """Deduplicate DIDs by name; a later ``scope:name`` upgrades an earlier bare name."""
    name = did.split(":", 1)[1] if ":" in did else did
    if name not in slot:
        slot[name] = len(dids)
        dids.append(did)
    elif ":" in did and ":" not in dids[slot[name]]:
        dids[slot[name]] = did


def scope_and_name(did: str) -> tuple[str, str]:
    if ":" in did:
        scope, name = did.split(":", 1)
    else:
        name = did
        parts = name.split(".")
        two = parts[0] in ("user", "group") and len(parts) > 2
        scope = ".".join(parts[:2]) if two else parts[0]
    return scope, name.rstrip("/")
