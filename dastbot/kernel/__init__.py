"""The kernel: what every other package shares and that depends on nothing else in dastbot.

Owns the value types (``models``: posts, messages, commands, the shift assignment and escalation
records), the audit-trail event kinds (``events``), the clock (``clock``), the configuration root
and its shared sections (``config``, ``settings``, ``paths``), the command registry and context
(``commands``), the command-line helpers (``cli``) and start-up checks of the files the
configuration names (``preflight``), files written whole (``files``), Mattermost markdown
(``markdown``), logging (``logs``), metrics (``metrics``) and the located YAML reader
(``yamlsource``).

May import: the standard library and third-party packages only.
"""
