"""The DAST shift rota: who is on duty when, and everything the bot does about it.

Owns the shift calendar (``calendar``: working days, public holidays, closures, slot instances),
staffing (``staffing``: who is on duty, staffed-time arithmetic for the no-reply rule, coverage,
handover times), the roster's rules (``roster``: roles, coordinators, credit), roles bound to
Mattermost user ids (``identity``: table ``user_ids``), the schedule file
and its iCalendar feed (``schedule_file``), the rota in force and what to tell a user who needs a
person (``duty``), the scheduled jobs (``jobs``: handovers, no-reply re-pings and coordinator
notices, the daily coverage check), the /dast oncall and shift commands (``commands``, bound to
``services.ShiftServices``) and the ``oncall``, ``shifts import|export`` and ``roster forget``
subcommands (``cli``).
Its schedule tables are read and written through ``dastbot.store`` (``store/shifts.py``).

May import: ``dastbot.kernel``, ``dastbot.store``, ``dastbot.questions``, ``dastbot.answering``.
Never ``dastbot.escalations``, ``dastbot.report``, ``dastbot.router``, ``dastbot.app`` or
``dastbot.cli``, which sit above it.
"""
