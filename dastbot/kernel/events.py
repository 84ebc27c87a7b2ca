"""Every kind of event the audit trail (the store's ``events`` table) records, in one enum.

Writers pass a member, readers compare against members; a kind spelled as a string literal
anywhere else is a bug. ``EventKind`` is a ``StrEnum``, so the stored text is the member's value
and rows written by earlier versions read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # a question arrives
    ANSWERED = "answered"
    ABSTAINED = "abstained"
    PICKED = "picked"
    """The asker picked one of the entries offered on a near tie."""
    NEEDS_HUMAN = "needs_human"
    # people in the thread
    ASKER_REPLY = "asker_reply"
    HUMAN_REPLY = "human_reply"
    EDITED = "edited"
    # the question's state changes (see ``dastbot.questions.lifecycle``)
    FEEDBACK_HELPED = "feedback_helped"
    FEEDBACK_NOT_HELPED = "feedback_not_helped"
    TAKE = "take"
    RELEASE = "release"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    REDIRECTED = "redirected_to_channel"
    CLOSED_NO_FEEDBACK = "closed_no_feedback"
    RESOLVED = "resolved"
    """Written by versions before the state machine, after ``feedback_helped``; read only."""
    # no-reply rule
    REPINGED = "repinged"
    COORDINATOR_TOLD = "coordinator_told"
    # a taken question whose taker has gone quiet (``dastbot.shifts.claims``)
    CLAIM_REMINDED = "claim_reminded"
    CLAIM_COORDINATOR_TOLD = "claim_coordinator_told"
    # escalations
    ESCALATION_POSTING = "escalation_posting"
    """An escalation is being posted (recorded first, so a crash can be finished)."""
    ESCALATION_OPENED = "escalation_opened"
    ESCALATION_REPLIED = "escalation_replied"
    ESCALATION_FOLLOWUP = "escalation_followup"
    ESCALATION_REMINDED = "escalation_reminded"
    ESCALATION_DEADLINE = "escalation_deadline"
    ESCALATION_CLOSED = "escalation_closed"
    ESCALATION_CANCELLED = "escalation_cancelled"
    ESCALATION_WITHDRAWN = "escalation_withdrawn"
    """The question's last escalation was cancelled: it is back with a shifter."""
    # shifts
    SHIFT_BOOKED = "shift_booked"
    SHIFT_RELEASED = "shift_released"
    SHIFTS_IMPORTED = "shifts_imported"
    SWAP_REQUESTED = "swap_requested"
    SWAP_APPROVED = "swap_approved"
    # the team
    ROSTER_ADDED = "roster_added"
    ROSTER_PROMOTED = "roster_promoted"
    ONBOARDING_OPENED = "onboarding_opened"
    ONBOARDING_TICKED = "onboarding_ticked"
    PROMOTION_READY = "promotion_ready"
    # knowledge base, commands, reports
    KB_RELOADED = "kb_reloaded"
    KB_PROPOSED = "kb_proposed"
    COMMAND_REFUSED = "command_refused"
    WEEKLY_REPORT = "weekly_report"
