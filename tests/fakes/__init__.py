"""Test support, not installed with the product: a faithful fake Mattermost server.

Imported by the tests as ``fakes`` (pytest puts ``tests/`` on the path) and run from a clone's
root as ``python -m tests.fakes.fake_mattermost --port N``; its modules import each other
relatively so that both names work. It depends on the product only for ``dastbot.kernel.clock``.
"""
