"""Chat adapters behind the two-way seam of ``base`` (``Feed``: events in; ``Chat``: messages
out): Mattermost (``mattermost`` REST and messages, ``mattermost_feed`` websocket, reconnects and
catch-up, ``mattermost_transport`` plumbing), the HTTP endpoint for slash commands, buttons, health
and metrics (``http``), and the terminal console (``console``).

May import: ``kernel`` only. The core sees these types, never JSON, drivers or sockets.
"""
