"""A simulated year of dastbot: the real bot (router, services, jobs, outbox, store on a SQLite
file) driven by a virtual clock and a simulated Mattermost, with a population, faults and
restarts drawn from one seed, and invariants checked every simulated hour.

``world``: the simulated chat server (``SimChat``) and feed (``SimFeed``), Mattermost's rules and
the faults. ``population``: the people, their questions and how they behave. ``invariants``:
the checks, against the store and the simulated chat. ``runner``: the virtual-time loop, the
restarts and the summary. ``bench/simulate.py`` is the command line.
"""
