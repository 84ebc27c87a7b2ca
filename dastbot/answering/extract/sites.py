"""PanDA sites and queues and Rucio storage elements (RSEs) named in chat text."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dastbot.answering.extract.base import ASCII, Cand, cand

_MAX_TOKEN = 120  # longer all-caps tokens are not site, queue or RSE names


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# RSEs, sites and queues (original text, except the cue words).
_UPPER_TOKEN_RE = re.compile(r"[A-Z](?<![\w.-][A-Z])[A-Z0-9]*[-_][\w-]*", ASCII)
_UPPER_FULL_RE = re.compile(r"[A-Z][A-Z0-9_-]*", ASCII)
_RSE_TAIL_RE = re.compile(
    r"[A-Z]*(?:DISK|TAPE)|(?:PHYS|PERF|DET|TRIG|SOFT|CALIB)-[A-Z0-9-]+", ASCII
)
_TIER_PART_RE = re.compile(r"[A-Z]{0,5}T[0-3]", ASCII)
_SEP_RE = re.compile(r"[-_]+")
_SITE_PREFIXES = _words(
    "ANALY UKI INFN IN2P3 GRIF BNL DESY NDGF RAL IFIC FZK TOKYO TRIUMF TAIWAN BEIJING SARA"
    " NIKHEF LRZ CSCS UNIBE JINR RRC IFAE WEIZMANN TECHNION CYFRONET PSNC IEPSAS FMPHI HEPHY NCG"
    " UAM SLAC NERSC"
)
_SITE_MARKER_PARTS = frozenset({"LCG2", "PROD", "HEP", "LHEP"})
_NOT_SITE_PREFIXES = _words(
    "AOD DAOD ESD RDO HITS EVNT NTUP HIST TXT LOG X509 LD HLT L1 ATLAS PANDA RUCIO JEDI VOMS CVMFS"
    " ERROR FATAL WARNING INFO DEBUG HTTP HTTPS SSL PYTHON ROOT ALRB PATH HOME TMP"
)
SITE_STOPWORDS = _NOT_SITE_PREFIXES | _words(
    "AMI OK GRID URL API CPU GPU RAM TLS DNS EOS DDM RSE DID JSON XML YAML TODO NOTE FAQ AFS WLCG"
    " LCG OSG EGI ARC HTCONDOR CONDOR SLURM ALL ANY NONE NULL TRUE FALSE YES NO THE AND FOR NOT"
    " DAOD_PHYS DAOD_PHYSLITE FAILED FINISHED RUNNING DONE BROKEN CRITICAL ASAP FYI PFA"
)
_KNOWN_UPPER_SITES = _words("CERN-P1 OU_OSCER_ATLAS UNI-FREIBURG ZA-WITS-CORE MWT2 AGLT2 NET2 SWT2")
_KNOWN_SITES = (  # spelled exactly so; the all-caps ones with a separator are classified
    "wuppertalprod",
    "GoeGrid",
    "SiGNET",
    "Australia-ATLAS",
    "LIP-Lisbon",
    "BU_ATLAS_Tier2",
    "MWT2",
    "AGLT2",
    "NET2",
    "SWT2",
)
_QUEUE_SUFFIX = r"(?:_[A-Za-z0-9][\w-]{0,60})?(?![\w-])"
_KNOWN_SITE_RES = tuple(
    (name, re.compile(re.escape(name) + rf"(?<![\w.-]{re.escape(name)})" + _QUEUE_SUFFIX, ASCII))
    for name in _KNOWN_SITES
)
_LCG2_SITE_RE = re.compile(r"(?<![\w.-])[a-z][a-z0-9-]{0,30}lcg2" + _QUEUE_SUFFIX, ASCII)  # low
_SITE_CUE_TAIL = (
    r"s?(?:[ \t]{0,3}[:=][ \t]{0,3}|[ \t]{1,3}(?:(?:is|was|name|named|called)[ \t:]{1,3})?)"
    r"[\"'`(]?(?P<site>[a-z][\w-]{1,80})"
)
_SITE_CUE_RES = (
    re.compile(
        r"site(?:(?<![\w]site)|(?<=computingsite)|(?<=computing[ _-]site))" + _SITE_CUE_TAIL, ASCII
    ),
    re.compile(
        r"queue(?:(?<![\w]queue)|(?<=pandaqueue)|(?<=panda[ _-]queue))" + _SITE_CUE_TAIL, ASCII
    ),
)


def site_cands(text: str, low: str) -> Iterator[Cand]:
    for m in _UPPER_TOKEN_RE.finditer(text):
        token = m.group().rstrip("-_")
        kind = _classify_upper(token) if len(token) <= _MAX_TOKEN else None
        if kind is not None:
            yield cand(kind, m.start(), m.start() + len(token), token)
    has_t2 = "T2" in text
    for name, regex in _KNOWN_SITE_RES:
        if has_t2 if name.endswith("T2") else name in text:
            for m in regex.finditer(text):
                yield cand("site", m.start(), m.end(), m.group())
    if "lcg2" in low:
        for m in _LCG2_SITE_RE.finditer(low):
            token = text[m.start() : m.end()]
            if _classify_upper(token) != "rse":
                yield cand("site", m.start(), m.end(), token)
    for regex in _SITE_CUE_RES:
        for m in regex.finditer(low):
            token = text[m.start("site") : m.end("site")].rstrip("-_")
            if _plausible_cued_site(token):
                kind = _classify_upper(token) or "site"
                yield cand(kind, m.start("site"), m.start("site") + len(token), token)


def _classify_upper(token: str) -> str | None:
    """``rse``, ``site`` or None for an all-caps token such as ``CERN-PROD_SCRATCHDISK``."""
    if not _UPPER_FULL_RE.fullmatch(token) or token in SITE_STOPWORDS:
        return None
    head, sep, tail = token.rpartition("_")
    if sep and head.strip("-_") and _RSE_TAIL_RE.fullmatch(tail):
        return "rse"
    if token in _KNOWN_UPPER_SITES or token.partition("_")[0] in _KNOWN_UPPER_SITES:
        return "site"
    parts = [p for p in _SEP_RE.split(token) if p]
    if len(parts) < 2 or parts[0] in _NOT_SITE_PREFIXES:
        return None
    if (
        parts[0] in _SITE_PREFIXES
        or any(_TIER_PART_RE.fullmatch(p) for p in parts)
        or any(p in _SITE_MARKER_PARTS for p in parts[1:])
    ):
        return "site"
    return None


def _plausible_cued_site(token: str) -> bool:
    """After "site"/"queue": accept ``praguelcg2`` or ``BNL``, not ``down`` or ``ERROR``."""
    if len(token) < 3 or token.upper() in SITE_STOPWORDS:
        return False
    if _SEP_RE.split(token)[0].upper() in _NOT_SITE_PREFIXES:
        return False
    return any(c.isdigit() for c in token) or token.isupper()
