"""The Mattermost adapter: REST through mattermostdriver off the event loop, with retries; the
driver's websocket with a client TLS context under one reconnecting supervisor; catch-up of posts
missed while disconnected; translation of events into ``models`` values on a queue.

Facts this module works around (see the driver's source): the released driver builds a server-side
SSL context for wss:// (broken on Python >= 3.10), never retries REST calls, reconnects
inconsistently and never replays events missed during a gap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import websockets
from mattermostdriver import Driver
from mattermostdriver.exceptions import NoAccessTokenProvided, ResourceNotFound
from mattermostdriver.websocket import Websocket

from dastbot.chat.http import sign_context
from dastbot.kernel.config import Config
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import OutMessage, Post, Reaction

log = logging.getLogger("dastbot.mattermost")
for _driver_logger in ("mattermostdriver.api", "mattermostdriver.websocket"):
    # The driver pins these to INFO at import; hand the choice back to the application.
    logging.getLogger(_driver_logger).setLevel(logging.NOTSET)
T = TypeVar("T")

CURSOR_KEY = "mattermost.cursor_ms"
_CHANNEL_ID = re.compile(r"^[a-z0-9]{26}$")
BACKOFF_START = 1.0
BACKOFF_FACTOR = 1.75
BACKOFF_MAX = 300.0


class AuthRejected(Exception):
    """The server refused the bot's token: retrying cannot help."""


class SendFailed(Exception):
    """A REST call still failed after every retry."""


class TlsFailed(ValueError):
    """The server's certificate was not accepted: retrying cannot help."""


@dataclass(frozen=True)
class ServerAddress:
    scheme: str
    host: str
    port: int
    basepath: str = "/api/v4"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a Mattermost URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 8065)
        return cls(parts.scheme, parts.hostname, port)


def client_ssl_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client context (Purpose.SERVER_AUTH), unlike the driver's server-side one."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def backoff_delays(
    start: float = BACKOFF_START, factor: float = BACKOFF_FACTOR, cap: float = BACKOFF_MAX
) -> Callable[[], float]:
    """Successive delays with full jitter between half and all of an exponentially growing step."""
    step = start

    def next_delay() -> float:
        nonlocal step
        delay = step * random.uniform(0.5, 1.0)
        step = min(step * factor, cap)
        return delay

    return next_delay


class ClientWebsocket(Websocket):  # type: ignore[misc]
    """The driver's Websocket with a client TLS context and one connection per ``connect`` call;
    the supervisor decides about reconnecting."""

    def __init__(self, options: dict[str, Any], token: str, context: ssl.SSLContext | None) -> None:
        super().__init__(options, token)
        self._context = context
        self._socket: Any = None

    async def connect(self, event_handler: Callable[[str], Awaitable[None]]) -> None:
        scheme = "wss" if self.options["scheme"] == "https" else "ws"
        url = (
            f"{scheme}://{self.options['url']}:{self.options['port']}"
            f"{self.options['basepath']}/websocket"
        )
        timeout = float(self.options["timeout"])
        async with websockets.connect(
            url,
            ssl=self._context if scheme == "wss" else None,
            open_timeout=timeout,
            ping_interval=20,
            ping_timeout=timeout,
            close_timeout=2,
            max_size=2**24,
        ) as socket:
            self._socket = socket
            challenge = {
                "seq": 1,
                "action": "authentication_challenge",
                "data": {"token": self._token},
            }
            await socket.send(json.dumps(challenge))
            await asyncio.wait_for(self._until_hello(socket, event_handler), timeout)
            async for message in socket:
                await event_handler(message if isinstance(message, str) else message.decode())

    async def _until_hello(self, socket: Any, handler: Callable[[str], Awaitable[None]]) -> None:
        while True:
            message = await socket.recv()
            await handler(message)
            data = json.loads(message)
            if data.get("event") == "hello" and data.get("seq") == 0:
                return

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()


def _status_of(exc: requests.HTTPError) -> int | None:
    response = getattr(exc, "response", None)
    return None if response is None else int(response.status_code)


