"""The DAST shift rota: who is on duty when, and everything the bot does about it.

Owns the shift calendar (``calendar``: working days, public holidays, closures, slot instances),
staffing (``staffing``: who is on duty, staffed-time arithmetic for the no-reply rule, coverage,
handover times), the roster's rules (``roster``: roles, coordinators, credit), roles bound to
Mattermost user ids (``identity``: table ``user_ids``), the schedule file
and its iCalendar feed (``schedule_file``), the rota in force and what to tell a user who needs a
person (``duty``), the scheduled jobs (``jobs``: handovers, no-reply re-pings and coordinator
notices, the daily coverage check), the /dast oncall and shift commands (``commands``, bound to
``services.ShiftServices``) and the ``oncall``, ``shifts import|export|credits`` and ``roster
forget`` subcommands (``cli``).
Looking after the team: which slots were served and by whom (``served``), the credit ledger
(``credits``), load against the sustainable rate (``load``), the roster in force and its changes
(``members``), trainees' records and the promotion notice (``progression``), onboarding checklists
and their reminders (``onboarding``), and their /dast shift credits|load and roster commands
(``team_commands``).
Its tables are read and written through ``dastbot.store`` (``store/shifts.py``,
``store/roster.py``).

May import: ``dastbot.kernel``, ``dastbot.store``, ``dastbot.questions``, ``dastbot.answering``.
Never ``dastbot.escalations``, ``dastbot.report``, ``dastbot.router``, ``dastbot.app`` or
``dastbot.cli``, which sit above it.
"""
