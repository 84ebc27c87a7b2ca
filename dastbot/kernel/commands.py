"""Slash commands: parsing, the registry with each command's help text, and permission checks.

A handler is a module-level function of a feature that receives its feature's services (bound at
registration with ``functools.partial``), the ``CommandContext`` (who, where, when) and the
arguments, and returns a ``CommandReply``; it never sends: one place (the router) does. Unknown
commands answer with the help text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dastbot.kernel.events import EventKind
from dastbot.kernel.models import CommandReply

ROLES = ("user", "trainee", "shifter", "coordinator")


def role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else 0


class Audit(Protocol):
    """Where a refusal is recorded (the store's audit trail)."""

    def record(
        self, kind: str, now: datetime, thread_id: str = "", actor: str = "", **data: Any
    ) -> None: ...


@dataclass(frozen=True)
class CommandContext:
    """Who runs a command, where and when; ``find_thread`` turns a permalink or post id in the
    arguments into a tracked thread ("" when it is none); ``audit`` records refusals."""

    user_id: str
    user_name: str
    channel_id: str
    thread_id: str
    role: str
    now: datetime
    audit: Audit
    find_thread: Callable[[str], str]


Handler = Callable[[CommandContext, list[str]], Awaitable[CommandReply]]


@dataclass(frozen=True)
class Spec:
    words: tuple[str, ...]
    usage: str
    summary: str
    role: str
    handler: Handler


@dataclass
class Registry:
    trigger: str = "/dast"
    specs: list[Spec] = field(default_factory=list)

    def add(
        self, handler: Handler, words: str, usage: str, summary: str, role: str = "user"
    ) -> None:
        """Register ``handler`` for the command ``words`` (e.g. "shift book")."""
        self.specs.append(Spec(tuple(words.split()), usage, summary, role, handler))

    def find(self, args: Sequence[str]) -> tuple[Spec | None, list[str]]:
        best: Spec | None = None
        for spec in self.specs:
            n = len(spec.words)
            if [a.lower() for a in args[:n]] == list(spec.words) and (
                best is None or n > len(best.words)
            ):
                best = spec
        if best is None:
            return None, list(args)
        return best, list(args[len(best.words) :])

    def help(self, role: str, topic: Sequence[str] = ()) -> str:
        visible = [s for s in self.specs if role_rank(role) >= role_rank(s.role)]
        if topic:
            spec, _ = self.find(topic)
            if spec is not None:
                return f"`{self.trigger} {spec.usage}`\n{spec.summary}"
        lines = [f"**{self.trigger} commands** (you are a {role}):"]
        lines += [f"- `{self.trigger} {s.usage}`: {s.summary}" for s in visible]
        hidden = len(self.specs) - len(visible)
        if hidden:
            lines.append(f"_{hidden} more need a shifter or coordinator role._")
        return "\n".join(lines)


def thread_argument(ctx: CommandContext, args: list[str]) -> tuple[str, list[str]]:
    """The thread a command acts on and the other arguments: the thread it was run in (its link
    among the arguments is dropped), else the first argument that names a tracked thread."""
    if ctx.thread_id:
        rest = [a for a in args if ctx.find_thread(a) != ctx.thread_id]
        return ctx.thread_id, rest
    for i, arg in enumerate(args):
        found = ctx.find_thread(arg)
        if found:
            return found, args[:i] + args[i + 1 :]
    return "", args


SQLITE_MAX_ID = 2**63 - 1
"""The largest row id SQLite's INTEGER holds; a larger number never names a row."""
_WHOLE = re.compile(r"#?([0-9]{1,19})")


def whole_number(text: str, low: int = 1, high: int = SQLITE_MAX_ID) -> int | None:
    """``text`` as a whole number from ``low`` to ``high`` (ASCII digits, an optional leading
    ``#``), else None. Not ``str.isdigit``: it takes a superscript two, which ``int`` refuses, and
    ``int`` takes digits of other scripts that nobody types for an id."""
    match = _WHOLE.fullmatch(text.strip())
    if match is None:
        return None
    number = int(match.group(1))
    return number if low <= number <= high else None


def split_args(text: str) -> list[str]:
    """Shell-like words; an unbalanced quote falls back to plain whitespace splitting."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


async def dispatch(registry: Registry, ctx: CommandContext, text: str) -> CommandReply:
    args = split_args(text)
    if not args or args[0].lower() in ("help", "-h", "--help"):
        return CommandReply(registry.help(ctx.role, args[1:]))
    spec, rest = registry.find(args)
    if spec is None:
        unknown = " ".join(args[:2])
        return CommandReply(f"Unknown command `{unknown}`.\n\n" + registry.help(ctx.role))
    if role_rank(ctx.role) < role_rank(spec.role):
        return refuse(
            ctx,
            " ".join(spec.words),
            f"`{registry.trigger} {' '.join(spec.words)}` needs the {spec.role} role; "
            f"you are a {ctx.role}. Ask a coordinator if you think this is wrong.",
            role=ctx.role,
        )
    return await spec.handler(ctx, rest)


def refuse(ctx: CommandContext, command: str, why: str, **data: Any) -> CommandReply:
    """Say no, and record the refusal in the audit trail."""
    ctx.audit.record(
        EventKind.COMMAND_REFUSED,
        ctx.now,
        ctx.thread_id,
        ctx.user_name,
        command=command,
        why=why,
        **data,
    )
    return CommandReply(why)
