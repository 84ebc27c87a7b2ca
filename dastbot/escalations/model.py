"""Escalations to cloud, site and expert support: who to ask, when to remind, what to post.

This module owns:

* the contacts file (``knowledge/contacts.yaml``): ``ReminderPolicy``, ``Target``, ``Contacts``,
  ``load_contacts`` / ``parse_contacts`` and ``ContactsError`` (every problem at once, each with
  ``file:line`` and the target id);
* the escalation life cycle: ``EVENTS``, ``transition`` and ``TransitionError`` (states: kernel);
* the ``Escalation`` record and its pure updates (``record_event``, ``record_sent``);
* the reminder decision: ``schedule``, ``due_actions`` -> ``Reminder`` / ``DeadlinePassed``, and
  ``next_due`` for the scheduler;
* the markdown posts: ``escalation_post``, ``reminder_post``, ``deadline_post``, ``listing``, and
  ``escape_markdown`` for user text.

It is pure: no I/O except ``load_contacts(path)``, no wall clock (every decision takes ``now``).
Instants must be timezone-aware; they are stored and returned in UTC.

The life cycle (small on purpose)::

    open --reply--> replied --close--> closed
    open --close--> closed           (solved without the target, e.g. by DAST)
    open | replied --cancel--> cancelled
    replied --reply--> replied       (further replies are recorded, nothing changes)

``closed`` and ``cancelled`` are final. There is no "reopen": if the reply did not help, DAST
opens a new escalation, which gets a fresh schedule (the old one stays as history).

The reminder schedule (GGUS "waiting for reply" style, counted in the target's working hours):
reminder *n* is due ``policy.reminder_offsets()[n-1]`` working hours after ``opened_at`` and the
deadline ``policy.deadline_hours`` after it. Rules decided here:

* Due times come from ``opened_at``, never from when the previous reminder was actually sent, so a
  bot outage does not shift the schedule.
* When several reminders fell due while the bot was down, ``due_actions`` returns one
  ``Reminder`` carrying the number of the latest one owed (one post, not a burst; the number tells
  the target how long they have been waiting); ``record_sent`` then skips the missed ones.
* Reminders are posted only while the target is at work (due times are working instants by
  construction; a reminder owed at a restart on Saturday waits for Monday's opening).
* Once the deadline has passed no more reminders are sent; ``DeadlinePassed`` is returned once
  (until ``deadline_notified``) whatever the hour, because it goes to DAST, not to the target.
* Only ``open`` escalations have due actions: a reply stops the reminders.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dastbot.escalations.workhours import (
    WorkingHours,
    add_working_hours,
    describe,
    is_working_time,
    next_opening,
    working_hours_between,
)
from dastbot.kernel.markdown import escape_markdown, one_line, shorten
from dastbot.kernel.models import ESCALATION_STATES, Escalation, EscalationState, as_utc
from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse, parse_file

__all__ = [
    "EVENTS",
    "KINDS",
    "MAX_REMINDERS",
    "Action",
    "Contacts",
    "ContactsError",
    "DeadlinePassed",
    "Escalation",
    "Event",
    "Kind",
    "Reminder",
    "ReminderPolicy",
    "Schedule",
    "Target",
    "TransitionError",
    "deadline_post",
    "due_actions",
    "escalation_post",
    "escape_markdown",
    "listing",
    "load_contacts",
    "next_due",
    "parse_contacts",
    "record_event",
    "record_sent",
    "reminder_post",
    "schedule",
    "transition",
]

Event = Literal["reply", "close", "cancel"]
Kind = Literal["cloud", "site-support", "expert-group"]
EVENTS: tuple[Event, ...] = get_args(Event)
KINDS: tuple[Kind, ...] = get_args(Kind)
MAX_REMINDERS = 50
"""Upper bound on the reminders one policy may schedule before its deadline."""

ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
CLOUD_ID_RE = re.compile(r"^cloud-([a-z0-9]{2,8})$")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,21}$")
CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
CLOUD_SUPPORT = "cloud-support"
"""The knowledge base's generic target: "the cloud of the site in question" (see ``route``)."""


# --- life cycle ------------------------------------------------------------------------------

_TRANSITIONS: dict[tuple[EscalationState, Event], EscalationState] = {
    ("open", "reply"): "replied",
    ("open", "close"): "closed",
    ("open", "cancel"): "cancelled",
    ("replied", "reply"): "replied",
    ("replied", "close"): "closed",
    ("replied", "cancel"): "cancelled",
}


