"""The Mattermost adapter: REST through mattermostdriver off the event loop, with retries; the
driver's websocket with a client TLS context under one reconnecting supervisor; catch-up of posts
missed while disconnected; translation of events into ``models`` values on a queue.

Facts this module works around (see the driver's source): the released driver builds a server-side
SSL context for wss:// (broken on Python >= 3.10), never retries REST calls, reconnects
inconsistently and never replays events missed during a gap.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from mattermostdriver import Driver
from mattermostdriver.exceptions import (
    ContentTooLarge,
    FeatureDisabled,
    InvalidOrMissingParameters,
    MethodNotAllowed,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)

from dastbot.chat.base import AuthRejected, SendRefused
from dastbot.chat.http import sign_context
from dastbot.chat.mattermost_transport import (
    ClientWebsocket,
    SendFailed,
    ServerAddress,
    T,
    TlsFailed,
    backoff_delays,
    client_ssl_context,
    from_ms,
    reason_of,
    retry_after,
    status_of,
)
from dastbot.kernel.config import Config
from dastbot.kernel.markdown import POST_LIMIT
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import OutMessage, Post

log = logging.getLogger("dastbot.mattermost")
for _driver_logger in ("mattermostdriver.api", "mattermostdriver.websocket"):
    # The driver pins these to INFO at import; hand the choice back to the application.
    logging.getLogger(_driver_logger).setLevel(logging.NOTSET)
_CHANNEL_ID = re.compile(r"^[a-z0-9]{26}$")
_PERMANENT = (
    InvalidOrMissingParameters,
    NotEnoughPermissions,
    ResourceNotFound,
    MethodNotAllowed,
    ContentTooLarge,
    FeatureDisabled,
)
"""Statuses 400, 403, 404, 405, 413, 501: Mattermost's answer will not change on a retry."""


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
        self.user_id = ""
        self.user_name = ""
        self.team_id = ""
        self.channel_ids: dict[str, str] = {}
        self._followed: set[str] = set()
        self._watched: set[str] = set()
        self._channel_names: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._dm_channels: dict[str, str] = {}

    # REST -------------------------------------------------------------------------------------

    async def rest(
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
                    f"{what}: TLS to {self.address.base} failed ({reason_of(exc)}); for a private "
                    "certificate authority set DASTBOT_MATTERMOST_CA_FILE"
                ) from None
            except requests.HTTPError as exc:
                status = status_of(exc)
                last = f"HTTP {status}"
                if status == 429:
                    reason, wait = "429", retry_after(exc, delays())
                elif status is not None and status >= 500:
                    reason, wait = "5xx", delays()
                else:
                    raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason, wait = "network", delays()
                last = reason_of(exc)
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
            me: dict[str, Any] = await self.rest("login", self.driver.login)
        except AuthRejected:
            raise
        except requests.HTTPError as exc:
            raise AuthRejected(f"login failed: {exc}") from None
        self.user_id, self.user_name = me["id"], me["username"]
        try:
            team = await self.rest("team", self.driver.teams.get_team_by_name, self.config.team)
        except (ResourceNotFound, NotEnoughPermissions):
            raise ValueError(
                f"team {self.config.team!r} not found on {self.address.base} (or the bot is not "
                "a member): set team (DASTBOT_TEAM) to the team's name as in its URL, and add "
                "the bot to it"
            ) from None
        self.team_id = team["id"]
        wanted = [*self.config.channels, self.config.mattermost.coordinators_channel]
        for name in dict.fromkeys(wanted):
            try:
                channel = await self.rest(
                    "channel",
                    self.driver.channels.get_channel_by_name,
                    self.team_id,
                    name,
                )
            except ResourceNotFound:
                if name in self.config.channels:
                    raise ValueError(
                        f"channel {name!r} not found in team {self.config.team!r} "
                        "(or the bot is not a member): fix channels (DASTBOT_CHANNELS) or "
                        f"invite the bot (/invite @{self.user_name} in the channel)"
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
        channel = await self.rest(
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
        if len(msg.message) > POST_LIMIT:
            raise SendRefused(
                f"the message has {len(msg.message)} characters; Mattermost takes {POST_LIMIT}"
            )
        try:
            return await self._send(msg)
        except _PERMANENT as exc:
            raise SendRefused(f"{msg.channel_id}: {exc}") from None

    async def _send(self, msg: OutMessage) -> str:
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
        post: dict[str, Any] = await self.rest(
            f"post key={msg.key}",
            self.driver.posts.create_post,
            payload,
            before_retry=check,
        )
        return str(post["id"]) if isinstance(post, dict) else str(post)

    async def _upload(self, channel_id: str, files: tuple[tuple[str, bytes], ...]) -> list[str]:
        uploaded = await self.rest(
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
                listing = await self.rest("thread", self.driver.posts.get_thread, msg.root_id)
            else:
                channel = await self._channel_of(msg.channel_id)
                listing = await self.rest(
                    "since",
                    self.driver.posts.get_posts_for_channel,
                    channel,
                    params={"since": since_ms},
                )
        except _PERMANENT as exc:
            # The thread or channel is gone: the message can never be posted there.
            raise SendRefused(f"{msg.root_id or msg.channel_id}: {exc}") from None
        except (SendFailed, requests.HTTPError) as exc:
            log.warning("could not check whether key=%s was sent: %s", msg.key, exc)
            raise
        for post in listing.get("posts", {}).values():
            props = post.get("props") or {}
            if post.get("user_id") == self.user_id and props.get("dastbot_key") == msg.key:
                return str(post["id"])
        return None

    async def react(self, post_id: str, emoji: str) -> None:
        await self.rest(
            "react",
            self.driver.reactions.create_reaction,
            {"user_id": self.user_id, "post_id": post_id, "emoji_name": emoji},
        )

    async def user_id_of(self, user_name: str) -> str:
        user = await self.rest(
            "user", self.driver.users.get_user_by_username, user_name.lstrip("@")
        )
        return str(user["id"])

    async def user_name_of(self, user_id: str) -> str:
        if user_id not in self._names:
            user = await self.rest("user", self.driver.users.get_user, user_id)
            self._names[user_id] = str(user.get("username", user_id))
        return self._names[user_id]

    async def user_timezone(self, user_id: str) -> str | None:
        user = await self.rest("user", self.driver.users.get_user, user_id)
        zone = user.get("timezone") or {}
        automatic = str(zone.get("useAutomaticTimezone", "true")).lower() == "true"
        name = zone.get("automaticTimezone") if automatic else zone.get("manualTimezone")
        return str(name) if name else None

    async def direct_channel(self, user_name: str) -> str:
        if user_name not in self._dm_channels:
            other = await self.user_id_of(user_name)
            channel = await self.rest(
                "direct", self.driver.channels.create_direct_message_channel, [self.user_id, other]
            )
            self._dm_channels[user_name] = str(channel["id"])
        return self._dm_channels[user_name]

    async def user_ids(self, usernames: Sequence[str]) -> dict[str, str]:
        """Username -> user id of those of ``usernames`` that exist on the server."""
        found: dict[str, str] = {}
        names = list(dict.fromkeys(usernames))
        for first in range(0, len(names), 100):
            users = await self.rest(
                "users by username",
                self.driver.users.get_users_by_usernames,
                names[first : first + 100],
            )
            found.update({str(u["username"]): str(u["id"]) for u in users})
        return found

    async def check_destination(self, target: str) -> str:
        if target.startswith("@"):
            try:
                await self.rest("user", self.driver.users.get_user_by_username, target[1:])
            except ResourceNotFound:
                return f"{target}: no such user on {self.address.base}; fix contacts.yaml"
            return ""
        try:
            channel = await self.rest(
                "channel", self.driver.channels.get_channel_by_name, self.team_id, target
            )
        except (ResourceNotFound, NotEnoughPermissions):
            return (
                f"~{target}: no such channel in team {self.config.team}, or a private one the "
                f"bot is not in; create it or invite the bot (/invite @{self.user_name})"
            )
        try:
            await self.rest(
                "membership", self.driver.channels.get_channel_member, channel["id"], self.user_id
            )
        except (ResourceNotFound, NotEnoughPermissions):
            return f"~{target}: the bot is not a member; invite it (/invite @{self.user_name})"
        return ""

    def permalink(self, post_id: str) -> str:
        return f"{self.config.mattermost.url}/{self.config.team}/pl/{post_id}"

    # events -----------------------------------------------------------------------------------

    def to_post(
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
            create_at=from_ms(int(raw.get("create_at", 0))),
            root_id=str(raw.get("root_id") or ""),
            channel_name=channel_name or self._channel_names.get(channel_id, channel_id),
            channel_type=channel_type or "O",
            is_bot=str(props.get("from_bot", "")).lower() == "true",
            props=props,
        )

    def wanted(self, raw: dict[str, Any]) -> bool:
        """User posts the router should see: not system messages, not the bot's own. Channel
        rules (questions only in followed channels and DMs) are the router's."""
        return not raw.get("type") and raw.get("user_id") != self.user_id

    def remember(self, user_id: str, user_name: str, channel_id: str, channel_name: str) -> None:
        """Names learnt from a websocket event, so later posts need no lookup."""
        if user_name:
            self._names[user_id] = user_name
        if channel_name and channel_id:
            self._channel_names[channel_id] = channel_name

    async def direct_channels_since(self, since_ms: int) -> list[tuple[str, str]]:
        """The bot's direct and group message channels with a post after ``since_ms``: people
        who wrote to the bot while it was away (Mattermost lists them with the team's channels,
        each with ``last_post_at``, in one request)."""
        listing = await self.rest(
            "my channels", self.driver.channels.get_channels_for_user, self.user_id, self.team_id
        )
        return [
            (str(c["id"]), str(c["type"]))
            for c in listing or []
            if c.get("type") in ("D", "G") and int(c.get("last_post_at") or 0) > since_ms
        ]

    def followed_channels(self) -> list[str]:
        """The channels whose posts the bot catches up on: the help channels and every channel
        it posted an escalation into."""
        return sorted(self._followed | self._watched)

    def websocket(self) -> ClientWebsocket:
        return ClientWebsocket(self._options, self._token, self._ssl)
