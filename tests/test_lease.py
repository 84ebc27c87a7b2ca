"""One bot per database: a second process is refused while the first renews its lease; a lease
whose holder died (killed, on this host) or went silent is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dastbot.lease import STALE, Lease, LeaseHeld
from dastbot.store import Store


def test_a_second_bot_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    first, second = Store.open(tmp_path / "bot.db"), Store.open(tmp_path / "bot.db")
    Lease(first).acquire()
    with pytest.raises(LeaseHeld) as refused:
        Lease(second).acquire()
    message = str(refused.value)
    assert f"pid {os.getpid()} on {socket.gethostname()}" in message
    assert str(tmp_path / "bot.db") in message


def test_a_lease_not_renewed_for_long_is_taken_over(tmp_path: Path) -> None:
    first, second = Store.open(tmp_path / "bot.db"), Store.open(tmp_path / "bot.db")
    lease = Lease(first)
    lease.acquire()
    silent = datetime.now(UTC) - STALE - timedelta(seconds=1)
    first.db.execute("UPDATE lease SET heartbeat_at = ?", [silent.isoformat()])
    taker = Lease(second)
    taker.acquire()
    assert second.lease() is not None and second.lease().holder == taker.holder  # type: ignore[union-attr]
    assert not first.renew_lease(lease.holder, datetime.now(UTC))  # the old holder must stop


def test_a_killed_holder_on_this_host_is_replaced_at_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    store.take_lease("gone", socket.gethostname(), int(dead.stdout), datetime.now(UTC), STALE)
    Lease(store).acquire()  # fresh heartbeat, but its process no longer exists


def test_a_clean_stop_gives_the_lease_back(tmp_path: Path) -> None:
    first, second = Store.open(tmp_path / "bot.db"), Store.open(tmp_path / "bot.db")
    lease = Lease(first)
    lease.acquire()
    lease.release()
    Lease(second).acquire()
