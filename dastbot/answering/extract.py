"""Identifier extraction from user messages: the one place that knows what ATLAS ids look like.

Users paste error lines, BigPanda links, dataset names and half-sentences. This module owns
recognising, in free chat text:

* PanDA jediTaskIDs and PandaIDs (bare with a cue word, or inside BigPanda URLs),
* Rucio DIDs (``scope:name`` and bare ``user.``/``group.``/``data..``/``mc..``/``valid`` names),
* RSE names, PanDA sites and queues, Athena releases,
* pilot / payload error codes and pasted error lines, and URLs,

plus the helpers built directly on that: masking identifiers out of text (before fuzzy
matching), deciding which facts a help request still lacks and phrasing the one sentence that
asks for them, and building BigPanda / Rucio links for what was found.

Everything here is pure (no I/O, no state). The work is linear in the size of the message:
regexes are compiled once at import, have no nested unbounded quantifiers, and almost all of
them start with a literal (searched on a lower-cased copy of the text) so the regex engine can
skip ahead quickly; 64 KB of pasted log takes a few milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "ERROR_CODE_KINDS",
    "FACTS",
    "KINDS",
    "MAX_ERROR_LINES",
    "MAX_ERROR_LINE_CHARS",
    "Identifiers",
    "Span",
    "ask_sentence",
    "extract",
    "identifier_links",
    "mask",
    "missing_facts",
    "spans",
]

KINDS = ("url", "task_id", "job_id", "did", "rse", "site", "release", "error_code")
"""Span kinds, in order of precedence when two candidate spans overlap."""

FACTS = ("task_id", "job_id", "error", "dataset", "site", "release", "log")
"""Facts a shifter may need, as understood by :func:`missing_facts` and :func:`ask_sentence`."""

ERROR_CODE_KINDS = (
    "pilot",
    "exe",
    "trans",
    "ddm",
    "sup",
    "taskbuffer",
    "jobdispatcher",
    "brokerage",
    "other",
)
"""First element of the ``Identifiers.error_codes`` pairs; ``other`` is a bare "error code N"
that is not in the pilot range (1000-1399)."""

MAX_ERROR_LINES = 20
MAX_ERROR_LINE_CHARS = 300
_MAX_HINTED_LINES = 3000  # lines examined for errors: bounds the work on pathological pastes
_MAX_TOKEN = 120  # longer all-caps tokens are not site, queue or RSE names


@dataclass(frozen=True)
class Span:
    """One recognised identifier at ``text[start:end]``, with its kind and normalised value.

    The value may differ from the matched text: DIDs lose a trailing ``/``, releases read
    ``Project,version``, error codes read ``kind:code`` (e.g. ``pilot:1099``).
    """

    start: int
    end: int
    kind: str
    value: str


@dataclass(frozen=True)
class Identifiers:
    """Everything found in a message, deduplicated and in order of first appearance."""

    task_ids: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()
    dids: tuple[str, ...] = ()
    rses: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    error_codes: tuple[tuple[str, str], ...] = ()
    error_lines: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing at all was found."""
        return not (
            self.task_ids
            or self.job_ids
            or self.dids
            or self.rses
            or self.sites
            or self.releases
            or self.error_codes
            or self.error_lines
            or self.urls
        )


# --------------------------------------------------------------------------------------------
# Patterns
#
# Conventions. Patterns marked "low" run on the lower-cased text (same length, same offsets);
# values are then read from the original text. A pattern that must not start inside a word is
# written ``lit(?<!X lit)``: the look-behind comes after the literal so that the engine still
# uses its fast literal search. A number never continues into a word character or into
# ``[.:/-]digit``, so dates, times, versions and decimals are not ids. Every run of optional
# separators is bounded, and no unbounded quantifier is nested in another.

_A = re.ASCII


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}
_NUM_END = r"(?![\w]|[.:/-][0-9])"
_CUE_FILLER = r"[ \t:=#(\[]{0,4}(?:(?:is|was|number|num|nr|no)\.?[ \t:=#]{1,3})?"  # low

