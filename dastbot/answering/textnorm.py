"""Text normalisation for matching: identifier masking, word splitting, stemming, domain synonyms.

Owns the step from a raw chat message (or a knowledge-base field) to the index terms the matcher
compares. Questions and knowledge-base text go through the same ``analyse``, so every rule here is
symmetric. Identifiers (URLs, task and job ids, dataset names, sites, dates, version numbers) are
masked first, with ``dastbot.answering.extract.mask`` for what that package recognises and a few
regexes for the rest: they say which object a user talks about, not what the problem is. Some
leave a hint word behind (a dataset name becomes ``dataset``, a site ``site``) because the kind of
object mentioned is evidence about the topic even when its name is not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from dastbot.answering import extract

__all__ = ["STOPWORDS", "SYNONYMS", "Term", "analyse", "mask_identifiers", "stem", "terms"]

# What the extractor recognises, masked with the hint word each kind leaves ("" for none).
# RSE names stay (their space token, DATADISK or DATATAPE, is evidence), so do error codes;
# releases are masked below as bare numbers, keeping project names such as AnalysisBase.
_EXTRACTED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("url", "task_id", "job_id"), ""),
    (("did",), "dataset"),
    (("site",), "site"),
)
# Identifiers extract does not cover. Order matters: e-mails before dotted names before numbers.
_IDENTIFIERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE), ""),  # root://, davs://, gsiftp://
    (re.compile(r"\b[\w.-]+@[\w-]+(?:\.[\w-]+)+"), ""),  # e-mail addresses
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.])"), "release"),  # 25.2.3, 21.2
    # Dataset-like names: three or more dot-separated fields, one of them with a digit.
    (re.compile(r"\b(?=[\w-]*\d)[\w-]+(?:\.(?:[\w-]+|\.\.+)){2,}/?"), "dataset"),
    (re.compile(r"\b\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d)?)?"), ""),  # dates, timestamps
    (re.compile(r"\b\d\d?:\d\d(?::\d\d)?\b"), ""),  # clock times
    (re.compile(r"\b\d{5,}\b"), ""),  # run numbers and other long ids
    (re.compile(r"\b[0-9a-f]{16,}\b", re.IGNORECASE), ""),  # hashes, rule ids
)

_CHUNK = re.compile(r"%[A-Z]+\b|[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*")
_CAMEL = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# A number glued to a unit keeps only the unit: "24h", "47 hours", "2GB" -> hour, hour, gb.
_UNIT = re.compile(r"\b\d+(?:\.\d+)?\s?(h|hrs?|hours?|mins?|minutes?|d|days?|gb|mb|tb)\b", re.I)
_UNIT_WORDS = {
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "d": "day",
}
# Rucio space tokens end the RSE name: CERN-PROD_DATATAPE is tape, BNL_SCRATCHDISK is disk.
_STORAGE = ("disk", "tape")

# English function words, chat filler and the verbs that frame a quote ("prun says: ...").
# Words that occur in pasted error messages ("none", "due", "per", "without", "never") are kept:
# idf decides how much they count.
_STOPWORD_TEXT = """
    a about above after again all also am an and any anyone anything are as at be because been
    before being both but by can cannot could did do does doing done dont don during each either
    else etc even ever every for from further get gets getting got had has have having he her here
    hers him his how however i id if im in into is isn it its itself ive just let like ll me might
    mine more most much must my myself need needs no nor not now of off on once only or other our
    ours out over own please re really right same she should shouldn so some somehow something still
    such sure than thank thanks that thats the their them then there these they thing things this
    those though through to too under until up us use used using ve very via want wants was way we
    were what whats when where which while who whom why will with within won would yes yet you your
    yours hi hello hey dear cheers btw thx pls guys folks anybody someone somebody tried trying try
    didn doesn wasn aren couldn wouldn cant wont say says said saying tell tells told mean means
    wonder guess think"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Shorthand users write in chat -> the words documentation uses. General grid/ATLAS vocabulary
# only; each expansion is added next to the original word, sharing its weight.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "oom": ("memory",),  # out-of-memory kill
    "mem": ("memory",),
    "ram": ("memory",),
    "segfault": ("segmentation", "fault"),
    "segv": ("segmentation", "fault"),
    "sigsegv": ("segmentation", "fault"),
    "cert": ("certificate",),
    "certs": ("certificate",),
    "usercert": ("certificate",),  # ~/.globus/usercert.pem
    "userkey": ("key",),  # ~/.globus/userkey.pem
    "passwd": ("password",),
    "pw": ("password",),
    "passphrase": ("pass", "phrase"),  # "Enter GRID pass phrase"
    "evt": ("event",),
    "evts": ("events",),
    "db": ("database",),
    "tf": ("transform",),  # Reco_tf.py, Derivation_tf.py are job transforms
    "trf": ("transform",),  # prun/pathena --trf
    "dl": ("download",),
    "ds": ("dataset",),  # inDS, outDS
    "lgd": ("localgroupdisk",),
    "walltime": ("wall", "time"),
    "timeout": ("time",),
    "singularity": ("apptainer",),  # Apptainer is the renamed Singularity
}

