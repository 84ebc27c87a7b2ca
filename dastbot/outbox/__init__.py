"""The outbox: messages the bot decided to send are recorded first (by every feature, through
the store) and sent by one sender (``sender``). A message the server refuses for good is
dead-lettered after a few attempts, one that fails for a passing reason is retried with backoff;
either way it never holds up messages of other threads. Dead letters are told to the
coordinators, counted in /metrics and listed, retried or dropped with ``/dast outbox`` and
``dastbot outbox`` (``commands``, ``cli``).

May import: ``kernel``, ``store``, ``chat.base`` (the seam).
"""