# URLs (low), and what is inside them (original text; URLs are short).
_URL_RES = (
    re.compile(r"https?://[^\s<>\"'`]{1,4000}", _A),
    re.compile(r"bigpanda(?<![\w./@-]bigpanda)\.cern\.ch/[^\s<>\"'`]{0,4000}", _A),
)
_URL_TRAILING = ".,;:!?*~|'\""
_URL_CLOSERS = {")": "(", "]": "[", "}": "{"}
_HOST_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/?#\s]*)", _A)
_PANDA_PATH_RE = re.compile(
    r"/(?P<kind>jedi[_-]?task|task(?:new|info|profileplot)?|job(?:new|info)?)"
    r"/(?P<id>[0-9]{5,12})(?=[/?#&]|$)",
    _A | re.IGNORECASE,
)
_QUERY_RE = re.compile(r"[?&;](?P<key>[A-Za-z_]{1,40})=(?P<value>[^&#;]{0,300})", _A)
_DIGITS_RE = re.compile(r"(?<![0-9])[0-9]+(?![0-9])", _A)
_QUERY_SITE_RE = re.compile(r"[A-Za-z][\w-]{1,80}", _A)
_LOG_URL_RE = re.compile(
    r"\blogs?\b|log[._]|[._]log|logfile|stdout|stderr|filebrowser|paste|gist\.|cernbox"
    r"|\.txt\b|\.out\b|\.err\b|tarball",
    _A | re.IGNORECASE,
)
_TASK_QUERY_KEYS = frozenset({"jeditaskid", "taskid", "jedi_task_id", "task_id"})
_JOB_QUERY_KEYS = frozenset({"pandaid", "panda_id"})
_SITE_QUERY_KEYS = frozenset({"computingsite", "site", "queue", "pandaqueue", "panda_queue"})
_CODE_QUERY_KEYS = {
    "piloterrorcode": "pilot",
    "exeerrorcode": "exe",
    "transexitcode": "trans",
    "ddmerrorcode": "ddm",
    "superrorcode": "sup",
    "taskbuffererrorcode": "taskbuffer",
    "jobdispatchererrorcode": "jobdispatcher",
    "brokerageerrorcode": "brokerage",
}

# Task and job ids after a cue word (low).
_ID_CUE_RES = (
    (
        re.compile(
            r"task(?:(?<![\w]task)|(?<=jeditask)|(?<=jedi[ _-]task))s?(?:[ _-]?ids?)?"
            + _CUE_FILLER
            + r"([0-9]{7,9})"
            + _NUM_END,
            _A,
        ),
        "task_id",
        7,
        9,
    ),
    (
        re.compile(
            r"job(?:(?<![\w]job)|(?<=pandajob))s?(?:[ _-]?ids?)?"
            + _CUE_FILLER
            + r"([0-9]{10,11})"
            + _NUM_END,
            _A,
        ),
        "job_id",
        10,
        11,
    ),
    (
        re.compile(
            r"panda(?<![\w]panda)[ _-]?ids?" + _CUE_FILLER + r"([0-9]{10,11})" + _NUM_END, _A
        ),
        "job_id",
        10,
        11,
    ),
)
_LIST_NEXT_RE = re.compile(
    r"[ \t]{0,3}(?:,|/|&|\+|and\b|or\b)?[ \t]{0,3}([0-9]{1,12})" + _NUM_END, _A
)  # low
_MAX_LIST = 50

# Error codes (low).
_CODE_WORDS = {
    "pilot": "pilot",
    "exe": "exe",
    "trans": "trans",
    "trf": "trans",
    "transform": "trans",
    "transformation": "trans",
    "athena": "trans",
    "ddm": "ddm",
    "sup": "sup",
    "taskbuffer": "taskbuffer",
    "jobdispatcher": "jobdispatcher",
    "brokerage": "brokerage",
}
_CODE_WORD_ALT = "|".join(sorted(_CODE_WORDS, key=len, reverse=True))
_CODE_TAIL = (
    r"[ \t]{0,3}[:=#]?[ \t]{0,3}(?:(?:is|was|of)[ \t]{1,3})?(?P<code>[0-9]{1,5})" + _NUM_END
)
_CODE_RES = tuple(
    re.compile(
        word + r"(?P<pl1>s?)[ \t_-]{0,2}(?:(?P<cw>code)(?P<pl2>s?)|status)?" + _CODE_TAIL, _A
    )
    for word in ("error", "exit")
)
_CODE_KIND_BEFORE_RE = re.compile(rf"(?<![a-z0-9])({_CODE_WORD_ALT})[ \t_-]{{0,2}}\Z", _A)
_CODE_CONTEXT_RE = re.compile(rf"(?<![a-z0-9])({_CODE_WORD_ALT})", _A)
_CODE_PAIR_RE = re.compile(r":(?<=[a-z]:)[ \t]?(?P<code>[0-9]{1,5})" + _NUM_END, _A)
_CODE_PAIR_KIND_RE = re.compile(
    r"(?<![a-z0-9])(pilot|exe|trans|ddm|sup|taskbuffer|jobdispatcher|brokerage)\Z", _A
)

