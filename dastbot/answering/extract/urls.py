"""URLs in chat text, and the identifiers inside them (BigPanda paths and query keys, Rucio
DID pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dastbot.answering.extract.base import ASCII, Cand, Span, cand, resolve
from dastbot.answering.extract.dids import did_cands
from dastbot.answering.extract.sites import SITE_STOPWORDS

# URLs (low), and what is inside them (original text; URLs are short).
_URL_RES = (
    re.compile(r"https?://[^\s<>\"'`]{1,4000}", ASCII),
    re.compile(r"bigpanda(?<![\w./@-]bigpanda)\.cern\.ch/[^\s<>\"'`]{0,4000}", ASCII),
)
_URL_TRAILING = ".,;:!?*~|'\""
_URL_CLOSERS = {")": "(", "]": "[", "}": "{"}
_HOST_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/?#\s]*)", ASCII)
_PANDA_PATH_RE = re.compile(
    r"/(?P<kind>jedi[_-]?task|task(?:new|info|profileplot)?|job(?:new|info)?)"
    r"/(?P<id>[0-9]{5,12})(?=[/?#&]|$)",
    ASCII | re.IGNORECASE,
)
_QUERY_RE = re.compile(r"[?&;](?P<key>[A-Za-z_]{1,40})=(?P<value>[^&#;]{0,300})", ASCII)
_DIGITS_RE = re.compile(r"(?<![0-9])[0-9]+(?![0-9])", ASCII)
_QUERY_SITE_RE = re.compile(r"[A-Za-z][\w-]{1,80}", ASCII)
_LOG_URL_RE = re.compile(
    r"\blogs?\b|log[._]|[._]log|logfile|stdout|stderr|filebrowser|paste|gist\.|cernbox"
    r"|\.txt\b|\.out\b|\.err\b|tarball",
    ASCII | re.IGNORECASE,
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


def url_cands(text: str, low: str) -> Iterator[Cand]:
    for regex in _URL_RES:
        for m in regex.finditer(low):
            url = _trim_url(text[m.start() : m.end()])
            if _host(url):
                yield cand("url", m.start(), m.start() + len(url), url)


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


def is_panda_url(url: str) -> bool:
    host = _host(url)
    return "bigpanda" in host or "pandamon" in host


def is_log_url(url: str) -> bool:
    return _LOG_URL_RE.search(url) is not None


def nested_spans(urls: list[Span]) -> list[Span]:
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
    cands: list[Cand] = []
    if is_panda_url(url):
        for m in _PANDA_PATH_RE.finditer(url):
            digits = m.group("id")
            if "task" in m.group("kind").lower():
                if len(digits) <= 10:
                    cands.append(cand("task_id", m.start("id"), m.end("id"), digits))
            elif len(digits) >= 6:
                cands.append(cand("job_id", m.start("id"), m.end("id"), digits))
    scope: str | None = None
    name: tuple[int, int, str] | None = None
    for m in _QUERY_RE.finditer(url):
        key, value, vstart = m.group("key").lower(), m.group("value"), m.start("value")
        if key in _TASK_QUERY_KEYS or key in _JOB_QUERY_KEYS:
            kind, lo, hi = ("task_id", 5, 10) if key in _TASK_QUERY_KEYS else ("job_id", 6, 12)
            for d in _DIGITS_RE.finditer(value):
                if lo <= len(d.group()) <= hi:
                    cands.append(cand(kind, vstart + d.start(), vstart + d.end(), d.group()))
        elif key in _SITE_QUERY_KEYS:
            if _QUERY_SITE_RE.fullmatch(value) and value.upper() not in SITE_STOPWORDS:
                cands.append(cand("site", vstart, vstart + len(value), value))
        elif key in _CODE_QUERY_KEYS:
            for d in _DIGITS_RE.finditer(value):
                if len(d.group()) <= 5:
                    code = f"{_CODE_QUERY_KEYS[key]}:{d.group()}"
                    cands.append(cand("error_code", vstart + d.start(), vstart + d.end(), code))
        elif key == "scope" and value:
            scope = value
        elif key == "name" and value.rstrip("/"):
            name = (vstart, vstart + len(value), value.rstrip("/"))
    if scope is not None and name is not None:
        cands.append((0, name[0], name[1], "did", f"{scope}:{name[2]}"))  # beats the bare name
    cands += did_cands(url)
    return resolve(cands, len(url))
