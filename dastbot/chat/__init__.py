"""Chat adapters: the only code that knows a chat system's wire format."""