# Rucio DIDs (original text). A scope is looked for just before a name.
_DID_TAIL = r"(?P<rest>[\w.-]{0,250})(?P<slash>/(?!\w))?"
_DID_RES = tuple(
    re.compile(head + _DID_TAIL, _A)
    for head in (
        r"user\.(?<![\w.@-]user\.)[\w-]{1,64}\.",
        r"group\.(?<![\w.@-]group\.)[\w-]{1,64}\.",
        r"data(?<![\w.@-]data)[0-9]{2}_[A-Za-z0-9]{1,32}\.",
        r"mc(?<![\w.@-]mc)[0-9]{2}_[A-Za-z0-9]{1,32}\.",
        r"valid(?<![\w.@-]valid)[0-9]{0,3}\.[\w-]{1,64}\.",
    )
)
_SCOPE_BEFORE_RE = re.compile(r"(?<![\w.:/@-])[A-Za-z][\w.-]{0,63}\Z", _A)
_KNOWN_SCOPE_RE = re.compile(
    r"(?:user|group)\.[\w-]+|(?:data|mc)[0-9]{2}_[A-Za-z0-9]+|valid[0-9]*|panda|tests?|hc_test",
    _A,
)

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
                _A,
            )
        )
    return tuple(patterns)


_PROJECT_RES = _project_patterns()
_RELEASE_NUM_RE = re.compile(r"[0-9]{2}\.[0-9]{1,2}(?:\.[0-9]{1,3}){1,2}", _A)
_BRANCH_RE = re.compile(r"main|master|[0-9]{2}\.[0-9]{1,2}|[\w.]+--[\w.-]+", _A | re.IGNORECASE)
_NIGHTLY_RE = re.compile(r"latest|r[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{4}", _A | re.IGNORECASE)
_ASETUP_RE = re.compile(r"asetup(?<![\w.-]asetup)[ \t]{1,4}(?P<args>[\w.,+-]{1,200})", _A)
_RELEASE_CUE_RE = re.compile(
    r"rel(?<![\w]rel)(?:ease)?\.?[ \t:=]{1,3}"
    r"(?P<version>[0-9]{2}\.[0-9]{1,2}(?:\.[0-9]{1,3}){1,2})(?![\w]|\.[0-9])",
    _A,
)

# RSEs, sites and queues (original text, except the cue words).
_UPPER_TOKEN_RE = re.compile(r"[A-Z](?<![\w.-][A-Z])[A-Z0-9]*[-_][\w-]*", _A)
_UPPER_FULL_RE = re.compile(r"[A-Z][A-Z0-9_-]*", _A)
_RSE_TAIL_RE = re.compile(r"[A-Z]*(?:DISK|TAPE)|(?:PHYS|PERF|DET|TRIG|SOFT|CALIB)-[A-Z0-9-]+", _A)
_TIER_PART_RE = re.compile(r"[A-Z]{0,5}T[0-3]", _A)
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
_SITE_STOPWORDS = _NOT_SITE_PREFIXES | _words(
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
    (name, re.compile(re.escape(name) + rf"(?<![\w.-]{re.escape(name)})" + _QUEUE_SUFFIX, _A))
    for name in _KNOWN_SITES
)
_LCG2_SITE_RE = re.compile(r"(?<![\w.-])[a-z][a-z0-9-]{0,30}lcg2" + _QUEUE_SUFFIX, _A)  # low
_SITE_CUE_TAIL = (
    r"s?(?:[ \t]{0,3}[:=][ \t]{0,3}|[ \t]{1,3}(?:(?:is|was|name|named|called)[ \t:]{1,3})?)"
    r"[\"'`(]?(?P<site>[a-z][\w-]{1,80})"
)
_SITE_CUE_RES = (
    re.compile(
        r"site(?:(?<![\w]site)|(?<=computingsite)|(?<=computing[ _-]site))" + _SITE_CUE_TAIL, _A
    ),
    re.compile(
        r"queue(?:(?<![\w]queue)|(?<=pandaqueue)|(?<=panda[ _-]queue))" + _SITE_CUE_TAIL, _A
    ),
)

# Error lines. A cheap literal pass over the lower-cased text finds lines that may be errors
# (_ERROR_HINT_RE); only those lines are classified by the precise patterns below. Every
# alternative of the precise patterns contains one of the hint words (tests check this).
_RUCIO_EXCEPTIONS = (
    "DataIdentifierNotFound",
    "DataIdentifierAlreadyExists",
    "RSEWriteBlocked",
    "RSEBlacklisted",
    "RSENotFound",
    "RSEOverQuota",
    "RSEProtocolNotSupported",
    "RSEOperationNotSupported",
    "AccessDenied",
    "CannotAuthenticate",
    "CannotAuthorize",
    "DuplicateRule",
    "DuplicateContent",
    "RuleNotFound",
    "RuleReplaceFailed",
    "ReplicaNotFound",
    "SourceNotFound",
    "ScopeNotFound",
    "AccountNotFound",
    "InsufficientAccountLimit",
    "InsufficientTargetRSEs",
    "InvalidRSEExpression",
    "InvalidObject",
    "InvalidPath",
    "FileAlreadyExists",
    "FileReplicaAlreadyExists",
    "NoFilesDownloaded",
    "NotAllFilesDownloaded",
    "NoFilesUploaded",
    "NotAllFilesUploaded",
    "ServiceUnavailable",
    "UnsupportedOperation",
    "StagingAreaRuleRequiresLifetime",
)
_ERROR_HINT_WORDS = (
    "error",
    "fatal",
    "critical",
    "fail",
    "abort",
    "exception",
    "traceback",
    "segmentation",
    "dumped",
    "bad_alloc",
    "such",
    "denied",
    "voms",
    "proxy",
    "found",
    "timeout",
    "timed",
    "time out",
    "time-out",
    "killed",
    "exceeded",
    "crash",
    "expired",
    "cannot",
    "could",
    "unable",
    "invalid",
    "refused",
    "unreachable",
    "insufficient",
    "exhausted",
    "exit",
    "blocked",
    "blacklisted",
    "overquota",
    "notsupported",
    "duplicate",
    "alreadyexists",
    "nofiles",
    "notallfiles",
    "unavailable",
    "unsupported",
    "requireslifetime",
)


