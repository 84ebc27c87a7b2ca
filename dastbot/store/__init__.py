"""Persistent state in SQLite through sqlite-utils: the schema, its migrations and ALL SQL.

Each module owns a group of tables (``base``: connection, seen posts, meta, notices, job runs;
``questions``: questions and the audit trail; ``outbox``; ``shifts``; ``escalations``;
``reports``: the weekly report's reads; ``roster``: the roster as seen, its changes,
onboarding checklists and the credit ledger's counts); ``Store`` combines them (``_driver``
imports sqlite-utils first, without numpy). Features
import ``Store`` and the row types from here and never write SQL.
May import: ``dastbot.kernel`` only.
"""

import dastbot.store._driver  # noqa: F401  (first: sqlite-utils without numpy)
from dastbot.store.base import SchemaTooNew, StoreBase, integrity_problems, iso, parse_iso
from dastbot.store.escalations import EscalationRows
from dastbot.store.lease import LeaseHolder, LeaseRows
from dastbot.store.outbox import DeadLetter, OutboxRows, Pending
from dastbot.store.questions import QuestionRows
from dastbot.store.reports import ReportReader, ReportRows
from dastbot.store.roster import RosterRows
from dastbot.store.shifts import ShiftRows

__all__ = [
    "DeadLetter",
    "LeaseHolder",
    "Pending",
    "ReportReader",
    "ReportRows",
    "SchemaTooNew",
    "Store",
    "integrity_problems",
    "iso",
    "parse_iso",
]


class Store(
    RosterRows,
    ReportRows,
    LeaseRows,
    QuestionRows,
    EscalationRows,
    OutboxRows,
    ShiftRows,
    StoreBase,
):
    """All reads and writes of the bot's state."""
