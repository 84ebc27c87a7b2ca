"""Roles by Mattermost user id: the roster names people by username, but a username can be freed
and taken by someone else, so each roster username is bound to the user id it had when the bot
first resolved it (table ``user_ids``), and a command's or click's role comes from the sender's id.

``RoleBook.bind`` takes the ids the server gives for the roster's usernames now (at start) and
returns the warnings to log and tell the coordinators: a username that no longer resolves (its
recorded id keeps the role), one now held by another id (that id gets no role). Until ``bind`` has
run (the console, tests without Mattermost) the username is the id: roles go by username.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from dastbot.kernel.settings import Person, normalise_username
from dastbot.shifts.roster import role_of
from dastbot.store import Store

FORGET = "dastbot roster forget"


class RoleBook:
    def __init__(
        self, roster: Sequence[Person] | Callable[[], Sequence[Person]], store: Store
    ) -> None:
        """``roster``: the people, or how to read the roster in force now (it changes while the
        bot runs: ``/dast roster add`` and ``promote``)."""
        self._roster = roster
        self.store = store
        self._names_by_id: dict[str, str] | None = None
        self._at_bind: set[str] = set()
        """The roster's usernames when it was bound."""

    @property
    def roster(self) -> list[Person]:
        return list(self._roster() if callable(self._roster) else self._roster)

    @property
    def bound(self) -> bool:
        return self._names_by_id is not None

    def role_of(self, user_id: str, user_name: str) -> str:
        """The role of the sender with ``user_id`` (``user_name`` only before ``bind``)."""
        roster = self.roster
        if self._names_by_id is None:
            return role_of(roster, user_name)
        name = self._names_by_id.get(user_id)
        if name is None:
            # A person the roster gained since the start is bound at the next start; until
            # then their username, held by no bound account, gives their role.
            candidate = normalise_username(user_name)
            if candidate not in self._at_bind and candidate not in self.store.user_ids():
                return role_of(roster, candidate)
            return "user"
        return role_of(roster, name)

    def bind(self, resolved: Mapping[str, str], now: datetime) -> list[str]:
        """Bind each roster username to its recorded id, recording the ids in ``resolved``
        (username -> id from the server) of usernames seen for the first time; the warnings."""
        warnings: list[str] = []
        recorded = self.store.user_ids()
        current = {normalise_username(k): v for k, v in resolved.items()}
        names_by_id: dict[str, str] = {}
        names = list(dict.fromkeys(p.user for p in self.roster))
        self._at_bind = set(names)
        with self.store.atomic():
            for name in names:
                bound, now_id = recorded.get(name), current.get(name)
                if bound is None and now_id is not None:
                    self.store.bind_user_id(name, now_id, now)
                    bound = now_id
                if now_id is None:
                    warnings.append(
                        f"roster: {name} is no longer a Mattermost username; "
                        + (
                            "the account it belonged to keeps its role; update the roster"
                            if bound
                            else "nobody gets its role until the roster names an existing user"
                        )
                    )
                elif now_id != bound:
                    warnings.append(
                        f"roster: the username {name} now belongs to another Mattermost account "
                        f"(id {now_id}, not {bound}), which gets no role; if that is the same "
                        f"person, run `{FORGET} {name}` and restart the bot"
                    )
                if bound is not None:
                    names_by_id[bound] = name
        self._names_by_id = names_by_id
        return warnings

    def keep_recorded(self) -> bool:
        """Bind to the recorded ids alone (the server could not be asked); False when nothing
        is recorded yet, so roles stay by username."""
        recorded = self.store.user_ids()
        names = {p.user for p in self.roster}
        self._at_bind = names
        if not recorded:
            return False
        self._names_by_id = {uid: name for name, uid in recorded.items() if name in names}
        return True
