"""The roster in force and its changes: bot.yaml's ``roster:`` plus what the database recorded
since (people added with ``/dast roster add``, trainees promoted with ``/dast roster promote``),
every change kept with who, when and what (``roster_changes``).

* ``effective_roster``: bot.yaml's people with the stored changes applied in order. A stored
  promotion holds while bot.yaml still says "trainee"; a person added by command and later
  written into bot.yaml is taken from bot.yaml.
* ``sync_roster``: at start, the roster in force against the one the database last saw; the
  newcomers are returned (and recorded as "joined"), the people gone are recorded as "left". The
  first sync only takes note (nobody is new on the day the bot learns its roster).
* ``promote`` and ``add_member``: the changes the commands make, refused with a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown
from dastbot.kernel.settings import Person, normalise_username
from dastbot.store import Store

JOINED, LEFT, ADDED, PROMOTED = "joined", "left", "added", "promoted"
BASELINE_KEY = "roster_baseline"
"""Meta key set once the database has seen a roster (so the first start sends no checklists)."""


def effective_roster(
    configured: Sequence[Person], changes: Sequence[Mapping[str, Any]]
) -> list[Person]:
    """``configured`` with the stored ``changes`` (``Store.roster_changes``) applied in order."""
    people = {p.user: p for p in configured}
    order = [p.user for p in configured]
    for change in changes:
        user = str(change["user"])
        if change["change"] == ADDED and user not in people:
            people[user] = Person(user=user, zone=str(change["zone"]), level=change["level"])
            order.append(user)
        elif change["change"] == PROMOTED and user in people and people[user].level == "trainee":
            people[user] = people[user].model_copy(update={"level": "shifter"})
    return [people[u] for u in order]


def roster_in_force(configured: Sequence[Person], store: Store) -> list[Person]:
    return effective_roster(configured, store.roster_changes())


def sync_roster(
    store: Store, configured: Sequence[Person], now: datetime, actor: str
) -> list[Person]:
    """Record who joined and who left since the database last saw the roster; the newcomers."""
    roster = roster_in_force(configured, store)
    seen = store.roster_seen()
    first_time = store.get_meta(BASELINE_KEY) is None
    newcomers: list[Person] = []
    with store.atomic():
        for person in roster:
            if person.user not in seen and not first_time:
                newcomers.append(person)
                store.add_roster_change(
                    person.user, JOINED, actor, now, person.zone, person.level, source="bot.yaml"
                )
            store.see_member(person.user, person.zone, person.level, now)
        present = {p.user for p in roster}
        for user, row in seen.items():
            if user not in present:
                store.add_roster_change(user, LEFT, actor, now, row["zone"], row["level"])
                store.forget_member(user)
        store.set_meta(BASELINE_KEY, now.isoformat())
    return newcomers


def promote(store: Store, roster: Sequence[Person], user: str, actor: str, now: datetime) -> str:
    """Make trainee ``user`` a 1st-level shifter; "" when done, else why not (one sentence)."""
    name = normalise_username(user)
    person = next((p for p in roster if p.user == name), None)
    if person is None:
        return f"{escape_markdown(name[:40])} is not on the roster."
    if person.level != "trainee":
        return f"{name} is already a 1st-level shifter."
    with store.atomic():
        store.add_roster_change(name, PROMOTED, actor, now, person.zone, "shifter", was="trainee")
        store.record(EventKind.ROSTER_PROMOTED, now, actor=actor, user=name)
    return ""


def add_member(
    store: Store,
    roster: Sequence[Person],
    zones: Sequence[str],
    user: str,
    zone: str,
    level: str,
    actor: str,
    now: datetime,
) -> tuple[Person | None, str]:
    """Add a person to the roster in force: (the person, "") or (None, why not)."""
    name = normalise_username(user)
    if not name or any(c.isspace() for c in name) or name in ("channel", "here", "all"):
        return None, f"`{escape_markdown(user[:40])}` is not a Mattermost username."
    if any(p.user == name for p in roster):
        return None, f"{name} is already on the roster."
    zone_names = {z.lower(): z for z in zones}
    if zone.lower() not in zone_names:
        known = ", ".join(sorted(zone_names.values()))
        return None, f"`{escape_markdown(zone[:40])}` is not a zone ({known})."
    if level not in ("shifter", "trainee"):
        return None, f"`{escape_markdown(level[:40])}` is not a level (shifter or trainee)."
    person = Person.model_validate({"user": name, "zone": zone_names[zone.lower()], "level": level})
    with store.atomic():
        store.add_roster_change(name, ADDED, actor, now, person.zone, person.level)
        store.see_member(name, person.zone, person.level, now)
        store.record(EventKind.ROSTER_ADDED, now, actor=actor, user=name, zone=person.zone)
    return person, ""
