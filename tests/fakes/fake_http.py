"""The HTTP side of the fake Mattermost server: REST routes, middlewares and test-only routes.

Owns: the aiohttp application (``/api/v4`` routes the bot uses, the websocket route, the slash
command ``response_url`` hooks and the ``/_fake/*`` fault-injection routes), bearer-token auth,
AppError bodies, ``Content-Type: application/json`` without a charset, the 301 on ``//``, and the
REST faults (injected 429/5xx, delays).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from .fake_integrations import Integrations
from .fake_model import (
    JSON,
    SERVER_VERSION,
    Channel,
    FakeAppError,
    User,
    bad_param,
    dumps,
)
from .fake_state import FakeState
from .fake_ws import WebsocketHub, token_from_header

log = logging.getLogger(__name__)

API = "/api/v4"
WS_PATH = f"{API}/websocket"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: object, status: int = 200) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly, as the driver requires."""
    return web.Response(body=dumps(body).encode(), status=status, content_type="application/json")


def status_ok() -> web.Response:
    return json_response({"status": "OK"})


@dataclass
class FailRule:
    status: int
    remaining: int
    retry_after: int = 1
    path: str = ""
    method: str = ""

    def matches(self, request: web.Request) -> bool:
        if self.remaining <= 0:
            return False
        if self.method and request.method != self.method:
            return False
        if self.path:
            prefix = self.path.rstrip("/")
            return request.path == prefix or request.path.startswith(prefix + "/")
        return True


@dataclass
class Faults:
    """REST faults: the next N matching calls fail; every call waits ``delay_ms`` first.

    ``max_in_a_row`` (0: no limit) spares a request once that many tries of it in a row (the
    same method, path, query and body: a client's retries) have failed, so that bursts added
    one after another cannot outlast a client's retries."""

    rules: list[FailRule] = field(default_factory=list)
    delay_ms: int = 0
    max_in_a_row: int = 0
    _in_a_row: dict[tuple[str, str, bytes], int] = field(default_factory=dict)

    def fail(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: int = 1,
        path: str = "",
        method: str = "",
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"status {status} is not an error status")
        self.rules.append(FailRule(status, count, retry_after, path, method.upper()))

    def take(self, request: web.Request, body: bytes = b"") -> FailRule | None:
        key = (request.method, request.path_qs, body)
        failed = self._in_a_row.pop(key, 0)
        if self.max_in_a_row and failed >= self.max_in_a_row:
            return None
        for rule in self.rules:
            if rule.matches(request):
                rule.remaining -= 1
                self._in_a_row[key] = failed + 1
                return rule
        return None

    def reset(self) -> None:
        self.rules.clear()
        self.delay_ms = 0
        self.max_in_a_row = 0
        self._in_a_row.clear()


def rate_limited(retry_after: int) -> web.Response:
    """The real server's 429: plain text, seconds-until-reset headers."""
    seconds = str(max(1, retry_after))
    return web.Response(
        status=429,
        body=b"limit exceeded\n",
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            "Retry-After": seconds,
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": seconds,
        },
    )


