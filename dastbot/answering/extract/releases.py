"""Athena releases: ``asetup`` arguments, ``Project,version`` and ``release 24.0.12``."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dastbot.answering.extract.base import ASCII, Cand, cand

# Releases (low).
_PROJECTS = {
    p.lower(): p
    for p in (
        "AthAnalysis",
        "AthAnalysisBase",
        "AthDerivation",
        "AthGeneration",
        "AthSimulation",
        "AthDataQuality",
        "Athena",
        "AthenaP1",
        "AnalysisBase",
        "AnalysisTop",
        "AtlasOffline",
        "AtlasProduction",
        "AtlasDerivation",
        "AtlasPhysics",
        "StatAnalysis",
        "DetCommon",
    )
}


def _project_patterns() -> tuple[re.Pattern[str], ...]:
    """One pattern per family of project names sharing a literal prefix (``ath``, ``atlas``...)."""
    families: dict[str, list[str]] = {}
    for name in _PROJECTS:
        families.setdefault(name[:3], []).append(name)
    patterns = []
    for names in families.values():
        size = min(map(len, names))
        while any(n[:size] != names[0][:size] for n in names):
            size -= 1
        common = re.escape(names[0][:size])
        rests = "|".join(re.escape(n[size:]) for n in sorted(names, key=len, reverse=True))
        patterns.append(
            re.compile(
                rf"(?P<project>{common}(?<![\w.-]{common})(?:{rests}))"
                r"[ \t]{0,2}(?P<sep>[,/ -])[ \t]{0,2}"
                r"(?P<version>[\w.-]{1,40})(?:,(?P<nightly>[\w-]{1,40}))?",
                ASCII,
            )
        )
    return tuple(patterns)


_PROJECT_RES = _project_patterns()
_RELEASE_NUM_RE = re.compile(r"[0-9]{2}\.[0-9]{1,2}(?:\.[0-9]{1,3}){1,2}", ASCII)
_BRANCH_RE = re.compile(r"main|master|[0-9]{2}\.[0-9]{1,2}|[\w.]+--[\w.-]+", ASCII | re.IGNORECASE)
_NIGHTLY_RE = re.compile(r"latest|r[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{4}", ASCII | re.IGNORECASE)
_ASETUP_RE = re.compile(r"asetup(?<![\w.-]asetup)[ \t]{1,4}(?P<args>[\w.,+-]{1,200})", ASCII)
_RELEASE_CUE_RE = re.compile(
    r"rel(?<![\w]rel)(?:ease)?\.?[ \t:=]{1,3}"
    r"(?P<version>[0-9]{2}\.[0-9]{1,2}(?:\.[0-9]{1,3}){1,2})(?![\w]|\.[0-9])",
    ASCII,
)


def release_cands(text: str, low: str) -> Iterator[Cand]:
    for m in _ASETUP_RE.finditer(low):
        args = text[m.start("args") : m.end("args")].rstrip(",.")
        value = _release_from_parts([p for p in args.split(",") if p])
        if value:
            yield cand("release", m.start("args"), m.start("args") + len(args), value)
    for regex in _PROJECT_RES:
        at = 0
        while (found := regex.search(low, at)) is not None:
            m = found
            version = text[m.start("version") : m.end("version")].rstrip(".")
            numeric = _RELEASE_NUM_RE.fullmatch(version) is not None
            if not numeric and not (m.group("sep") == "," and _BRANCH_RE.fullmatch(version)):
                # not a release: what it took as the version may be the next project's name
                at = m.end("project")
                continue
            at = m.end()
            end = m.start("version") + len(version)
            value = f"{_PROJECTS[m.group('project')]},{version}"
            nightly = m.group("nightly")
            if nightly and end == m.end("version") and _NIGHTLY_RE.fullmatch(nightly):
                end = m.end("nightly")
                value += "," + text[m.start("nightly") : end]
            yield cand("release", m.start(), end, value)
    for m in _RELEASE_CUE_RE.finditer(low):
        yield cand("release", m.start("version"), m.end("version"), m.group("version"))


def _release_from_parts(parts: list[str]) -> str | None:
    """Normalise an asetup argument (``AthAnalysis,24.2.35,here``) to ``Project,version``."""
    project = next((_PROJECTS[p.lower()] for p in parts if p.lower() in _PROJECTS), None)
    number = next((p for p in parts if _RELEASE_NUM_RE.fullmatch(p)), None)
    branch = number or next((p for p in parts if _BRANCH_RE.fullmatch(p)), None)
    nightly = next((p for p in parts if _NIGHTLY_RE.fullmatch(p)), None)
    if project and branch:
        return ",".join(p for p in (project, branch, nightly) if p)
    return number