class TransitionError(ValueError):
    """An event that the escalation's state does not allow."""

    def __init__(self, state: str, event: str) -> None:
        allowed = [e for (s, e) in _TRANSITIONS if s == state]
        hint = f"allowed: {', '.join(allowed)}" if allowed else f"'{state}' is final"
        if state not in ESCALATION_STATES:
            message = f"unknown escalation state {state!r} (one of {', '.join(ESCALATION_STATES)})"
        elif event not in EVENTS:
            message = f"unknown escalation event {event!r} (one of {', '.join(EVENTS)})"
        else:
            message = f"cannot {event} an escalation that is {state} ({hint})"
        super().__init__(message)
        self.state = state
        self.event = event


def transition(state: str, event: str) -> EscalationState:
    """The state after ``event``; ``TransitionError`` when the event is not allowed."""
    for (before, on), after in _TRANSITIONS.items():
        if before == state and on == event:
            return after
    raise TransitionError(state, event)


# --- contacts --------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReminderPolicy(_Model):
    """When to remind a target and when to give up waiting, in the target's working hours.

    Reminders fall ``reminders_after`` working hours after the escalation opened, then every
    ``repeat_every`` hours after the last of those (none when null), all strictly before
    ``deadline_hours``.
    """

    reminders_after: tuple[float, ...] = (4.0, 8.0)
    repeat_every: float | None = 8.0
    deadline_hours: float = Field(default=24.0, gt=0, le=10_000)

    @field_validator("reminders_after", mode="before")
    @classmethod
    def _offsets_list(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return [value]
        return value

    @field_validator("reminders_after")
    @classmethod
    def _offsets(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v <= 0 for v in value):
            raise ValueError("reminder offsets must be positive working hours")
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError("reminder offsets must be strictly increasing")
        return value

    @field_validator("repeat_every")
    @classmethod
    def _repeat(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("repeat_every must be positive working hours (or null for none)")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> ReminderPolicy:
        late = [v for v in self.reminders_after if v >= self.deadline_hours]
        if late:
            raise ValueError(
                f"reminders_after {late} not before the deadline ({self.deadline_hours:g} h)"
            )
        count = len(self.reminders_after)
        if self.repeat_every is not None:
            last = self.reminders_after[-1] if self.reminders_after else 0.0
            count += math.ceil((self.deadline_hours - last) / self.repeat_every) - 1
        if count > MAX_REMINDERS:
            raise ValueError(f"{count} reminders before the deadline (at most {MAX_REMINDERS})")
        return self

    def reminder_offsets(self) -> tuple[float, ...]:
        """Working-hour offsets of every reminder, in order, all before the deadline."""
        offsets = list(self.reminders_after)
        if self.repeat_every is not None:
            at = offsets[-1] if offsets else 0.0
            for _ in range(MAX_REMINDERS):
                at += self.repeat_every
                if at >= self.deadline_hours:
                    break
                offsets.append(at)
        return tuple(offsets[:MAX_REMINDERS])


class Target(_Model):
    """Somebody DAST escalates to: a cloud's support team, site support or an expert group."""

    id: str
    kind: Kind
    name: str
    aliases: tuple[str, ...] = ()
    channel: str | None = None
    users: tuple[str, ...] = ()
    policy: ReminderPolicy = ReminderPolicy()
    working_hours: WorkingHours = WorkingHours()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_RE.match(value):
            raise ValueError("id must be lowercase kebab-case, e.g. cloud-de")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be empty")
        return value.strip()

    @field_validator("aliases", mode="before")
    @classmethod
    def _alias_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(" ".join(a.split()) for a in value)
        if any(not a for a in cleaned):
            raise ValueError("aliases must not be empty")
        return cleaned

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().removeprefix("~")
        if not CHANNEL_RE.match(value):
            raise ValueError(
                f"{value!r} is not a Mattermost channel name (lowercase letters, digits, - and _)"
            )
        return value

    @field_validator("users", mode="before")
    @classmethod
    def _user_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("users")
    @classmethod
    def _users(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(u.strip().removeprefix("@").lower() for u in value)
        bad = [u for u in names if not USERNAME_RE.match(u)]
        if bad:
            raise ValueError(f"not Mattermost usernames: {', '.join(map(repr, bad))}")
        return names

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.channel is None and not self.users:
            raise ValueError("needs a channel or users (or both) to reach the target")
        cloud = CLOUD_ID_RE.match(self.id)
        if self.kind == "cloud" and cloud is None:
            raise ValueError("a cloud target's id must be cloud-<code>, e.g. cloud-de")
        if self.kind != "cloud" and self.id.startswith("cloud-"):
            raise ValueError("ids starting with cloud- are reserved for kind: cloud")
        return self

    @property
    def cloud(self) -> str | None:
        """The ATLAS cloud code of a cloud target (``cloud-de`` -> ``DE``), else None."""
        match = CLOUD_ID_RE.match(self.id)
        return match.group(1).upper() if match and self.kind == "cloud" else None

    def names(self) -> tuple[str, ...]:
        """Every name this target answers to: id, cloud code, aliases (case as written)."""
        found: list[str] = []
        for name in (self.id, self.cloud, *self.aliases):
            if name and name.casefold() not in {f.casefold() for f in found}:
                found.append(name)
        return tuple(found)


class ContactsError(Exception):
    """Every problem found in the contacts file, each as ``file:line: target 'id': message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Contacts:
    """The validated escalation targets, looked up by id or alias."""

    targets: tuple[Target, ...]
    origin: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    _index: dict[str, Target] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for target in self.targets:
            for name in target.names():
                self._index.setdefault(_key(name), target)

    def __iter__(self) -> Iterator[Target]:
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.targets)

    def get(self, target_id: str) -> Target | None:
        """The target with exactly this id."""
        return next((t for t in self.targets if t.id == target_id), None)

    def resolve(self, name: str) -> Target | None:
        """The target whose id, cloud code or alias is ``name`` (case-insensitive)."""
        return self._index.get(_key(name))

    def clouds(self) -> dict[str, Target]:
        """Cloud code -> cloud target (``{"DE": <cloud-de>, ...}``)."""
        return {t.cloud: t for t in self.targets if t.cloud is not None}

    def route(self, escalate_to: str, cloud: str | None = None) -> Target | None:
        """The target for a knowledge-base ``escalate_to``: ``cloud-support`` means the support
        of ``cloud`` (None when the cloud is unknown); anything else resolves by id/alias."""
        if escalate_to == CLOUD_SUPPORT:
            return self.clouds().get(cloud.strip().upper()) if cloud else None
        return self.resolve(escalate_to)


_TOP_KEYS = ("defaults", "targets")
_DEFAULT_KEYS = ("policy", "working_hours")


def _clean_msg(message: str) -> str:
    return message.removeprefix("Value error, ")


def _merge(base: Mapping[str, Any], over: Any) -> Any:
    if not isinstance(over, Mapping):
        return over  # let validation report the wrong type
    merged = dict(base)
    merged.update(over)
    return merged


class _ContactsChecker:
    def __init__(self, located: Located) -> None:
        self.located = located
        self.found: list[tuple[int, str]] = []

    @property
    def errors(self) -> list[str]:
        """Every problem, in file order."""
        return [text for _line, text in sorted(self.found, key=lambda found: found[0])]

    def at(self, path: tuple[str | int, ...], label: str, message: str) -> None:
        prefix = f"{label}: " if label else ""
        where = self.located.where(path)
        self.found.append((self.located.line(path), f"{where}: {prefix}{message}"))

    def pydantic(self, exc: ValidationError, path: tuple[str | int, ...], label: str) -> None:
        for error in exc.errors():
            loc = tuple(error["loc"])
            dotted = ".".join(str(p) for p in loc)
            message = _clean_msg(error["msg"])
            self.at((*path, *loc), label, f"{dotted}: {message}" if dotted else message)

    def defaults(self, raw: Any) -> dict[str, dict[str, Any]]:
        """The defaults as plain mappings to merge targets over; invalid parts fall back to the
        built-in defaults so that one mistake is reported once, not once per target."""
        out: dict[str, dict[str, Any]] = {"policy": {}, "working_hours": {}}
        if raw is None:
            return out
        if not isinstance(raw, dict):
            self.at(("defaults",), "", "defaults must be a mapping (policy, working_hours)")
            return out
        for key in raw:
            if key not in _DEFAULT_KEYS:
                self.at(("defaults", key), "", f"unknown defaults field {key!r}")
        models: dict[str, type[BaseModel]] = {
            "policy": ReminderPolicy,
            "working_hours": WorkingHours,
        }
        for key, model in models.items():
            value = raw.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                self.at(("defaults", key), "defaults", f"{key} must be a mapping")
                continue
            try:
                model.model_validate(value)
            except ValidationError as exc:
                self.pydantic(exc, ("defaults", key), "defaults")
                continue
            out[key] = dict(value)
        return out

    def target(self, i: int, raw: Any, defaults: dict[str, dict[str, Any]]) -> Target | None:
        path: tuple[str | int, ...] = ("targets", i)
        if not isinstance(raw, dict):
            self.at(path, f"target #{i + 1}", "a target must be a mapping of fields")
            return None
        raw_id = raw.get("id")
        label = f"target '{raw_id}'" if isinstance(raw_id, str) else f"target #{i + 1}"
        data = dict(raw)
        for key in _DEFAULT_KEYS:
            base = defaults[key]
            over = raw.get(key, {})
            if key == "working_hours" and isinstance(over, dict) and "holidays_country" in over:
                # another country: the default's subdivision does not carry over
                base = {k: v for k, v in base.items() if k != "holidays_subdivision"}
            data[key] = _merge(base, over)
        try:
            return Target.model_validate(data)
        except ValidationError as exc:
            self.pydantic(exc, path, label)
            return None

    def duplicate(self, i: int, raw: Any, first: dict[str, str]) -> bool:
        """``raw``'s id was already used by an earlier target (reported)."""
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(raw_id, str):
            return False
        path: tuple[str | int, ...] = ("targets", i, "id")
        if raw_id in first:
            msg = f"duplicate id (first defined at {first[raw_id]})"
            self.at(path, f"target '{raw_id}'", msg)
            return True
        first[raw_id] = self.located.where(path)
        return False

    def names(self, targets: list[tuple[int, Target]]) -> None:
        """Ids, cloud codes and aliases must be unique across targets (case-insensitive)."""
        seen: dict[str, tuple[str, str]] = {}
        for i, target in targets:
            label = f"target '{target.id}'"
            id_path: tuple[str | int, ...] = ("targets", i, "id")
            named: list[tuple[tuple[str | int, ...], str, str]] = [(id_path, target.id, "id")]
            if target.cloud:
                named.append((id_path, target.cloud, "cloud code"))
            named += [
                (("targets", i, "aliases", j), alias, "alias")
                for j, alias in enumerate(target.aliases)
            ]
            for path, name, what in named:
                key = _key(name)
                if key in seen and seen[key][0] != target.id:
                    other, other_where = seen[key]
                    self.at(
                        path,
                        label,
                        f"{what} {name!r} is already used by target '{other}' ({other_where})",
                    )
                else:
                    seen.setdefault(key, (target.id, self.located.where(path)))


def _validate_contacts(located: Located) -> Contacts:
    checker = _ContactsChecker(located)
    data = located.data
    if not isinstance(data, dict):
        raise ContactsError([f"{located.file}:1: expected a mapping with defaults: and targets:"])
    for key in data:
        if key not in _TOP_KEYS:
            checker.at((key,), "", f"unknown top-level field {key!r} (defaults, targets)")
    defaults = checker.defaults(data.get("defaults"))
    raw_targets = data.get("targets")
    targets: list[tuple[int, Target]] = []
    if not isinstance(raw_targets, list) or not raw_targets:
        checker.at(("targets",), "", "targets must be a non-empty list")
    else:
        first: dict[str, str] = {}
        for i, raw in enumerate(raw_targets):
            if checker.duplicate(i, raw, first):
                continue
            target = checker.target(i, raw, defaults)
            if target is not None:
                targets.append((i, target))
        checker.names(targets)
    if checker.errors:
        raise ContactsError(checker.errors)
    return Contacts(
        targets=tuple(t for _, t in targets),
        origin=located.file,
        sources={t.id: located.where(("targets", i)) for i, t in targets},
    )


def load_contacts(path: Path) -> Contacts:
    """Read and validate ``contacts.yaml``; raise ContactsError listing every problem."""
    try:
        located = parse_file(path)
    except YamlSyntaxError as exc:
        raise ContactsError([str(exc)]) from None
    return _validate_contacts(located)


def parse_contacts(text: str, name: str = "<text>") -> Contacts:
    """Validate contacts given as YAML text (tests, chat-side reloads)."""
    try:
        located = parse(text, name)
    except YamlSyntaxError as exc:
        raise ContactsError([str(exc)]) from None
    return _validate_contacts(located)


# --- escalations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """Post reminder ``number`` (1-based) for an escalation; ``due_at`` is its scheduled time."""

    escalation_id: str
    number: int
    due_at: datetime


@dataclass(frozen=True)
class DeadlinePassed:
    """The target did not reply by the deadline (``due_at``); tell DAST, once."""

    escalation_id: str
    due_at: datetime
    age_working_hours: float


Action = Reminder | DeadlinePassed


def record_event(esc: Escalation, event: str, at: datetime) -> Escalation:
    """``esc`` after ``event`` at ``at`` (the first reply sets ``replied_at``)."""
    state = transition(esc.state, event)
    replied_at = esc.replied_at
    if event == "reply" and replied_at is None:
        replied_at = as_utc(at, "at")
    return replace(esc, state=state, replied_at=replied_at)


def record_sent(esc: Escalation, action: Action, at: datetime) -> Escalation:
    """``esc`` after ``action`` was posted at ``at`` (a reminder also covers skipped ones)."""
    if action.escalation_id != esc.id:
        raise ValueError(f"action for {action.escalation_id!r} applied to escalation {esc.id!r}")
    if isinstance(action, Reminder):
        return replace(
            esc,
            reminders_sent=max(esc.reminders_sent, action.number),
            last_reminder_at=as_utc(at, "at"),
        )
    return replace(esc, deadline_notified=True)


@dataclass(frozen=True)
class Schedule:
    """When an escalation's reminders and deadline fall due (UTC, working instants)."""

    reminders: tuple[datetime, ...]
    deadline: datetime


def schedule(target: Target, opened_at: datetime) -> Schedule:
    """The reminder and deadline instants of an escalation to ``target`` opened at ``opened_at``."""
    opened_at = as_utc(opened_at, "opened_at")
    wh = target.working_hours
    return Schedule(
        reminders=tuple(
            add_working_hours(wh, opened_at, hours) for hours in target.policy.reminder_offsets()
        ),
        deadline=add_working_hours(wh, opened_at, target.policy.deadline_hours),
    )


def _check_target(esc: Escalation, target: Target) -> None:
    if esc.target_id != target.id:
        raise ValueError(f"escalation {esc.id!r} is for {esc.target_id!r}, not {target.id!r}")


def due_actions(esc: Escalation, target: Target, now: datetime) -> list[Action]:
    """What to post for ``esc`` at ``now``: nothing, one ``Reminder`` or one ``DeadlinePassed``.

    See the module rules: only open escalations; the latest owed reminder only, inside the
    target's working hours and before the deadline; the deadline once.
    """
    _check_target(esc, target)
    now = as_utc(now, "now")
    if esc.state != "open":
        return []
    plan = schedule(target, esc.opened_at)
    wh = target.working_hours
    if now >= plan.deadline:
        if esc.deadline_notified:
            return []
        age = working_hours_between(wh, esc.opened_at, now)
        return [DeadlinePassed(esc.id, plan.deadline, age)]
    owed = sum(1 for due in plan.reminders if due <= now)
    if owed > esc.reminders_sent and is_working_time(wh, now):
        return [Reminder(esc.id, owed, plan.reminders[owed - 1])]
    return []


def next_due(esc: Escalation, target: Target, now: datetime | None = None) -> datetime | None:
    """The next instant at which ``due_actions`` has something for ``esc``; None if never.

    Without ``now`` this is the scheduled time of the next unsent reminder or of the deadline
    (possibly in the past). With ``now`` it is the earliest ``t >= now`` such that
    ``due_actions(esc, target, t)`` is not empty: ``now`` itself when something is owed already,
    the next opening when a reminder is owed outside working hours.
    """
    _check_target(esc, target)
    if esc.state != "open":
        return None
    when = as_utc(now, "now") if now is not None else None
    plan = schedule(target, esc.opened_at)
    candidates: list[datetime] = []
    if esc.reminders_sent < len(plan.reminders):
        due = plan.reminders[esc.reminders_sent]
        if when is not None:
            due = max(due, next_opening(target.working_hours, when))
        if due < plan.deadline:
            candidates.append(due)
    if not esc.deadline_notified:
        candidates.append(plan.deadline if when is None else max(plan.deadline, when))
    return min(candidates) if candidates else None


# --- rendering -------------------------------------------------------------------------------

MAX_QUOTE_CHARS = 2000
MAX_QUOTE_LINES = 30
MAX_REASON_CHARS = 500
def _quote(text: str) -> str:
    lines = text.strip().replace("\r\n", "\n").split("\n")
    cut = len(lines) > MAX_QUOTE_LINES
    body = shorten("\n".join(lines[:MAX_QUOTE_LINES]), MAX_QUOTE_CHARS)
    if cut and not body.endswith("\u2026"):
        body += "\n\u2026"
    return "\n".join(
        "> " + line if line.strip() else ">" for line in escape_markdown(body).split("\n")
    )


def _link(url: str | None, label: str) -> str | None:
    if not url:
        return None
    url = url.strip()
    if re.fullmatch(r"https?://[^\s<>\"'`]+", url):
        safe = url.replace("(", "%28").replace(")", "%29").replace("@", "%40")
        return f"[{label}]({safe})"
    return escape_markdown(url)


def _mentions(target: Target | None) -> str:
    if target is None:
        return ""
    return " ".join(f"@{u}" for u in target.users if USERNAME_RE.match(u))


def _hours(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} working hour" + ("" if text == "1" else "s")


def _local(instant: datetime, wh: WorkingHours) -> str:
    """``Mon 09 Mar 09:00 Europe/Berlin``: an instant in the target's own zone."""
    return instant.astimezone(wh.zone).strftime("%a %d %b %H:%M ") + wh.timezone


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%a %d %b %H:%M UTC")


def _target_name(target: Target) -> str:
    return escape_markdown(target.name)


def escalation_post(
    question_text: str,
    identifiers_summary: str,
    reason: str,
    permalink: str | None,
    ticket: str | None,
    opened_by: str,
    *,
    target: Target | None = None,
) -> str:
    """The post DAST's bot makes in the target's channel when escalating a user question.

    Everything but ``target`` is user-provided and is escaped (``escape_markdown``); the question
    is quoted and cut to ``MAX_QUOTE_LINES`` lines / ``MAX_QUOTE_CHARS`` characters. With a
    ``target`` the post names it, mentions its ``users`` and states the reminder policy.
    """
    heading = "**DAST escalation**"
    if target is not None:
        heading += f" to {_target_name(target)}"
    lines = [f"{heading} (escalated by {one_line(opened_by, 60)})"]
    mentions = _mentions(target)
    if mentions:
        lines.append(mentions)
    lines.append(f"**Why:** {one_line(reason, MAX_REASON_CHARS) or 'not given'}")
    if identifiers_summary.strip():
        lines.append(f"**Identifiers:** {one_line(identifiers_summary, 1000)}")
    if ticket and ticket.strip():
        lines.append(f"**Ticket:** {one_line(ticket, 100)}")
    link = _link(permalink, "user thread")
    lines.append("**Question**" + (f" ({link}):" if link else ":"))
    lines.append(_quote(question_text) if question_text.strip() else "> (no text)")
    closing = "Please reply in this thread; DAST relays the answer to the user."
    if target is not None:
        offsets = target.policy.reminder_offsets()
        if offsets:
            closing += f" Reminders start after {_hours(offsets[0])}"
        else:
            closing += " No reminders are scheduled"
        closing += (
            f"; DAST follows up after {_hours(target.policy.deadline_hours)}"
            f" (your working hours: {describe(target.working_hours)})."
        )
    lines.append(closing)
    return "\n".join(lines)


def _status_line(esc: Escalation, target: Target, now: datetime) -> str:
    wh = target.working_hours
    age = working_hours_between(wh, esc.opened_at, now)
    text = (
        f"Escalated {_local(esc.opened_at, wh)} by {one_line(esc.opened_by, 60)}, "
        f"{_hours(age)} ago."
    )
    reason = one_line(esc.reason, MAX_REASON_CHARS).rstrip(".") or "not given"
    text += f" Why: {reason}."
    if esc.ticket:
        text += f" Ticket: {one_line(esc.ticket, 100)}."
    return text


def reminder_post(
    esc: Escalation,
    target: Target,
    now: datetime,
    *,
    number: int | None = None,
    permalink: str | None = None,
) -> str:
    """A reminder for the target (posted in the escalation's thread in their channel).

    ``number`` is the reminder's number, as in ``Reminder.number``; by default the one after
    those already sent. The target's ``users`` are mentioned.
    """
    _check_target(esc, target)
    now = as_utc(now, "now")
    wh = target.working_hours
    number = esc.reminders_sent + 1 if number is None else number
    plan = schedule(target, esc.opened_at)
    head = f"**Reminder {number}** (escalation {one_line(esc.id, 40)})"
    mentions = _mentions(target)
    lines = [
        f"{head}: {mentions + ' ' if mentions else ''}{_target_name(target)}, "
        "DAST is still waiting for your reply.",
        _status_line(esc, target, now),
    ]
    upcoming = [due for due in plan.reminders[number:] if due > now]
    after = f"Next reminder {_local(upcoming[0], wh)}; " if upcoming else ""
    lines.append(
        f"{after}deadline {_local(plan.deadline, wh)} "
        f"({_hours(target.policy.deadline_hours)} after escalation)."
    )
    link = _link(permalink, "escalation thread")
    if link:
        lines.append(f"Thread: {link}")
    return "\n".join(lines)


def deadline_post(
    esc: Escalation, target: Target, now: datetime, *, permalink: str | None = None
) -> str:
    """The note to DAST that ``target`` did not reply by the deadline, with next steps."""
    _check_target(esc, target)
    now = as_utc(now, "now")
    wh = target.working_hours
    plan = schedule(target, esc.opened_at)
    reminders = esc.reminders_sent
    lines = [
        f"**No reply by the deadline** (escalation {one_line(esc.id, 40)}): "
        f"{_target_name(target)} has not replied within "
        f"{_hours(target.policy.deadline_hours)} (deadline {_local(plan.deadline, wh)}).",
        _status_line(esc, target, now) + f" Reminders sent: {reminders}.",
    ]
    if esc.ticket:
        step = "follow up on the ticket, or ask the DAST coordinators to chase the target"
    elif target.kind == "expert-group":
        step = "ask the DAST coordinators to raise it with the group's conveners"
    else:
        step = "open a GGUS ticket for the site or cloud, or ask the DAST coordinators to chase"
    lines.append(f"Next step: {step}; tell the user it is still being followed up.")
    link = _link(permalink, "escalation thread")
    if link:
        lines.append(f"Thread: {link}")
    return "\n".join(lines)


def _next_text(esc: Escalation, target: Target, now: datetime) -> str:
    plan = schedule(target, esc.opened_at)
    due = next_due(esc, target, now)
    if due is None:
        return "deadline passed, DAST notified"
    label = "deadline"
    if due < plan.deadline:
        label = f"reminder {sum(1 for d in plan.reminders if d <= due)}"
    return f"{label} now" if due <= now else f"{label} {_utc_text(due)}"


def listing(
    escalations: Iterable[Escalation],
    targets: Contacts | Mapping[str, Target],
    now: datetime,
) -> str:
    """Open escalations, oldest first: target, age in the target's working hours, reminders
    sent and what happens next. Times are UTC (DAST shifters sit in many zones)."""
    now = as_utc(now, "now")
    lookup: Mapping[str, Target] = (
        {t.id: t for t in targets} if isinstance(targets, Contacts) else targets
    )
    rows = sorted((e for e in escalations if e.state == "open"), key=lambda e: (e.opened_at, e.id))
    if not rows:
        return "No open escalations."
    out = [
        f"**Open escalations** ({len(rows)}, oldest first)",
        "",
        "| Escalation | Target | Opened | Age | Reminders | Next | Why |",
        "|---|---|---|---|---|---|---|",
    ]
    for esc in rows:
        target = lookup.get(esc.target_id)
        if target is None:
            name = f"unknown target {one_line(esc.target_id, 40)}"
            age, upcoming = "?", "?"
        else:
            name = _target_name(target)
            age = _hours(working_hours_between(target.working_hours, esc.opened_at, now))
            upcoming = _next_text(esc, target, now)
        cells = [
            one_line(esc.id, 40),
            name,
            _utc_text(esc.opened_at),
            age,
            str(esc.reminders_sent),
            upcoming,
            one_line(esc.reason, 80),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
