"""A terminal chat on the same core loop as Mattermost: ``Console`` is the feed (entries become
posts and reactions, yielded to the loop), ``ConsoleChat`` prints what the bot sends, its markdown
rendered for a terminal (``terminal``); ``/dast`` lines are commands.

Meta-lines make it a simulator: ``:as NAME`` switches the user, ``:wait 90m`` moves the clock and
runs what fell due, ``:in ID`` writes into a thread (``:out`` leaves it), ``:react ID EMOJI`` and
``:click ID BUTTON`` give feedback, ``:tz ZONE`` sets the user's time zone, ``:paste`` ... ``:end``
sends a block of lines as one post (``console_input``), ``:help`` lists them.

Post ids (``p1``, ``p2`` ...) continue from the last run on the same database when the caller
passes where the counter is kept (``first_id`` and ``on_new_id``), so that a second run's posts are
not mistaken for the first run's.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dastbot.chat.base import ChatEvent
from dastbot.chat.console_input import LineReader, Lines, next_entry
from dastbot.chat.terminal import render
from dastbot.kernel.clock import Clock
from dastbot.kernel.models import Click, Command, OutMessage, Post, Reaction

CHANNEL_ID = "dast-help"
BOT_ID = "dastbot"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}

META_HELP = """Console meta-lines:
  :as NAME            post as another user (default alice)
  :wait DURATION      move the clock (90m, 2h, 2d, 1w) and run what fell due
  :in POST            write the next lines into POST's thread; :out to leave it
  :react POST EMOJI   react to a post (white_check_mark = helped, x = did not help)
  :click POST BUTTON  press a button on a bot post (helped, nothelped, take, resolve)
  :tz ZONE            your time zone, e.g. :tz America/Chicago (:tz alone shows it)
  :paste              send the following lines as one post, up to a line :end
  :now                show the simulated time
  :help               this text
Lines starting with /dast are slash commands; anything else is a post in the channel. A line
ending in \\ continues on the next line; at a terminal a pasted block is one post."""
BANNER = (
    "dastbot console: type a question, /dast help, or :help. Paste a log as one post with "
    ":paste ... :end. Ctrl-D quits."
)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 90m, 2h, 2d)")
    unit = (match.group(2) or "m").lower()
    return timedelta(seconds=float(match.group(1)) * _UNITS[unit])


class ConsoleChat:
    """The Chat protocol printed to a terminal; post ids are short (p1, p2, ...) and continue
    from ``first_id``; ``on_new_id`` is told each new number (to keep it for the next run)."""

    def __init__(
        self,
        out: TextIO,
        clock: Clock,
        first_id: int = 0,
        on_new_id: Callable[[int], None] | None = None,
        color: bool = False,
    ) -> None:
        self.out = out
        self.clock = clock
        self._counter = first_id
        self._on_new_id = on_new_id
        self.color = color
        self.posts: dict[str, Post | OutMessage] = {}
        self.buttons: dict[str, dict[str, dict[str, object]]] = {}
        self.timezone: str | None = None
        """Everybody's time zone unless set per user in ``timezones``."""
        self.timezones: dict[str, str] = {}

    def resume_ids(self, first_id: int, on_new_id: Callable[[int], None]) -> None:
        """Continue numbering after ``first_id``, telling ``on_new_id`` each new number."""
        self._counter = max(self._counter, first_id)
        self._on_new_id = on_new_id

    def next_id(self) -> str:
        self._counter += 1
        if self._on_new_id is not None:
            self._on_new_id(self._counter)
        return f"p{self._counter}"

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def send(self, msg: OutMessage) -> str:
        post_id = self.next_id()
        self.posts[post_id] = msg
        where = f" in thread {msg.root_id}" if msg.root_id else ""
        channel = "" if msg.channel_id == CHANNEL_ID else f" to {msg.channel_id}"
        stamp = self.clock.now().strftime("%a %H:%M UTC")
        self.write(f"[{post_id}] dastbot{channel}{where} ({stamp}):")
        for line in render(msg.message, self.color).splitlines():
            self.write(f"    {line}" if line else "")
        for name, data in msg.files:
            self.write(f"    (attachment {name}, {len(data) // 1024 + 1} KB)")
        if msg.buttons:
            self.buttons[post_id] = {b.id: dict(b.context) for b in msg.buttons}
            self.write(
                "    " + "  ".join(f"[{b.name}: :click {post_id} {b.id}]" for b in msg.buttons)
            )
        return post_id

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        return None

    async def user_timezone(self, user_id: str) -> str | None:
        return self.timezones.get(user_id, self.timezone)

    async def react(self, post_id: str, emoji: str) -> None:
        self.write(f"(dastbot reacted :{emoji}: to {post_id})")

    async def direct_channel(self, user_name: str) -> str:
        return f"dm-{user_name}"

    async def check_destination(self, target: str) -> str:
        return ""

    def permalink(self, post_id: str) -> str:
        return f"console://{post_id}"


