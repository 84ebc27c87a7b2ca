"""The fake Mattermost websocket at ``/api/v4/websocket``.

Owns: the authentication challenge (OK reply and ``hello`` with ``seq`` 0; a bad token or no
token within the deadline drops the TCP connection without a close frame), per-connection event
numbering, delivery of events to channel members only, and the socket faults (close with
1000/1011, abort as 1006, refuse upgrades for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .fake_model import JSON, SERVER_VERSION, Event, User, dumps
from .fake_state import FakeState

log = logging.getLogger(__name__)

# Queue items: a text frame, or ("close", code), or None to stop the writer.
_Item = str | tuple[str, int] | None


@dataclass
class WsConnection:
    id: str
    user_id: str
    ws: web.WebSocketResponse
    request: web.Request
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    seq: int = 0

    def send_event(self, name: str, data: JSON, broadcast: JSON) -> None:
        frame = {"event": name, "data": data, "broadcast": broadcast, "seq": self.seq}
        self.seq += 1
        self.queue.put_nowait(dumps(frame) + "\n")

    def send_reply(self, reply: JSON) -> None:
        self.queue.put_nowait(dumps(reply) + "\n")

    def abort(self) -> None:
        """Drop the TCP connection: the client sees 1006, no close frame."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.queue.put_nowait(None)


def token_from_header(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") else ""


class WebsocketHub:
    def __init__(
        self,
        state: FakeState,
        *,
        changed: Callable[[], None],
        auth_timeout: float = 5.0,
        hello_before_ok: bool = False,
    ) -> None:
        self._state = state
        self._changed = changed
        self.auth_timeout = auth_timeout
        self.hello_before_ok = hello_before_ok
        self.connections: dict[str, WsConnection] = {}
        self.auth_total = 0
        self.refuse_until = 0.0
        self.refuse_status = 503

    # ------------------------------------------------------------- delivery

    def publish(self, event: Event) -> None:
        broadcast = event.broadcast()
        for conn in list(self.connections.values()):
            if conn.user_id in event.recipients:
                data = dict(event.data)
                data.update(event.per_user.get(conn.user_id, {}))
                conn.send_event(event.event, data, broadcast)

    def close_all(self, code: int) -> int:
        """Close every authenticated socket: 1006 aborts, other codes send a close frame."""
        conns = list(self.connections.values())
        for conn in conns:
            if code == 1006:
                conn.abort()
            else:
                conn.queue.put_nowait(("close", code))
        return len(conns)

    def refuse(self, seconds: float, status: int = 503) -> None:
        self.refuse_until = asyncio.get_running_loop().time() + seconds
        self.refuse_status = status

    def refusing(self) -> bool:
        return asyncio.get_running_loop().time() < self.refuse_until

    # ------------------------------------------------------------- handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, timeout=2.0)
        await ws.prepare(request)
        user = self._state.user_by_token(
            token_from_header(request.headers.get("Authorization", ""))
        )
        reply_seq: int | None = None
        if user is None:
            authed = await self._challenge(ws, request)
            if authed is None:
                return ws
            user, reply_seq = authed
        conn = WsConnection(id=self._state.new_id(), user_id=user.id, ws=ws, request=request)
        writer = asyncio.create_task(self._writer(conn))
        self.connections[conn.id] = conn
        hello = {"server_version": SERVER_VERSION, "connection_id": conn.id}
        hello_broadcast = Event("hello", {}, frozenset(), user_id=user.id).broadcast()
        if reply_seq is not None and not self.hello_before_ok:
            conn.send_reply({"status": "OK", "seq_reply": reply_seq})
        conn.send_event("hello", hello, hello_broadcast)
        if reply_seq is not None and self.hello_before_ok:
            conn.send_reply({"status": "OK", "seq_reply": reply_seq})
        self.auth_total += 1
        self._changed()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_action(conn, msg.data)
        finally:
            self.connections.pop(conn.id, None)
            conn.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._changed()
        return ws

    async def _challenge(
        self, ws: web.WebSocketResponse, request: web.Request
    ) -> tuple[User, int] | None:
        """Wait for a valid authentication_challenge; drop the socket on failure."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.auth_timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await ws.receive()
            except TimeoutError:
                msg = None
            if msg is None or msg.type != WSMsgType.TEXT:
                self._drop(request)
                return None
            try:
                frame = json.loads(msg.data)
            except ValueError:
                frame = None
            if not isinstance(frame, dict):
                self._drop(request)
                return None
            raw_seq = frame.get("seq")
            seq = raw_seq if isinstance(raw_seq, int) else 0
            if frame.get("action") == "authentication_challenge":
                data = frame.get("data")
                token = data.get("token") if isinstance(data, dict) else None
                user = self._state.user_by_token(token) if isinstance(token, str) else None
                if user is None:
                    self._drop(request)
                    return None
                return user, seq
            await ws.send_str(
                dumps(
                    {
                        "status": "FAIL",
                        "seq_reply": seq,
                        "error": {
                            "id": "api.web_socket_router.not_authenticated.app_error",
                            "message": "Not authenticated.",
                        },
                    }
                )
                + "\n"
            )

    @staticmethod
    def _drop(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    def _on_action(self, conn: WsConnection, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        seq = frame.get("seq", 0)
        action = frame.get("action")
        if action == "ping":
            conn.send_reply(
                {
                    "status": "OK",
                    "seq_reply": seq,
                    "data": {
                        "text": "pong",
                        "version": SERVER_VERSION,
                        "server_time": self._state.now(),
                        "node_id": "",
                    },
                }
            )
        elif action in ("authentication_challenge", "user_typing", "get_statuses"):
            conn.send_reply({"status": "OK", "seq_reply": seq})
        else:
            conn.send_reply(
                {
                    "status": "FAIL",
                    "seq_reply": seq,
                    "error": {
                        "id": "api.web_socket_router.bad_action.app_error",
                        "message": "Unknown WebSocket action.",
                    },
                }
            )

    @staticmethod
    async def _writer(conn: WsConnection) -> None:
        while True:
            item = await conn.queue.get()
            if item is None:
                return
            try:
                if isinstance(item, tuple):
                    await conn.ws.close(code=item[1])
                    return
                await conn.ws.send_str(item)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("websocket %s: send failed: %s", conn.id, exc)
                return
