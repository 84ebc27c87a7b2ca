"""Test support shipped with the package: a faithful fake Mattermost server."""
