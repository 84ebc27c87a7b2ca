"""Which facts a help request still lacks, and the one sentence asking for them."""

from __future__ import annotations

from collections.abc import Sequence

from dastbot.answering.extract.base import Identifiers
from dastbot.answering.extract.errors import QUOTED_RE, has_paste
from dastbot.answering.extract.scan import extract
from dastbot.answering.extract.urls import is_log_url, is_panda_url

FACTS = ("task_id", "job_id", "error", "dataset", "site", "release", "log")
"""Facts a shifter may need, as understood by :func:`missing_facts` and :func:`ask_sentence`."""

_FACT_PHRASES = {
    "task_id": "the jediTaskID",
    "job_id": "the PandaID of a failed job",
    "error": "the exact error message",
    "dataset": "the full dataset name (scope:name)",
    "site": "the site or queue",
    "release": "the release you set up (the asetup line)",
    "log": "a link to the log",
}


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
            found.task_ids or found.job_ids or any(map(is_panda_url, found.urls))
        ),
        "job_id": lambda: bool(found.job_ids),
        "error": lambda: bool(found.error_lines or found.error_codes or QUOTED_RE.search(text)),
        "dataset": lambda: bool(found.dids),
        "site": lambda: bool(found.sites or found.rses),
        "release": lambda: bool(found.releases),
        "log": lambda: any(is_log_url(u) for u in found.urls) or has_paste(text),
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


def _check_facts(facts: Sequence[str]) -> None:
    if isinstance(facts, str):
        raise TypeError("facts must be a sequence of fact names, not a single string")
    unknown = set(facts) - set(FACTS)
    if unknown:
        raise ValueError(f"unknown facts {sorted(unknown)}; expected some of {FACTS}")