def _literal_alternation(words: Iterable[str]) -> str:
    """``a(?:bc|d)|x(?:y)``: alternatives grouped by first letter, so the engine tries few."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        by_first.setdefault(word[0], []).append(re.escape(word[1:]))
    return "|".join(f"{re.escape(c)}(?:{'|'.join(rests)})" for c, rests in by_first.items())


_ERROR_HINT_RE = re.compile(_literal_alternation(_ERROR_HINT_WORDS), _A)  # low
_STRONG_ERROR_RE = re.compile(
    r"\b(?:ERROR|FATAL|CRITICAL|FAILED|FAILURE|ABORTED|EXCEPTION)\b"
    r"|[Ee]rror[ \t]{0,3}:|Exception\b|\bTraceback\b|^[ \t>*`]{0,8}Error\b"
    r"|\b(?:" + "|".join(_RUCIO_EXCEPTIONS) + r")\b",
    _A,
)
_STRONG_ERROR_LOW_RE = re.compile(
    r"segmentation[ \t]+(?:fault|violation)|core[ \t]+dumped|bad_alloc"
    r"|no[ \t]+such[ \t]+file[ \t]+or[ \t]+directory|permission[ \t]+denied"
    r"|error[ _]?(?:diag|dialog|code)|pilot[ _]?error"
    r"|voms-proxy-[a-z]+[ \t]{0,3}:|could[ \t]+not[ \t]+find[ \t]+a[ \t]+valid[ \t]+proxy"
    r"|proxy[ \t]+(?:has|is)[ \t]+expired|no[ \t]+valid[ \t]+proxy|\bvoms[ \t]+server\b",
    _A,
)
_WEAK_ERROR_LOW_RE = re.compile(
    r"\b(?:fail(?:ed|s|ure|ures|ing)?|errors?|not[ \t]+found|timed?[ -]?out|denied|killed"
    r"|exceeded|crash(?:ed|es)?|abort(?:ed|ing)?|expired|cannot|could[ \t]+not|couldn't"
    r"|unable[ \t]+to|invalid|refused|unreachable|insufficient|exhausted|exit[ _]?code)\b",
    _A,
)
_PROSE_RE = re.compile(r"\bI(?:'m|'ve|'d|'ll)?\s|\?\s*$", _A)
_PROSE_LOW_RE = re.compile(
    r"\b(?:my|me|we|our|us|you|your|please|pls|hi|hello|hey|dear|thanks|thank|cheers|regards"
    r"|help)\b",
    _A,
)
_QUOTED_RE = re.compile('"[^"\\n]{8,}"|\u201c[^\u201d\\n]{8,}\u201d|(?m:^[ \\t]{0,8}>[ \\t]?\\S)')

_FACT_PHRASES = {
    "task_id": "the jediTaskID",
    "job_id": "the PandaID of a failed job",
    "error": "the exact error message",
    "dataset": "the full dataset name (scope:name)",
    "site": "the site or queue",
    "release": "the release you set up (the asetup line)",
    "log": "a link to the log",
}
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

_Cand = tuple[int, int, int, str, str]  # (priority, start, end, kind, value)


# --------------------------------------------------------------------------------------------
# Public API


def spans(text: str) -> list[Span]:
    """All identifiers in ``text`` as non-overlapping spans sorted by start.

    When candidates overlap, the kind earlier in :data:`KINDS` wins: a task id inside a BigPanda
    URL is part of that ``url`` span here (:func:`extract` and :func:`mask` still see it).
    """
    return _top_spans(text, _lower(text))


def extract(text: str) -> Identifiers:
    """Every identifier in ``text``, deduplicated, in order of first appearance."""
    low = _lower(text)
    top = _top_spans(text, low)
    urls = [s for s in top if s.kind == "url"]
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    seen: set[tuple[str, str]] = set()
    did_slot: dict[str, int] = {}
    for s in sorted(top + _nested_spans(urls), key=lambda s: (s.start, -s.end)):
        if s.kind == "did":
            _add_did(found["did"], did_slot, s.value)
        elif (s.kind, s.value) not in seen:
            seen.add((s.kind, s.value))
            found[s.kind].append(s.value)
    return Identifiers(
        task_ids=tuple(found["task_id"]),
        job_ids=tuple(found["job_id"]),
        dids=tuple(found["did"]),
        rses=tuple(found["rse"]),
        sites=tuple(found["site"]),
        releases=tuple(found["release"]),
        error_codes=tuple(_split_code(v) for v in found["error_code"]),
        error_lines=_error_lines(text, low, urls),
        urls=tuple(found["url"]),
    )


def mask(text: str, kinds: Collection[str] = KINDS, replacement: str = " ") -> str:
    """``text`` with every span of the given kinds replaced by ``replacement``.

    Identifiers inside URLs count too: masking only ``task_id`` blanks the id in
    ``https://bigpanda.cern.ch/task/40211133/`` and leaves the rest of the link.
    """
    wanted = _checked_kinds(kinds)
    if not wanted:
        return text
    top = _top_spans(text, _lower(text))
    nested = _nested_spans([s for s in top if s.kind == "url"])
    chosen = sorted((s for s in top + nested if s.kind in wanted), key=lambda s: (s.start, -s.end))
    out: list[str] = []
    pos = 0
    for s in chosen:
        if s.start < pos:  # inside a span already replaced (an id inside a masked URL)
            continue
        out += [text[pos : s.start], replacement]
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def missing_facts(text: str, ask_for: Sequence[str], ids: Identifiers | None = None) -> list[str]:
    """Which of ``ask_for`` (names from :data:`FACTS`) the message does not provide.

    ``task_id``: a task id, a job id or a BigPanda link; ``job_id``: a job id; ``error``: an
    error line, an error code or a quoted message; ``dataset``: a DID; ``site``: a site, queue
    or RSE; ``release``: a release; ``log``: a link to a log or a paste of at least 3 lines.
    Pass ``ids`` when the caller already ran :func:`extract` on ``text``.
    """
    _check_facts(ask_for)
    found = ids if ids is not None else extract(text)
    checks = {
        "task_id": lambda: bool(
            found.task_ids or found.job_ids or any(map(_is_panda_url, found.urls))
        ),
        "job_id": lambda: bool(found.job_ids),
        "error": lambda: bool(found.error_lines or found.error_codes or _QUOTED_RE.search(text)),
        "dataset": lambda: bool(found.dids),
        "site": lambda: bool(found.sites or found.rses),
        "release": lambda: bool(found.releases),
        "log": lambda: any(_is_log_url(u) for u in found.urls) or _has_paste(text),
    }
    missing: list[str] = []
    for fact in ask_for:
        if fact not in missing and not checks[fact]():
            missing.append(fact)
    return missing


def ask_sentence(missing: Sequence[str]) -> str:
    """One short sentence asking for exactly the ``missing`` facts; "" when there are none.

    >>> ask_sentence(["task_id", "error"])
    'To help a shifter, please add the jediTaskID and the exact error message.'
    """
    _check_facts(missing)
    phrases = list(dict.fromkeys(_FACT_PHRASES[f] for f in missing))
    if not phrases:
        return ""
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"To help a shifter, please add {listed}."


def identifier_links(ids: Identifiers, bigpanda_url: str, rucio_url: str) -> list[tuple[str, str]]:
    """(label, url) pairs: BigPanda pages for tasks and jobs, Rucio DID pages for datasets.

    A bare dataset name's scope is its first two dot-parts for ``user.``/``group.`` names and
    its first dot-part otherwise (``mc23_13p6TeV``).
    """
    panda = bigpanda_url.rstrip("/")
    rucio = rucio_url.rstrip("/")
    links = [(f"BigPanda task {t}", f"{panda}/task/{t}/") for t in ids.task_ids]
    links += [(f"BigPanda job {j}", f"{panda}/job?pandaid={j}") for j in ids.job_ids]
    for did in ids.dids:
        scope, name = _scope_and_name(did)
        url = f"{rucio}/did?scope={quote(scope, safe='')}&name={quote(name, safe='')}"
        links.append((f"Rucio {scope}:{name}", url))
    return links


# --------------------------------------------------------------------------------------------
# Scanning


def _lower(text: str) -> str:
    """Lower-cased text with the same length, so offsets carry over to the original."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters grow when lower-cased (U+0130)
        low = text.translate(_ASCII_LOWER)
    return low