def _int_query(request: web.Request, name: str, default: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise bad_param(name)
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_param(name) from None


def _float_query(request: web.Request, name: str) -> float:
    try:
        return float(request.query[name])
    except (KeyError, ValueError):
        raise bad_param(name) from None


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError:
        raise FakeAppError(
            400,
            "api.context.invalid_body_param.app_error",
            "Invalid or missing body in request body.",
        ) from None


async def _json_object(request: web.Request) -> JSON:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise bad_param("body")
    return body


class FakeHttp:
    """Builds the aiohttp application over a state, a websocket hub and integrations."""

    def __init__(
        self,
        state: FakeState,
        hub: WebsocketHub,
        integrations: Integrations,
        faults: Faults,
    ) -> None:
        self.state = state
        self.hub = hub
        self.integrations = integrations
        self.faults = faults

    def build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors, self._redirect_double_slash, self._rest_faults],
            client_max_size=64 * 1024 * 1024,
        )
        r = app.router
        r.add_get(WS_PATH, self.websocket)
        r.add_get(f"{API}/system/ping", self.ping)
        r.add_get(f"{API}/users/{{user_id}}", self.get_user)
        r.add_get(f"{API}/users/username/{{username}}", self.get_user_by_name)
        r.add_post(f"{API}/users/ids", self.users_by_ids)
        r.add_post(f"{API}/users/usernames", self.users_by_names)
        r.add_get(f"{API}/teams/{{team_id}}", self.get_team)
        r.add_get(f"{API}/teams/name/{{name}}", self.get_team_by_name)
        r.add_get(f"{API}/teams/name/{{team}}/channels/name/{{name}}", self.channel_by_names)
        r.add_get(f"{API}/teams/{{team_id}}/channels/name/{{name}}", self.channel_by_team_id)
        r.add_get(f"{API}/channels/{{channel_id}}", self.get_channel)
        r.add_get(f"{API}/channels/{{channel_id}}/members/{{user_id}}", self.channel_member)
        r.add_get(f"{API}/users/{{user_id}}/teams/{{team_id}}/channels", self.my_team_channels)
        r.add_post(f"{API}/channels/direct", self.direct_channel)
        r.add_get(f"{API}/channels/{{channel_id}}/posts", self.channel_posts)
        r.add_post(f"{API}/posts", self.create_post)
        r.add_get(f"{API}/posts/{{post_id}}", self.get_post)
        r.add_put(f"{API}/posts/{{post_id}}", self.update_post)
        r.add_put(f"{API}/posts/{{post_id}}/patch", self.patch_post)
        r.add_delete(f"{API}/posts/{{post_id}}", self.delete_post)
        r.add_get(f"{API}/posts/{{post_id}}/thread", self.thread)
        r.add_post(f"{API}/posts/{{post_id}}/actions/{{action_id}}", self.post_action)
        r.add_post(f"{API}/reactions", self.add_reaction)
        r.add_get(f"{API}/posts/{{post_id}}/reactions", self.reactions)
        r.add_delete(
            f"{API}/users/{{user_id}}/posts/{{post_id}}/reactions/{{emoji}}", self.remove_reaction
        )
        r.add_post(f"{API}/files", self.upload)
        r.add_get(f"{API}/files/{{file_id}}", self.get_file)
        r.add_get(f"{API}/files/{{file_id}}/info", self.get_file_info)
        r.add_post(f"{API}/commands", self.create_command)
        r.add_get(f"{API}/commands", self.list_commands)
        r.add_post(f"{API}/commands/execute", self.execute_command)
        r.add_post("/hooks/commands/{hook_id}", self.command_hook)
        r.add_post("/_fake/close", self.fake_close)
        r.add_post("/_fake/fail", self.fake_fail)
        r.add_post("/_fake/delay", self.fake_delay)
        r.add_post("/_fake/refuse", self.fake_refuse)
        r.add_post("/_fake/reset", self.fake_reset)
        r.add_post("/_fake/click", self.fake_click)
        r.add_get("/_fake/state", self.fake_state)
        return app

    # ------------------------------------------------------------ middlewares

    @web.middleware
    async def _errors(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        request_id = self.state.new_id()
        response: web.StreamResponse
        try:
            response = await handler(request)
        except FakeAppError as app_error:
            response = json_response(app_error.to_json(request_id), app_error.status)
        except web.HTTPException as exc:
            if exc.status == 404:
                failure = FakeAppError(
                    404, "api.context.404.app_error", "Sorry, we could not find the page."
                )
            else:
                failure = FakeAppError(exc.status, "api.context.http_error", exc.reason)
            response = json_response(failure.to_json(request_id), failure.status)
        except Exception as exc:
            log.exception("fake mattermost: %s %s failed", request.method, request.path)
            failure = FakeAppError(500, "api.fake.internal_error", "Internal error.", repr(exc))
            response = json_response(failure.to_json(request_id), 500)
        if not response.prepared:
            response.headers.setdefault("X-Request-Id", request_id)
            response.headers.setdefault("X-Version-Id", f"{SERVER_VERSION}.fake")
        return response

    @web.middleware
    async def _redirect_double_slash(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        path, sep, query = request.raw_path.partition("?")
        if "//" in path:
            clean = re.sub("/{2,}", "/", path)
            location = clean + sep + query
            return web.Response(
                status=301,
                body=f'<a href="{location}">Moved Permanently</a>.\n\n'.encode(),
                headers={"Location": location, "Content-Type": "text/html; charset=utf-8"},
            )
        return await handler(request)

    @web.middleware
    async def _rest_faults(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not request.path.startswith(API + "/") or request.path == WS_PATH:
            return await handler(request)
        if self.faults.delay_ms > 0:
            await asyncio.sleep(self.faults.delay_ms / 1000)
        body = await request.read() if self.faults.max_in_a_row else b""
        rule = self.faults.take(request, body)
        if rule is None:
            return await handler(request)
        if rule.status == 429:
            return rate_limited(rule.retry_after)
        raise FakeAppError(
            rule.status, "api.fake.injected_failure.app_error", "Injected failure (fake server)."
        )

    # ------------------------------------------------------------------ auth

    def _user(self, request: web.Request) -> User:
        token = token_from_header(request.headers.get("Authorization", ""))
        token = token or request.query.get("access_token", "")
        token = token or request.cookies.get("MMAUTHTOKEN", "")
        user = self.state.user_by_token(token) if token else None
        if user is None:
            raise FakeAppError(
                401,
                "api.context.session_expired.app_error",
                "Invalid or expired session, please login again.",
                "token not recognised",
            )
        return user

    def _user_param(self, request: web.Request, me: User) -> User:
        user_id = request.match_info["user_id"]
        return me if user_id == "me" else self.state.user(user_id)

    # ----------------------------------------------------------- websocket

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if self.hub.refusing():
            return web.Response(
                status=self.hub.refuse_status,
                body=b"Service Unavailable (fake: refusing websocket upgrades)\n",
                content_type="text/plain",
            )
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise FakeAppError(
                400, "api.web_socket.connect.upgrade.app_error", "Failed to upgrade websocket."
            )
        return await self.hub.handle(request)

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return status_ok()

    # ------------------------------------------------------------- users

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        return json_response(self._user_param(request, me).to_json())

    async def get_user_by_name(self, request: web.Request) -> web.StreamResponse:
        self._user(request)
        return json_response(self.state.user_named(request.match_info["username"]).to_json())

    async def users_by_ids(self, request: web.Request) -> web.StreamResponse:
        self._user(request)
        ids = await _json_body(request)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise bad_param("user_ids")
        found = [self.state.users[i].to_json() for i in dict.fromkeys(ids) if i in self.state.users]
        return json_response(found)

    async def users_by_names(self, request: web.Request) -> web.StreamResponse:
        self._user(request)
        names = await _json_body(request)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise bad_param("usernames")
        wanted = set(names)
        found = [u.to_json() for u in self.state.users.values() if u.username in wanted]
        return json_response(found)

    # ------------------------------------------------------ teams, channels

    async def get_team(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        team = self.state.team(request.match_info["team_id"])
        if me.id not in team.members:
            raise FakeAppError(403, "api.context.permissions.app_error", "No permission.")
        return json_response(team.to_json())

    async def get_team_by_name(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        team = self.state.team_named(request.match_info["name"])
        if me.id not in team.members:
            raise FakeAppError(403, "api.context.permissions.app_error", "No permission.")
        return json_response(team.to_json())

    async def channel_by_names(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        team = self.state.team_named(request.match_info["team"])
        return self._channel_reply(me, self.state.channel_named(team, request.match_info["name"]))

    async def channel_by_team_id(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        team = self.state.team(request.match_info["team_id"])
        return self._channel_reply(me, self.state.channel_named(team, request.match_info["name"]))

    async def get_channel(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        return self._channel_reply(me, self.state.channel(request.match_info["channel_id"]))

    def _channel_reply(self, me: User, channel: Channel) -> web.Response:
        if not self.state.can_read(me, channel):
            raise FakeAppError(403, "api.context.permissions.app_error", "No permission.")
        return json_response(channel.to_json())

    async def channel_member(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/members/{user_id}: 404 unless the user is a member (Mattermost
        answers the same for a channel the caller cannot see)."""
        me = self._user(request)
        channel = self.state.channel(request.match_info["channel_id"])
        user_id = request.match_info["user_id"]
        user_id = me.id if user_id == "me" else user_id
        if not self.state.can_read(me, channel) or user_id not in channel.members:
            raise FakeAppError(
                404, "app.channel.get_member.missing.app_error", "No channel member found."
            )
        member = {"channel_id": channel.id, "user_id": user_id, "roles": "channel_user"}
        return json_response(member)

    async def my_team_channels(self, request: web.Request) -> web.StreamResponse:
        """GET /users/{id}/teams/{team_id}/channels: the user's channels of the team and, as
        Mattermost does, its direct and group messages (team_id "")."""
        me = self._user(request)
        if request.match_info["user_id"] not in (me.id, "me"):
            raise FakeAppError(403, "api.context.permissions.app_error", "No permission.")
        team = self.state.team(request.match_info["team_id"])
        channels = [
            c.to_json()
            for c in self.state.channels.values()
            if me.id in c.members and c.team_id in (team.id, "")
        ]
        return json_response(channels)

    async def direct_channel(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        channel = self.state.direct_channel(me, await _json_body(request))
        return json_response(channel.to_json(), 201)

    async def channel_posts(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        since = _int_query(request, "since") if "since" in request.query else None
        page = _int_query(request, "page", 0)
        per_page = min(max(_int_query(request, "per_page", 60), 1), 200)
        body = self.state.channel_posts(
            me, request.match_info["channel_id"], since=since, page=max(page, 0), per_page=per_page
        )
        return json_response(body)

    # ----------------------------------------------------------------- posts

    async def create_post(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        post = self.state.create_post(me, await _json_object(request))
        return json_response(self.state.post_json(post), 201)

    async def get_post(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        post = self.state.get_post(me, request.match_info["post_id"])
        return json_response(self.state.post_json(post))

    async def update_post(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        body = await _json_object(request)
        post = self.state.update_post(me, request.match_info["post_id"], body, patch=False)
        return json_response(self.state.post_json(post))

    async def patch_post(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        body = await _json_object(request)
        post = self.state.update_post(me, request.match_info["post_id"], body, patch=True)
        return json_response(self.state.post_json(post))

    async def delete_post(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        self.state.delete_post(me, request.match_info["post_id"])
        return status_ok()

    async def thread(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        posts = self.state.thread(me, request.match_info["post_id"])
        return json_response(self.state.post_list(posts))

    async def post_action(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        body = await request.read()
        selected = ""
        if body.strip():
            parsed = await _json_body(request)
            selected = str(parsed.get("selected_option", "")) if isinstance(parsed, dict) else ""
        _, trigger_id = await self.integrations.click(
            me, request.match_info["post_id"], request.match_info["action_id"], selected
        )
        return json_response({"status": "OK", "trigger_id": trigger_id})

    # ------------------------------------------------------------- reactions

    async def add_reaction(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        body = await _json_object(request)
        if body.get("user_id") not in (me.id, "me"):
            raise FakeAppError(403, "api.context.permissions.app_error", "No permission.")
        reaction = self.state.add_reaction(me, body.get("post_id"), body.get("emoji_name"))
        return json_response(reaction.to_json())  # 200, not the 201 the spec states

    async def reactions(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        found = self.state.reactions_of(me, request.match_info["post_id"])
        return json_response([r.to_json() for r in found])

    async def remove_reaction(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        if self._user_param(request, me).id != me.id:
            raise FakeAppError(403, "api.context.permissions.app_error", "No permission.")
        self.state.remove_reaction(me, request.match_info["post_id"], request.match_info["emoji"])
        return status_ok()

    # ----------------------------------------------------------------- files

    async def upload(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        channel_id = request.query.get("channel_id", "")
        if not request.content_type.startswith("multipart/"):
            name = request.query.get("filename", "")
            if not channel_id or not name:
                raise bad_param("filename")
            data = await request.read()
            info = self.state.add_file(me, channel_id, name, "application/octet-stream", data)
            return json_response({"file_infos": [info.to_json()], "client_ids": []}, 201)
        infos: list[JSON] = []
        client_ids: list[str] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "channel_id":
                channel_id = (await part.text()).strip()
            elif part.name == "client_ids":
                client_ids.append((await part.text()).strip())
            elif part.name == "files":
                if not channel_id:  # the server streams: channel_id must come first
                    raise bad_param("channel_id")
                data = await part.read()
                name = part.filename or "file"
                mime = part.headers.get("Content-Type", "application/octet-stream")
                info = self.state.add_file(me, channel_id, name, mime, bytes(data))
                infos.append(info.to_json())
        if not infos:
            raise FakeAppError(400, "api.file.upload_file.no_files.app_error", "No files.")
        return json_response({"file_infos": infos, "client_ids": client_ids}, 201)

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        info = self.state.file(me, request.match_info["file_id"])
        return web.Response(body=info.data, headers={"Content-Type": info.mime_type})

    async def get_file_info(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        return json_response(self.state.file(me, request.match_info["file_id"]).to_json())

    # -------------------------------------------------------- slash commands

    async def create_command(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        command = self.state.add_command(me, await _json_object(request))
        return json_response(command.to_json(), 201)

    async def list_commands(self, request: web.Request) -> web.StreamResponse:
        self._user(request)
        team_id = request.query.get("team_id", "")
        found = [c.to_json() for c in self.state.commands.values() if c.team_id == team_id]
        return json_response(found)

    async def execute_command(self, request: web.Request) -> web.StreamResponse:
        me = self._user(request)
        response = await self.integrations.execute(me, await _json_object(request))
        return json_response(response)

    async def command_hook(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        self.integrations.use_response_url(request.match_info["hook_id"], body)
        return web.Response(body=b"ok", content_type="text/plain")

    # ------------------------------------------------------ test-only routes

    async def fake_close(self, request: web.Request) -> web.StreamResponse:
        code = _int_query(request, "code", 1000)
        if code not in (1000, 1001, 1006, 1011):
            raise bad_param("code")
        return json_response({"closed": self.hub.close_all(code)})

    async def fake_fail(self, request: web.Request) -> web.StreamResponse:
        status = _int_query(request, "status")
        if not 400 <= status <= 599:
            raise bad_param("status")
        retry_after = request.query.get("retry_after", "1")
        try:
            seconds = math.ceil(float(retry_after))
        except ValueError:
            raise bad_param("retry_after") from None
        self.faults.fail(
            status,
            _int_query(request, "count", 1),
            retry_after=seconds,
            path=request.query.get("path", ""),
            method=request.query.get("method", ""),
        )
        return status_ok()

    async def fake_delay(self, request: web.Request) -> web.StreamResponse:
        self.faults.delay_ms = max(0, _int_query(request, "ms"))
        return status_ok()

    async def fake_refuse(self, request: web.Request) -> web.StreamResponse:
        self.hub.refuse(_float_query(request, "seconds"), _int_query(request, "status", 503))
        return status_ok()

    async def fake_reset(self, request: web.Request) -> web.StreamResponse:
        self.faults.reset()
        self.hub.refuse_until = 0.0
        return status_ok()

    async def fake_click(self, request: web.Request) -> web.StreamResponse:
        try:
            user = self.state.user_named(request.query["user"])
            post_id, action_id = request.query["post_id"], request.query["action_id"]
        except KeyError as missing:
            raise bad_param(str(missing)) from None
        reply, _ = await self.integrations.click(
            user, post_id, action_id, request.query.get("selected_option", "")
        )
        return json_response(reply)

    async def fake_state(self, request: web.Request) -> web.StreamResponse:
        body = self.state.dump()
        body["ws_connections"] = len(self.hub.connections)
        body["ws_auth_total"] = self.hub.auth_total
        return json_response(body)
