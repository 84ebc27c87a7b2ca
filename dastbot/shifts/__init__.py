"""shifts."""