def _top_spans(text: str, low: str) -> list[Span]:
    cands: list[_Cand] = []
    cands += _url_cands(text, low)
    cands += _did_cands(text)
    cands += _release_cands(text, low)
    cands += _code_cands(low)
    cands += _id_cands(low)
    cands += _site_cands(text, low)
    return _resolve(cands, len(text))


def _resolve(cands: list[_Cand], size: int) -> list[Span]:
    """Greedy by (priority, start, longest first); drop a candidate overlapping a winner."""
    taken = bytearray(size)
    out: list[Span] = []
    for _prio, start, end, kind, value in sorted(cands, key=lambda c: (c[0], c[1], c[1] - c[2])):
        if end <= start or taken.find(1, start, end) != -1:
            continue
        taken[start:end] = b"\x01" * (end - start)
        out.append(Span(start, end, kind, value))
    out.sort(key=lambda s: s.start)
    return out


def _cand(kind: str, start: int, end: int, value: str) -> _Cand:
    return (_PRIORITY[kind], start, end, kind, value)


def _url_cands(text: str, low: str) -> Iterator[_Cand]:
    for regex in _URL_RES:
        for m in regex.finditer(low):
            url = _trim_url(text[m.start() : m.end()])
            if _host(url):
                yield _cand("url", m.start(), m.start() + len(url), url)


