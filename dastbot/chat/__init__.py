"""Chat adapters behind the two-way seam of ``base`` (``Feed``: events in; ``Chat``: messages
out): Mattermost (``mattermost`` REST and messages, ``mattermost_feed`` websocket, reconnects and
catch-up, ``mattermost_transport`` plumbing), the HTTP endpoints for slash commands, buttons,
health and metrics (``http``) and their limits against slow or hostile clients (``http_guard``),
and the terminal console (``console``).

May import: ``kernel`` only. The core sees these types, never JSON, drivers or sockets.
"""
