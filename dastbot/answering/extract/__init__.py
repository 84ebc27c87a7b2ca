"""Identifier extraction from user messages: the one place that knows what ATLAS ids look like.

Users paste error lines, BigPanda links, dataset names and half-sentences. This package owns
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

Modules: ``base`` (span kinds, result types, overlap resolution), one scanner per identifier
kind (``urls``, ``numbers`` for task/job ids and error codes, ``dids``, ``releases``, ``sites``
for sites, queues and RSEs), ``errors`` (pasted error lines), ``scan`` (``spans``, ``extract``,
``mask``), ``facts`` (what a request lacks) and ``links`` (BigPanda and Rucio pages). Import the
public names from this package; the modules' own names may change.
"""

from dastbot.answering.extract.base import KINDS, Identifiers, Span
from dastbot.answering.extract.errors import (
    MAX_ERROR_LINE_CHARS,
    MAX_ERROR_LINES,
    is_error_line,
)
from dastbot.answering.extract.facts import FACTS, ask_sentence, missing_facts
from dastbot.answering.extract.links import identifier_links
from dastbot.answering.extract.numbers import ERROR_CODE_KINDS
from dastbot.answering.extract.scan import extract, mask, spans

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
    "is_error_line",
    "mask",
    "missing_facts",
    "spans",
]
