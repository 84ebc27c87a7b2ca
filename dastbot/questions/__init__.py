"""Questions: the lifecycle of a question thread, the one state machine every writer goes
through (``lifecycle.transition``, ``lifecycle.replay``), what feedback means (``feedback``), and
the commands that act on questions and on the knowledge base from chat (``commands``,
``kb_commands``, with their ``services``).

May import: ``kernel``, ``store``, ``answering``.
"""