class Console:
    """The console's ``Feed``: reads entries; posts and reactions go to the core loop as events,
    commands and button clicks are answered at once (as Mattermost's HTTP callbacks are).

    ``known_thread`` says whether a post id from an earlier run names a question thread (so that
    ``:in p3`` works after a restart); ``on_timezone`` is told when ``:tz`` sets a user's zone."""

    in_sync = True

    def __init__(
        self,
        chat: ConsoleChat,
        on_command: Callable[[Command], Awaitable[object]],
        on_click: Callable[[Click], Awaitable[str]],
        wait: Callable[[timedelta], Awaitable[None]],
        user: str = "alice",
        stream: TextIO = sys.stdin,
        lines: Lines | None = None,
        known_thread: Callable[[str], bool] = lambda _post: False,
        on_timezone: Callable[[str, str], None] = lambda _user, _zone: None,
        banner: str = "",
    ) -> None:
        self.chat = chat
        self.on_command = on_command
        self.on_click = on_click
        self.wait = wait
        self.user = user
        self.thread = ""
        self.stream = stream
        self.lines = lines or LineReader(stream, chat.out, interactive=stream.isatty())
        self.known_thread = known_thread
        self.on_timezone = on_timezone
        self.banner = banner

    async def line(self, raw: str) -> Post | Reaction | None:
        """Act on one entry (a line, or the lines of one post); a post or reaction is returned
        for the core loop."""
        text = raw.rstrip("\n")
        if not text.strip():
            return None
        if text.startswith(":"):
            return await self._meta(text[1:].strip())
        if text.startswith("/dast"):
            await self._command(text[len("/dast") :].strip())
            return None
        post = Post(
            id=self.chat.next_id(),
            channel_id=CHANNEL_ID,
            user_id=self.user,
            user_name=self.user,
            message=text,
            create_at=self.chat.clock.now(),
            root_id=self.thread,
            channel_name=CHANNEL_ID,
        )
        self.chat.posts[post.id] = post
        where = f" in thread {self.thread}" if self.thread else ""
        first, *more = text.splitlines()
        self.chat.write(f"[{post.id}] {self.user}{where}: {first}")
        for line in more:
            self.chat.write(f"    {line}")
        return post

    async def _command(self, text: str) -> None:
        command = Command(
            user_id=self.user,
            user_name=self.user,
            channel_id=CHANNEL_ID,
            text=text,
            channel_name=CHANNEL_ID,
            root_id=self.thread,
        )
        reply = await self.on_command(command)
        in_channel = getattr(reply, "in_channel", False)
        label = "dastbot (in channel)" if in_channel else "dastbot (only you see this)"
        self.chat.write(f"{label}:")
        for line in render(str(getattr(reply, "text", reply)), self.chat.color).splitlines():
            self.chat.write(f"    {line}" if line else "")

    async def _meta(self, text: str) -> Reaction | None:
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        if word == "as" and rest:
            self.user = rest.lstrip("@")
            self.chat.write(f"(now posting as {self.user})")
        elif word == "wait" and rest:
            try:
                delta = parse_duration(rest)
            except ValueError as exc:
                self.chat.write(f"(error: {exc})")
                return None
            await self.wait(delta)
            self.chat.write(f"(time is now {self._now()})")
        elif word == "in" and rest:
            self._enter(rest)
        elif word == "out":
            self.thread = ""
            self.chat.write("(writing in the channel)")
        elif word == "react" and len(rest.split()) == 2:
            post_id, emoji = rest.split()
            self.chat.write(f"({self.user} reacted :{emoji.strip(':')}: to {post_id})")
            return Reaction(self.user, post_id, CHANNEL_ID, emoji.strip(":"))
        elif word == "click" and len(rest.split()) == 2:
            await self._click(*rest.split())
        elif word == "tz":
            self._timezone(rest)
        elif word == "now":
            self.chat.write(f"(time is {self._now()})")
        elif word in ("paste", "end"):
            self.chat.write(f"(:{word} works only on a line of its own; see :help)")
        else:
            self.chat.write(META_HELP)
        return None

    def _now(self) -> str:
        now = self.chat.clock.now()
        text = f"{now:%a %Y-%m-%d %H:%M} UTC"
        zone = self.chat.timezones.get(self.user)
        if zone:
            text += f", {now.astimezone(ZoneInfo(zone)):%a %H:%M %Z} for {self.user}"
        return text

    def _enter(self, post_id: str) -> None:
        target = self.chat.posts.get(post_id)
        if target is not None:
            self.thread = target.root_id or post_id
        elif self.known_thread(post_id):
            self.thread = post_id  # a question from an earlier run on this database
        else:
            self.chat.write(f"(error: no post {post_id})")
            return
        self.chat.write(f"(writing in thread {self.thread}; :out to leave)")

    async def _click(self, post_id: str, button: str) -> None:
        context = self.chat.buttons.get(post_id, {}).get(button)
        if context is None:
            self.chat.write(f"(error: post {post_id} has no button {button})")
            return
        answer = await self.on_click(
            Click(self.user, self.user, CHANNEL_ID, post_id, context=context)
        )
        self.chat.write(f"dastbot (only you see this): {render(answer, self.chat.color)}")

    def _timezone(self, zone: str) -> None:
        if not zone:
            current = self.chat.timezones.get(self.user) or self.chat.timezone or "UTC (not set)"
            self.chat.write(f"(time zone of {self.user}: {current})")
            return
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.chat.write(f"(error: unknown time zone {zone!r}; e.g. Europe/Zurich)")
            return
        self.chat.timezones[self.user] = zone
        self.on_timezone(self.user, zone)
        self.chat.write(f"(time zone of {self.user} is now {zone})")

    def failed(self, post: Post) -> None:
        self.chat.write(f"(error: post {post.id} could not be handled; see the log)")

    async def events(self) -> AsyncIterator[ChatEvent]:
        """Every post and reaction typed, until end of input."""
        if self.lines.interactive:
            self.chat.write(self.banner or BANNER)
        try:
            while True:
                prompt = f"{self.user}> " if self.lines.interactive else ""
                raw = await asyncio.to_thread(next_entry, self.lines, prompt)
                if raw is None:
                    break
                event = await self.line(raw)
                if event is not None:
                    yield event
        finally:
            closer = getattr(self.lines, "close", None)
            if closer is not None:
                closer()
