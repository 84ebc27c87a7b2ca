"""The contacts file (``knowledge/contacts.yaml``): who DAST escalates to and on what terms.

This module owns ``ReminderPolicy`` (when to remind a target and when to give up waiting, in its
working hours), ``Target`` (a cloud's support, site support or an expert group: how to reach it,
its policy and its ``WorkingHours``), ``Contacts`` (the validated targets, looked up by id,
cloud code or alias; ``route`` for a knowledge-base ``escalate_to``), and ``load_contacts`` /
``parse_contacts``, which raise ``ContactsError`` listing every problem at once, each with
``file:line`` and the target id.

It is pure apart from ``load_contacts(path)`` reading the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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

from dastbot.escalations.workhours import WorkingHours
from dastbot.kernel.validation import plain_error
from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse, parse_file

__all__ = [
    "CLOUD_SUPPORT",
    "KINDS",
    "MAX_REMINDERS",
    "USERNAME_RE",
    "Contacts",
    "ContactsError",
    "Kind",
    "ReminderPolicy",
    "Target",
    "load_contacts",
    "parse_contacts",
]

Kind = Literal["cloud", "site-support", "expert-group"]
KINDS: tuple[Kind, ...] = get_args(Kind)
MAX_REMINDERS = 50
"""Upper bound on the reminders one policy may schedule before its deadline."""

ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
CLOUD_ID_RE = re.compile(r"^cloud-([a-z0-9]{2,8})$")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,21}$")
CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
CLOUD_SUPPORT = "cloud-support"
"""The knowledge base's generic target: "the cloud of the site in question" (see ``route``)."""


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
            message = plain_error(error)
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
