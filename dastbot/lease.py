"""One bot per database: the running process holds a lease in the database, renews it every
``RENEW`` seconds, and gives it up on a clean stop. A second process is refused while the lease
is fresh; a lease not renewed for ``STALE`` (its holder was killed) or held by a process that no
longer exists on this host is taken over."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from dastbot.store import LeaseHolder, Store

log = logging.getLogger("dastbot.lease")
RENEW = timedelta(seconds=10)
STALE = timedelta(seconds=40)


class LeaseHeld(Exception):
    """Another process runs the bot on this database."""

    def __init__(self, path: str, other: LeaseHolder) -> None:
        age = (datetime.now(UTC) - other.heartbeat_at).total_seconds()
        super().__init__(
            f"{path} is in use by another dastbot (pid {other.pid} on {other.host}, running "
            f"since {other.started_at:%Y-%m-%d %H:%M:%S} UTC, alive {age:.0f} s ago). Stop it "
            f"first; if it was killed, its lease expires {STALE.total_seconds():.0f} s after its "
            "last sign of life."
        )
        self.other = other


class LeaseLost(Exception):
    """Another process took the lease over (this one stalled for longer than ``STALE``)."""


def _gone(holder: LeaseHolder) -> bool:
    """The holder ran on this host and its process no longer exists."""
    if holder.host != socket.gethostname() or holder.pid == os.getpid():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.holder = uuid.uuid4().hex

    def acquire(self) -> None:
        """Take the lease, or raise LeaseHeld naming the process that has it."""
        current = self.store.lease()
        dead = current is not None and _gone(current)
        other = self.store.take_lease(
            self.holder, socket.gethostname(), os.getpid(), datetime.now(UTC), STALE, dead
        )
        if other is not None:
            raise LeaseHeld(self.store.name, other)
        if current is not None and current.holder != self.holder:
            log.warning("took over the lease of pid %d on %s", current.pid, current.host)

    async def keep(self) -> None:
        """Renew until cancelled; raise LeaseLost if another process took the lease."""
        while True:
            await asyncio.sleep(RENEW.total_seconds())
            if not self.store.renew_lease(self.holder, datetime.now(UTC)):
                raise LeaseLost(f"another dastbot took over {self.store.name}; stopping")

    def release(self) -> None:
        self.store.release_lease(self.holder)
