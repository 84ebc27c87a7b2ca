"""A terminal chat on the same core loop as Mattermost: ``Console`` is the feed (lines become posts
and reactions, yielded to the loop), ``ConsoleChat`` prints what the bot sends; ``/dast`` lines
are commands.

Meta-lines make it a simulator: ``:as NAME`` switches the user, ``:wait 90m`` moves the clock and
runs what fell due, ``:in ID`` writes into a thread (``:out`` leaves it), ``:react ID EMOJI`` and
``:click ID BUTTON`` give feedback, ``:help`` lists them.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TextIO

from dastbot.chat.base import ChatEvent
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
  :click POST BUTTON  press a button on a bot post (helped, nothelped)
  :now                show the simulated time
  :help               this text
Lines starting with /dast are slash commands; anything else is a post in the channel."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 90m, 2h, 2d)")
    unit = (match.group(2) or "m").lower()
    return timedelta(seconds=float(match.group(1)) * _UNITS[unit])


class ConsoleChat:
    """The Chat protocol printed to a terminal; post ids are short (p1, p2, ...)."""

    def __init__(self, out: TextIO, clock: Clock) -> None:
        self.out = out
        self.clock = clock
        self._counter = 0
        self.posts: dict[str, Post | OutMessage] = {}
        self.buttons: dict[str, dict[str, dict[str, object]]] = {}
        self.timezone: str | None = None

    def next_id(self) -> str:
        self._counter += 1
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
        for line in msg.message.splitlines():
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
        return self.timezone

    async def react(self, post_id: str, emoji: str) -> None:
        self.write(f"(dastbot reacted :{emoji}: to {post_id})")

    async def direct_channel(self, user_name: str) -> str:
        return f"dm-{user_name}"

    async def check_destination(self, target: str) -> str:
        return ""

    def permalink(self, post_id: str) -> str:
        return f"console://{post_id}"


class Console:
    """The console's ``Feed``: reads lines; posts and reactions go to the core loop as events,
    commands and button clicks are answered at once (as Mattermost's HTTP callbacks are)."""

    in_sync = True

    def __init__(
        self,
        chat: ConsoleChat,
        on_command: Callable[[Command], Awaitable[object]],
        on_click: Callable[[Click], Awaitable[str]],
        wait: Callable[[timedelta], Awaitable[None]],
        user: str = "alice",
        stream: TextIO = sys.stdin,
    ) -> None:
        self.chat = chat
        self.on_command = on_command
        self.on_click = on_click
        self.wait = wait
        self.user = user
        self.thread = ""
        self.stream = stream

    async def line(self, raw: str) -> Post | Reaction | None:
        """Act on one typed line; a post or reaction is returned for the core loop."""
        text = raw.rstrip("\n")
        if not text.strip():
            return None
        if text.startswith(":"):
            return await self._meta(text[1:].strip())
        if text.startswith("/dast"):
            command = Command(
                user_id=self.user,
                user_name=self.user,
                channel_id=CHANNEL_ID,
                text=text[len("/dast") :].strip(),
                channel_name=CHANNEL_ID,
                root_id=self.thread,
            )
            reply = await self.on_command(command)
            in_channel = getattr(reply, "in_channel", False)
            label = "dastbot (in channel)" if in_channel else "dastbot (only you see this)"
            self.chat.write(f"{label}:")
            for line in str(getattr(reply, "text", reply)).splitlines():
                self.chat.write(f"    {line}" if line else "")
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
        self.chat.write(f"[{post.id}] {self.user}{where}: {text}")
        return post

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
            self.chat.write(f"(time is now {self.chat.clock.now():%a %Y-%m-%d %H:%M} UTC)")
        elif word == "in" and rest:
            if rest not in self.chat.posts:
                self.chat.write(f"(error: no post {rest})")
                return None
            target = self.chat.posts[rest]
            self.thread = target.root_id or (target.id if isinstance(target, Post) else rest)
            self.chat.write(f"(writing in thread {self.thread}; :out to leave)")
        elif word == "out":
            self.thread = ""
            self.chat.write("(writing in the channel)")
        elif word == "react" and len(rest.split()) == 2:
            post_id, emoji = rest.split()
            self.chat.write(f"({self.user} reacted :{emoji.strip(':')}: to {post_id})")
            return Reaction(self.user, post_id, CHANNEL_ID, emoji.strip(":"))
        elif word == "click" and len(rest.split()) == 2:
            post_id, button = rest.split()
            context = self.chat.buttons.get(post_id, {}).get(button)
            if context is None:
                self.chat.write(f"(error: post {post_id} has no button {button})")
                return None
            answer = await self.on_click(
                Click(self.user, self.user, CHANNEL_ID, post_id, context=context)
            )
            self.chat.write(f"dastbot (only you see this): {answer}")
        elif word == "now":
            self.chat.write(f"(time is {self.chat.clock.now():%a %Y-%m-%d %H:%M} UTC)")
        else:
            self.chat.write(META_HELP)
        return None

    def failed(self, post: Post) -> None:
        self.chat.write(f"(error: post {post.id} could not be handled; see the log)")

    async def events(self) -> AsyncIterator[ChatEvent]:
        """Every post and reaction typed, until end of input."""
        interactive = self.stream.isatty()
        if interactive:
            self.chat.write("dastbot console: type a question, /dast help, or :help. Ctrl-D quits.")
        while True:
            if interactive:
                self.chat.out.write(f"{self.user}> ")
                self.chat.out.flush()
            raw = await asyncio.to_thread(self.stream.readline)
            if not raw:
                break
            event = await self.line(raw)
            if event is not None:
                yield event