_SUFFIXES = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("ations", ""),
    ("ation", ""),
    ("ingly", ""),
    ("ings", ""),
    ("ing", ""),
    ("edly", ""),
    ("ied", "y"),
    ("ies", "y"),
    ("ed", ""),
    ("ly", ""),
    ("sses", "ss"),
    ("es", "e"),
    ("s", ""),
)
_NOT_PLURAL = ("ss", "us", "is", "os")
# Not a plural: the Python library is a homonym of PanDA and must stay apart from it.
_NO_STEM = frozenset({"pandas"})
_VOWELS = frozenset("aeiou")
_NOT_LAST = _VOWELS | frozenset("wxy")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper conflating plural, -ed, -ing, -ly and -ation forms of a word.

    ``expire, expired, expires, expiring -> expir``; ``timed -> time``; ``running -> run``.
    """
    if len(word) <= 3 or not word.isalpha() or word in _NO_STEM:
        return word
    inflected = False
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(_NOT_PLURAL):
                return word
            word = word[: -len(suffix)] + repl
            inflected = suffix in ("ed", "ing", "ings", "edly", "ingly")
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    elif inflected and len(word) == 3 and _cvc(word):
        word += "e"  # timed -> time, named -> name (then treated like the bare word)
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def _cvc(word: str) -> bool:
    return word[-3] not in _VOWELS and word[-2] in _VOWELS and word[-1] not in _NOT_LAST


def mask_identifiers(text: str, hints: bool = False) -> str:
    """``text`` with URLs, ids, dataset names, sites, dates and version numbers blanked.

    With ``hints`` each identifier is replaced by the word for its kind instead (``dataset``,
    ``site``, ``release``), or blanked when its kind says nothing about the topic.
    """
    for kinds, hint in _EXTRACTED:
        text = extract.mask(text, kinds, f" {hint} " if hints and hint else " ")
    for pattern, hint in _IDENTIFIERS:
        text = pattern.sub(f" {hint} " if hints and hint else " ", text)
    return text


@dataclass(frozen=True)
class Term:
    """One index term; ``weight`` is below 1 for the parts of a compound and for expansions."""

    text: str
    weight: float


def _parts(chunk: str) -> list[str]:
    pieces: list[str] = []
    for piece in re.split(r"[_-]", chunk):
        for part in _CAMEL.findall(piece):
            if len(part) > 2 and part[:-1].isupper() and part[-1] == "s":
                part = part[:-1]  # RSEs, CPUs, DIDs
            pieces.append(part.lower())
    return pieces


def _words(text: str) -> list[tuple[str, float]]:
    text = unicodedata.normalize("NFKC", text)
    text = _UNIT.sub(lambda m: f" {_UNIT_WORDS.get(m[1].lower(), m[1])} ", text)
    out: list[tuple[str, float]] = []
    for chunk in _CHUNK.findall(text):
        if chunk[0] == "%":
            out.append((chunk.lower(), 1.0))  # prun placeholders: %IN, %OUT, %SKIPEVENTS
            continue
        parts = _parts(chunk)
        if len(parts) > 1:
            out.append((chunk.lower().replace("-", "_"), 1.0))
            out.extend((p, 1.0 / len(parts)) for p in parts)
        else:
            out.extend((p, 1.0) for p in parts)
    return out


def analyse(text: str) -> list[Term]:
    """Index terms of ``text`` in reading order: identifiers masked, words split and stemmed.

    A compound such as ``--nFilesPerJob`` gives the whole word (weight 1) and its parts
    ``files, per, job`` sharing one weight, so it counts about as much as two plain words and
    still matches a user who writes "files per job".
    """
    out: list[Term] = []
    for word, weight in _words(mask_identifiers(text, hints=True)):
        if word in STOPWORDS or len(word) < 2:
            continue
        out.append(Term(stem(word), weight))
        extras = SYNONYMS.get(word, ())
        out.extend(Term(stem(x), weight / len(extras)) for x in extras)
        for kind in _STORAGE:
            if word.endswith(kind) and len(word) > len(kind) + 2:
                out.append(Term(kind, weight))
    return out


def terms(text: str) -> list[str]:
    """Index terms of ``text``: identifiers masked, words split, stopwords dropped, stemmed."""
    return [t.text for t in analyse(text)]