def _retry_after(exc: requests.HTTPError, default: float) -> float:
    response = getattr(exc, "response", None)
    if response is None:
        return default
    for header in ("Retry-After", "X-RateLimit-Reset"):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, min(float(value), 120.0))
            except ValueError:
                continue
    return default


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, short enough for one log line."""
    text = str(exc)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "Connection refused", "timed out"):
        if marker in text:
            return marker if marker != "CERTIFICATE_VERIFY_FAILED" else "certificate verify failed"
    return text[:200]


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class MattermostChat:
    """The Chat protocol over a Mattermost server, plus the event feed for the router."""

    def __init__(
        self,
        config: Config,
        token: str,
        metrics: Metrics | None = None,
        attempts: int = 6,
        retry_base: float = 0.25,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.address = ServerAddress.parse(config.mattermost.url)
        self._token = token
        self._attempts = attempts
        self._retry_base = retry_base
        settings = config.mattermost
        verify: bool | str = settings.verify
        if settings.verify and settings.ca_file:
            verify = str(config.resolve(settings.ca_file))
        self._options: dict[str, Any] = {
            "url": self.address.host,
            "port": self.address.port,
            "scheme": self.address.scheme,
            "basepath": self.address.basepath,
            "token": token,
            "verify": verify,
            "timeout": settings.timeout,
            "request_timeout": settings.timeout,
            "keepalive": False,
            "keepalive_delay": 5,
            "websocket_kw_args": None,
            "debug": False,
        }
        self.driver = Driver(dict(self._options))
        self._ssl = (
            client_ssl_context(
                settings.verify,
                str(config.resolve(settings.ca_file)) if settings.ca_file else None,
            )
            if self.address.scheme == "https"
            else None
        )
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.user_id = ""
        self.user_name = ""
        self.team_id = ""
        self.channel_ids: dict[str, str] = {}
        self._followed: set[str] = set()
        self._watched: set[str] = set()
        self._channel_names: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._dm_channels: dict[str, str] = {}
        self._socket: ClientWebsocket | None = None
        self._stopping = False
        self.cursor_ms = 0
        self.hellos = 0
        """How many times the websocket said hello: each one starts a new connection."""

    # REST -------------------------------------------------------------------------------------

    async def _rest(
        self,
        what: str,
        call: Callable[..., T],
        *args: Any,
        before_retry: Callable[[], Awaitable[T | None]] | None = None,
        **kwargs: Any,
    ) -> T:
        """One REST call off the event loop: 429 waits Retry-After; 5xx, timeouts and refused
        connections back off with jitter; a rejected token raises AuthRejected."""
        delays = backoff_delays(self._retry_base, 2.0, 10.0)
        last = ""
        for attempt in range(1, self._attempts + 1):
            try:
                return await asyncio.to_thread(call, *args, **kwargs)
            except NoAccessTokenProvided as exc:
                raise AuthRejected(f"{what}: the server rejected the bot token ({exc})") from None
            except requests.exceptions.SSLError as exc:
                raise TlsFailed(
                    f"{what}: TLS to {self.address.base} failed ({_reason(exc)}); for a private "
                    "certificate authority set DASTBOT_MATTERMOST_CA_FILE"
                ) from None
            except requests.HTTPError as exc:
                status = _status_of(exc)
                last = f"HTTP {status}"
                if status == 429:
                    reason, wait = "429", _retry_after(exc, delays())
                elif status is not None and status >= 500:
                    reason, wait = "5xx", delays()
                else:
                    raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason, wait = "network", delays()
                last = _reason(exc)
                log.debug("%s: %s", what, exc)
            if attempt == self._attempts:
                break
            self.metrics.send_retries.labels(reason).inc()
            log.warning("%s failed (%s); retry %d in %.2fs", what, reason, attempt, wait)
            await asyncio.sleep(wait)
            if before_retry is not None and reason != "429":
                done = await before_retry()
                if done is not None:
                    return done
        raise SendFailed(f"{what}: still failing after {self._attempts} attempts ({last})")

    async def login(self) -> dict[str, Any]:
        """Check the token, learn who the bot is, and resolve the team and its channels."""
        try:
            me: dict[str, Any] = await self._rest("login", self.driver.login)
        except AuthRejected:
            raise
        except requests.HTTPError as exc:
            raise AuthRejected(f"login failed: {exc}") from None
        self.user_id, self.user_name = me["id"], me["username"]
        team = await self._rest("team", self.driver.teams.get_team_by_name, self.config.team)
        self.team_id = team["id"]
        wanted = [*self.config.channels, self.config.mattermost.coordinators_channel]
        for name in dict.fromkeys(wanted):
            try:
                channel = await self._rest(
                    "channel",
                    self.driver.channels.get_channel_by_name,
                    self.team_id,
                    name,
                )
            except ResourceNotFound:
                if name in self.config.channels:
                    raise ValueError(
                        f"channel {name!r} not found in team {self.config.team!r} "
                        "(or the bot is not a member)"
                    ) from None
                log.warning("channel %s not found; coordinator messages will fail", name)
                continue
            self.channel_ids[name] = channel["id"]
            self._channel_names[channel["id"]] = name
        self._followed = {self.channel_ids[n] for n in self.config.channels}
        return me

    async def _channel_of(self, target: str) -> str:
        """A channel id from an id, a channel name of the team, or ``@user`` for a DM."""
        if target.startswith("@"):
            return await self.direct_channel(target[1:])
        if target in self.channel_ids:
            return self.channel_ids[target]
        if _CHANNEL_ID.match(target):
            return target
        channel = await self._rest(
            "channel", self.driver.channels.get_channel_by_name, self.team_id, target
        )
        self.channel_ids[target] = channel["id"]
        self._channel_names[channel["id"]] = target
        return str(channel["id"])

    async def watch(self, target: str) -> None:
        """Also catch up on this channel after reconnects (escalation threads live there)."""
        channel = await self._channel_of(target)
        if channel not in self._followed:
            self._watched.add(channel)

    def _post_payload(self, msg: OutMessage, channel_id: str) -> dict[str, Any]:
        props: dict[str, Any] = {"dastbot_key": msg.key}
        if msg.buttons:
            url = self.config.http.public_url.rstrip("/") + "/actions"
            props["attachments"] = [
                {
                    "text": "",
                    "actions": [
                        {
                            "id": b.id,
                            "type": "button",
                            "name": b.name,
                            "style": b.style,
                            "integration": {"url": url, "context": self._signed(b.context)},
                        }
                        for b in msg.buttons
                    ],
                }
            ]
        payload: dict[str, Any] = {
            "channel_id": channel_id,
            "message": msg.message,
            "props": props,
        }
        if msg.root_id:
            payload["root_id"] = msg.root_id
        return payload

    def _signed(self, context: Mapping[str, Any]) -> dict[str, Any]:
        signed = dict(context)
        secret = self.config.slash_token
        if secret is not None:
            signed["sig"] = sign_context(secret.get_secret_value(), signed)
        return signed

    async def send(self, msg: OutMessage) -> str:
        started = datetime.now(UTC)

        async def check() -> dict[str, Any] | None:
            existing = await self.already_sent(msg, started)
            return None if existing is None else {"id": existing}

        channel_id = await self._channel_of(msg.channel_id)
        if not msg.root_id and channel_id not in self._followed:
            self._watched.add(channel_id)
        payload = self._post_payload(msg, channel_id)
        if msg.files:
            payload["file_ids"] = await self._upload(channel_id, msg.files)
        post: dict[str, Any] = await self._rest(
            f"post key={msg.key}",
            self.driver.posts.create_post,
            payload,
            before_retry=check,
        )
        return str(post["id"]) if isinstance(post, dict) else str(post)

    async def _upload(self, channel_id: str, files: tuple[tuple[str, bytes], ...]) -> list[str]:
        uploaded = await self._rest(
            "upload",
            self.driver.files.upload_file,
            channel_id,
            [("files", (name, data)) for name, data in files],
        )
        return [str(info["id"]) for info in uploaded.get("file_infos", [])]

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        if not msg.key:
            return None
        since_ms = int(since.timestamp() * 1000) - 60_000
        try:
            if msg.root_id:
                listing = await self._rest("thread", self.driver.posts.get_thread, msg.root_id)
            else:
                channel = await self._channel_of(msg.channel_id)
                listing = await self._rest(
                    "since",
                    self.driver.posts.get_posts_for_channel,
                    channel,
                    params={"since": since_ms},
                )
        except (SendFailed, requests.HTTPError) as exc:
            log.warning("could not check whether key=%s was sent: %s", msg.key, exc)
            raise
        for post in listing.get("posts", {}).values():
            props = post.get("props") or {}
            if post.get("user_id") == self.user_id and props.get("dastbot_key") == msg.key:
                return str(post["id"])
        return None

    async def react(self, post_id: str, emoji: str) -> None:
        await self._rest(
            "react",
            self.driver.reactions.create_reaction,
            {"user_id": self.user_id, "post_id": post_id, "emoji_name": emoji},
        )

    async def user_id_of(self, user_name: str) -> str:
        user = await self._rest(
            "user", self.driver.users.get_user_by_username, user_name.lstrip("@")
        )
        return str(user["id"])

    async def user_name_of(self, user_id: str) -> str:
        if user_id not in self._names:
            user = await self._rest("user", self.driver.users.get_user, user_id)
            self._names[user_id] = str(user.get("username", user_id))
        return self._names[user_id]

    async def user_timezone(self, user_id: str) -> str | None:
        user = await self._rest("user", self.driver.users.get_user, user_id)
        zone = user.get("timezone") or {}
        automatic = str(zone.get("useAutomaticTimezone", "true")).lower() == "true"
        name = zone.get("automaticTimezone") if automatic else zone.get("manualTimezone")
        return str(name) if name else None

    async def direct_channel(self, user_name: str) -> str:
        if user_name not in self._dm_channels:
            other = await self.user_id_of(user_name)
            channel = await self._rest(
                "direct", self.driver.channels.create_direct_message_channel, [self.user_id, other]
            )
            self._dm_channels[user_name] = str(channel["id"])
        return self._dm_channels[user_name]

    def permalink(self, post_id: str) -> str:
        return f"{self.config.mattermost.url}/{self.config.team}/pl/{post_id}"

    # events -----------------------------------------------------------------------------------

    def _to_post(
        self,
        raw: dict[str, Any],
        user_name: str = "",
        channel_name: str = "",
        channel_type: str = "",
    ) -> Post:
        props = raw.get("props") or {}
        channel_id = str(raw.get("channel_id", ""))
        return Post(
            id=str(raw["id"]),
            channel_id=str(raw.get("channel_id", "")),
            user_id=str(raw.get("user_id", "")),
            user_name=user_name or self._names.get(str(raw.get("user_id", "")), ""),
            message=str(raw.get("message", "")),
            create_at=_from_ms(int(raw.get("create_at", 0))),
            root_id=str(raw.get("root_id") or ""),
            channel_name=channel_name or self._channel_names.get(channel_id, channel_id),
            channel_type=channel_type or "O",
            is_bot=str(props.get("from_bot", "")).lower() == "true",
            props=props,
        )

    def _wanted(self, raw: dict[str, Any]) -> bool:
        """User posts the router should see: not system messages, not the bot's own. Channel
        rules (questions only in followed channels and DMs) are the router's."""
        return not raw.get("type") and raw.get("user_id") != self.user_id

    async def _on_message(self, message: str) -> None:
        """Parse and enqueue only: the driver cancels slow handlers."""
        try:
            data = json.loads(message)
        except ValueError:
            log.warning("ignored a websocket frame that is not JSON")
            return
        event = data.get("event")
        payload = data.get("data") or {}
        if event == "hello":
            self.hellos += 1
            self.disconnected.clear()
            self.connected.set()
            self.events.put_nowait(("hello", None))
        elif event in ("posted", "post_edited"):
            try:
                raw = json.loads(payload.get("post", "{}"))
            except ValueError:
                return
            if not self._wanted(raw):
                return
            name = str(payload.get("sender_name", "")).lstrip("@")
            if name:
                self._names[str(raw.get("user_id"))] = name
            channel_name = str(payload.get("channel_name", ""))
            if channel_name and raw.get("channel_id"):
                self._channel_names[str(raw["channel_id"])] = channel_name
            post = self._to_post(raw, name, channel_name, str(payload.get("channel_type", "")))
            self.events.put_nowait(("post" if event == "posted" else "edit", post))
        elif event in ("reaction_added", "reaction_removed"):
            try:
                raw = json.loads(payload.get("reaction", "{}"))
            except ValueError:
                return
            reaction = Reaction(
                user_id=str(raw.get("user_id", "")),
                post_id=str(raw.get("post_id", "")),
                channel_id=str(raw.get("channel_id", "")),
                emoji=str(raw.get("emoji_name", "")),
                added=event == "reaction_added",
            )
            self.events.put_nowait(("reaction", reaction))

    async def missed_posts(self, since_ms: int) -> list[Post]:
        """Posts made in the followed and watched channels since ``since_ms``, oldest first."""
        found: list[dict[str, Any]] = []
        for channel in sorted(self._followed | self._watched):
            listing = await self._rest(
                "catch-up",
                self.driver.posts.get_posts_for_channel,
                channel,
                params={"since": since_ms},
            )
            for raw in listing.get("posts", {}).values():
                if (
                    self._wanted(raw)
                    and int(raw.get("create_at", 0)) > since_ms
                    and not raw.get("delete_at")
                ):
                    found.append(raw)
        found.sort(key=lambda raw: int(raw.get("create_at", 0)))
        posts = []
        for raw in found:
            name = await self.user_name_of(str(raw.get("user_id", "")))
            posts.append(self._to_post(raw, name))
        return posts

    async def catch_up(self, since_ms: int) -> int:
        """Queue posts made in the followed channels since ``since_ms`` (oldest first)."""
        posts = await self.missed_posts(since_ms)
        for post in posts:
            self.events.put_nowait(("post", post))
        if posts:
            log.info("caught up on %d post(s) made while disconnected", len(posts))
        return len(posts)

    async def run(self) -> None:
        """Stay connected until ``stop``; AuthRejected ends the loop for good."""
        delays = backoff_delays()
        first = True
        while not self._stopping:
            if not first:
                self.metrics.reconnects.inc()
            first = False
            self.connected.clear()
            self._socket = ClientWebsocket(self._options, self._token, self._ssl)
            hello_seen = False

            async def handler(message: str) -> None:
                nonlocal hello_seen, delays
                if not hello_seen and '"hello"' in message:
                    hello_seen = True
                    delays = backoff_delays()
                await self._on_message(message)

            try:
                await self._socket.connect(handler)
                log.warning("websocket closed by the server")
            except (TimeoutError, websockets.ConnectionClosed, OSError) as exc:
                log.warning("websocket lost: %s", exc.__class__.__name__)
            except websockets.InvalidStatus as exc:
                log.warning("websocket refused: HTTP %s", exc.response.status_code)
            except Exception as exc:
                log.warning("websocket error: %s", exc)
            self.connected.clear()
            self.disconnected.set()
            if self._stopping:
                break
            if not hello_seen:
                await self._check_token()
            delay = delays()
            log.info("reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _check_token(self) -> None:
        """A socket dropped before hello may mean a revoked token: ask REST, which says 401."""
        try:
            await self._rest("token check", self.driver.users.get_user, "me")
        except AuthRejected:
            raise
        except Exception as exc:
            log.debug("token check inconclusive: %s", exc)

    async def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            await self._socket.close()
