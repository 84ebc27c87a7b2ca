"""Escalations: DAST hands a user's question to a cloud's support, a site or an expert group, and
the bot chases them in their working hours until they reply.

The package owns:

* ``contacts``: the contacts file (targets, reminder policies), validated with file:line errors;
* ``sites``: the site map (sites, queues, RSEs -> cloud) and its CRIC import;
* ``workhours``: a target's working hours and the working-time arithmetic;
* ``lifecycle``: the escalation states' transition table and ``transition``, the one function
  through which every escalation record changes (saved and recorded in the audit trail);
* ``reminders``: when reminders and the deadline fall due;
* ``render``: every message text (the escalation, reminders, deadline notice, listing, relays);
* ``desk``: the service that opens escalations, relays replies and runs the reminder job;
* ``commands``: ``/dast escalate``, ``escalation replied|close|cancel``, ``escalations``.

It may import ``kernel``, ``store``, ``answering`` (``extract``, for a question's identifiers),
``questions`` (``lifecycle``: a question's move to ``escalated``) and ``shifts`` (``duty``, for
who is on duty, and ``calendar``'s primitives, which working hours share with the rota).
It never imports ``report``, ``router``, ``app`` or ``cli``.
"""