def _trim_url(url: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets (markdown links, prose)."""
    counts = {c: url.count(c) for c in "()[]{}"}
    end = len(url)
    while end:
        c = url[end - 1]
        if c in _URL_TRAILING:
            end -= 1
        elif c in _URL_CLOSERS and counts[c] > counts[_URL_CLOSERS[c]]:
            counts[c] -= 1
            end -= 1
        else:
            break
    return url[:end]


def _host(url: str) -> str:
    m = _HOST_RE.match(url)
    return m.group(1).lower() if m else ""


def _is_panda_url(url: str) -> bool:
    host = _host(url)
    return "bigpanda" in host or "pandamon" in host


def _is_log_url(url: str) -> bool:
    return _LOG_URL_RE.search(url) is not None


def _nested_spans(urls: list[Span]) -> list[Span]:
    """Identifiers inside the URL spans (pasted logs repeat URLs: each is parsed once)."""
    parsed: dict[str, list[Span]] = {}
    out: list[Span] = []
    for url in urls:
        inner = parsed.get(url.value)
        if inner is None:
            inner = parsed[url.value] = _url_spans(url.value)
        out += [Span(s.start + url.start, s.end + url.start, s.kind, s.value) for s in inner]
    return out


def _url_spans(url: str) -> list[Span]:
    """Identifiers inside a URL, at offsets within it: BigPanda path ids, query keys, DIDs."""
    cands: list[_Cand] = []
    if _is_panda_url(url):
        for m in _PANDA_PATH_RE.finditer(url):
            digits = m.group("id")
            if "task" in m.group("kind").lower():
                if len(digits) <= 10:
                    cands.append(_cand("task_id", m.start("id"), m.end("id"), digits))
            elif len(digits) >= 6:
                cands.append(_cand("job_id", m.start("id"), m.end("id"), digits))
    scope: str | None = None
    name: tuple[int, int, str] | None = None
    for m in _QUERY_RE.finditer(url):
        key, value, vstart = m.group("key").lower(), m.group("value"), m.start("value")
        if key in _TASK_QUERY_KEYS or key in _JOB_QUERY_KEYS:
            kind, lo, hi = ("task_id", 5, 10) if key in _TASK_QUERY_KEYS else ("job_id", 6, 12)
            for d in _DIGITS_RE.finditer(value):
                if lo <= len(d.group()) <= hi:
                    cands.append(_cand(kind, vstart + d.start(), vstart + d.end(), d.group()))
        elif key in _SITE_QUERY_KEYS:
            if _QUERY_SITE_RE.fullmatch(value) and value.upper() not in _SITE_STOPWORDS:
                cands.append(_cand("site", vstart, vstart + len(value), value))
        elif key in _CODE_QUERY_KEYS:
            for d in _DIGITS_RE.finditer(value):
                if len(d.group()) <= 5:
                    code = f"{_CODE_QUERY_KEYS[key]}:{d.group()}"
                    cands.append(_cand("error_code", vstart + d.start(), vstart + d.end(), code))
        elif key == "scope" and value:
            scope = value
        elif key == "name" and value.rstrip("/"):
            name = (vstart, vstart + len(value), value.rstrip("/"))
    if scope is not None and name is not None:
        cands.append((0, name[0], name[1], "did", f"{scope}:{name[2]}"))  # beats the bare name
    cands += _did_cands(url)
    return _resolve(cands, len(url))


def _did_cands(text: str) -> Iterator[_Cand]:
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
            yield _cand("did", start, end, name)


def _add_did(dids: list[str], slot: dict[str, int], did: str) -> None:
    """Deduplicate DIDs by name; a later ``scope:name`` upgrades an earlier bare name."""
    name = did.split(":", 1)[1] if ":" in did else did
    if name not in slot:
        slot[name] = len(dids)
        dids.append(did)
    elif ":" in did and ":" not in dids[slot[name]]:
        dids[slot[name]] = did


def _scope_and_name(did: str) -> tuple[str, str]:
    if ":" in did:
        scope, name = did.split(":", 1)
    else:
        name = did
        parts = name.split(".")
        two = parts[0] in ("user", "group") and len(parts) > 2
        scope = ".".join(parts[:2]) if two else parts[0]
    return scope, name.rstrip("/")


def _release_cands(text: str, low: str) -> Iterator[_Cand]:
    for m in _ASETUP_RE.finditer(low):
        args = text[m.start("args") : m.end("args")].rstrip(",.")
        value = _release_from_parts([p for p in args.split(",") if p])
        if value:
            yield _cand("release", m.start("args"), m.start("args") + len(args), value)
    for regex in _PROJECT_RES:
        for m in regex.finditer(low):
            version = text[m.start("version") : m.end("version")].rstrip(".")
            numeric = _RELEASE_NUM_RE.fullmatch(version) is not None
            if not numeric and not (m.group("sep") == "," and _BRANCH_RE.fullmatch(version)):
                continue
            end = m.start("version") + len(version)
            value = f"{_PROJECTS[m.group('project')]},{version}"
            nightly = m.group("nightly")
            if nightly and end == m.end("version") and _NIGHTLY_RE.fullmatch(nightly):
                end = m.end("nightly")
                value += "," + text[m.start("nightly") : end]
            yield _cand("release", m.start(), end, value)
    for m in _RELEASE_CUE_RE.finditer(low):
        yield _cand("release", m.start("version"), m.end("version"), m.group("version"))


def _release_from_parts(parts: list[str]) -> str | None:
    """Normalise an asetup argument (``AthAnalysis,24.2.35,here``) to ``Project,version``."""
    project = next((_PROJECTS[p.lower()] for p in parts if p.lower() in _PROJECTS), None)
    number = next((p for p in parts if _RELEASE_NUM_RE.fullmatch(p)), None)
    branch = number or next((p for p in parts if _BRANCH_RE.fullmatch(p)), None)
    nightly = next((p for p in parts if _NIGHTLY_RE.fullmatch(p)), None)
    if project and branch:
        return ",".join(p for p in (project, branch, nightly) if p)
    return number


def _code_cands(low: str) -> Iterator[_Cand]:
    for regex in _CODE_RES:
        for m in regex.finditer(low):
            code, start = m.group("code"), m.start()
            named = _CODE_KIND_BEFORE_RE.search(low, max(0, start - 20), start)
            if named is not None:
                kind = _CODE_WORDS[named.group(1)]
            elif m.group("cw"):
                kind = _generic_code_kind(low, start, code, low.startswith("error", start))
            else:
                continue
            if kind:
                yield _cand("error_code", m.start("code"), m.end("code"), f"{kind}:{code}")
                if m.group("pl1") or m.group("pl2"):
                    yield from _more_numbers(low, m.end(), 1, 5, "error_code", f"{kind}:")
    for m in _CODE_PAIR_RE.finditer(low):
        named = _CODE_PAIR_KIND_RE.search(low, max(0, m.start() - 15), m.start())
        if named is not None:
            code = f"{_CODE_WORDS[named.group(1)]}:{m.group('code')}"
            yield _cand("error_code", m.start("code"), m.end("code"), code)


def _generic_code_kind(low: str, start: int, code: str, is_error: bool) -> str:
    """Kind of "error code N" / "exit code N" from a kind word earlier in the same clause."""
    window = max(0, start - 40)  # "trf exit code 65, error code 1099": the clause only
    clause = max(window, *(low.rfind(c, window, start) + 1 for c in "\n,;.!?|"))
    before = _CODE_CONTEXT_RE.findall(low, clause, start)
    if before:
        return _CODE_WORDS[before[-1]]
    if not is_error:
        return ""  # a bare "exit code 1" says nothing about the grid
    return "pilot" if len(code) == 4 and 1000 <= int(code) <= 1399 else "other"


def _split_code(value: str) -> tuple[str, str]:
    kind, _, code = value.partition(":")
    return kind, code


def _id_cands(low: str) -> Iterator[_Cand]:
    for regex, kind, lo, hi in _ID_CUE_RES:
        for m in regex.finditer(low):
            yield _cand(kind, m.start(1), m.end(1), m.group(1))
            yield from _more_numbers(low, m.end(), lo, hi, kind, "")


def _more_numbers(low: str, pos: int, lo: int, hi: int, kind: str, prefix: str) -> Iterator[_Cand]:
    """Continue a list after a cue: ``tasks 40211133, 40211134 and 40211135``."""
    for _ in range(_MAX_LIST):
        m = _LIST_NEXT_RE.match(low, pos)
        if m is None or not lo <= len(m.group(1)) <= hi:
            return
        yield _cand(kind, m.start(1), m.end(1), prefix + m.group(1))
        pos = m.end()


def _site_cands(text: str, low: str) -> Iterator[_Cand]:
    for m in _UPPER_TOKEN_RE.finditer(text):
        token = m.group().rstrip("-_")
        kind = _classify_upper(token) if len(token) <= _MAX_TOKEN else None
        if kind is not None:
            yield _cand(kind, m.start(), m.start() + len(token), token)
    has_t2 = "T2" in text
    for name, regex in _KNOWN_SITE_RES:
        if has_t2 if name.endswith("T2") else name in text:
            for m in regex.finditer(text):
                yield _cand("site", m.start(), m.end(), m.group())
    if "lcg2" in low:
        for m in _LCG2_SITE_RE.finditer(low):
            token = text[m.start() : m.end()]
            if _classify_upper(token) != "rse":
                yield _cand("site", m.start(), m.end(), token)
    for regex in _SITE_CUE_RES:
        for m in regex.finditer(low):
            token = text[m.start("site") : m.end("site")].rstrip("-_")
            if _plausible_cued_site(token):
                kind = _classify_upper(token) or "site"
                yield _cand(kind, m.start("site"), m.start("site") + len(token), token)


def _classify_upper(token: str) -> str | None:
    """``rse``, ``site`` or None for an all-caps token such as ``CERN-PROD_SCRATCHDISK``."""
    if not _UPPER_FULL_RE.fullmatch(token) or token in _SITE_STOPWORDS:
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
    if len(token) < 3 or token.upper() in _SITE_STOPWORDS:
        return False
    if _SEP_RE.split(token)[0].upper() in _NOT_SITE_PREFIXES:
        return False
    return any(c.isdigit() for c in token) or token.isupper()


# --------------------------------------------------------------------------------------------
# Error lines, pastes


def _error_lines(text: str, low: str, urls: list[Span]) -> tuple[str, ...]:
    """Lines that look like pasted errors, stripped and cut to MAX_ERROR_LINE_CHARS.

    URLs are blanked first (same length, so offsets hold): a BigPanda ``/errors/`` link is not
    an error message. Weak hints ("failed", "error") only count on lines that do not read like
    the user's own prose ("my job failed?").
    """
    if urls:
        pieces: list[str] = []
        pos = 0
        for s in urls:
            pieces += [low[pos : s.start], " " * (s.end - s.start)]
            pos = s.end
        pieces.append(low[pos:])
        low = "".join(pieces)
    found: list[str] = []
    size = len(low)
    pos = 0
    for _ in range(_MAX_HINTED_LINES):
        if pos >= size or len(found) >= MAX_ERROR_LINES:
            break
        m = _ERROR_HINT_RE.search(low, pos)
        if m is None:
            break
        start = low.rfind("\n", 0, m.start()) + 1
        end = low.find("\n", m.end())
        end = size if end < 0 else end
        pos = end + 1
        if _is_error_line(text[start:end], low[start:end]):
            shown = text[start:end].strip()
            if len(shown) > MAX_ERROR_LINE_CHARS:
                shown = shown[: MAX_ERROR_LINE_CHARS - 1] + "\u2026"
            if shown not in found:
                found.append(shown)
    return tuple(found)


def _is_error_line(line: str, low_line: str) -> bool:
    if _STRONG_ERROR_RE.search(line) or _STRONG_ERROR_LOW_RE.search(low_line):
        return True
    return bool(_WEAK_ERROR_LOW_RE.search(low_line)) and not _is_prose(line, low_line)


def _is_prose(line: str, low_line: str) -> bool:
    return bool(_PROSE_RE.search(line) or _PROSE_LOW_RE.search(low_line))


def _has_paste(text: str) -> bool:
    """A fenced block of 3+ lines, or 3+ non-blank lines that do not read like prose."""
    for block in text.split("```")[1::2]:
        if sum(1 for line in block.splitlines() if line.strip()) >= 3:
            return True
    pasted = 0
    for line in text.splitlines():
        if line.strip() and not _is_prose(line, line.lower()):
            pasted += 1
            if pasted >= 3:
                return True
    return False


# --------------------------------------------------------------------------------------------
# Argument checks


def _checked_kinds(kinds: Collection[str]) -> frozenset[str]:
    if isinstance(kinds, str):
        raise TypeError("kinds must be a collection of kind names, not a single string")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown span kinds {sorted(unknown)}; expected some of {KINDS}")
    return frozenset(kinds)


def _check_facts(facts: Sequence[str]) -> None:
    if isinstance(facts, str):
        raise TypeError("facts must be a sequence of fact names, not a single string")
    unknown = set(facts) - set(FACTS)
    if unknown:
        raise ValueError(f"unknown facts {sorted(unknown)}; expected some of {FACTS}")
