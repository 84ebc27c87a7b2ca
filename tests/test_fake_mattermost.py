"""The fake Mattermost server against the real mattermostdriver 7.3.2 and raw websocket clients.

REST calls of the driver are synchronous (requests), so they run in ``asyncio.to_thread``.
Waits are event-driven with timeouts: no sleeping.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
from aiohttp import web
from conftest import make_cert
from fakes.fake_mattermost import FakeMattermost, FakeMattermostThread
from mattermostdriver import Driver
from mattermostdriver.exceptions import (
    InvalidOrMissingParameters,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)
from mattermostdriver.websocket import Websocket
from websockets.asyncio.client import ClientConnection

REPO = Path(__file__).resolve().parents[1]
JSONDict = dict[str, Any]


def is_id(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 26 and value.isalnum() and value == value.lower()
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeMattermost]:
    async with FakeMattermost() as server:
        yield server


async def login(fake: FakeMattermost, user: str = "dastbot", **options: Any) -> Driver:
    driver = Driver(fake.driver_options(user, **options))
    await asyncio.to_thread(driver.login)
    return driver


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


def post_json(url: str, body: JSONDict) -> requests.Response:
    return requests.post(url, json=body, timeout=5)


def raw(
    fake: FakeMattermost, method: str, path: str, user: str | None = "dastbot", **kw: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {fake.token(user)}"} if user else {}
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kw)


class DriverSocket:
    """The driver's own Websocket class, built by hand (never Driver.init_websocket)."""

    def __init__(self, driver: Driver) -> None:
        self.ws = Websocket(driver.options, driver.client.token)
        self.events: asyncio.Queue[JSONDict] = asyncio.Queue()
        self.frames: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def _handler(self, message: str) -> None:
        self.frames.append(message)
        await self.events.put(json.loads(message))

    async def start(self, fake: FakeMattermost, connections: int = 1) -> None:
        self.task = asyncio.create_task(self.ws.connect(self._handler))
        await fake.wait_for_ws(connections)

    async def next(self, event: str, timeout: float = 3.0) -> JSONDict:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.events.get()
                if frame.get("event") == event:
                    return frame

    async def stop(self) -> None:
        self.ws.disconnect()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def raw_ws(
    fake: FakeMattermost, user: str = "dastbot", **kw: Any
) -> tuple[ClientConnection, list[JSONDict]]:
    """A raw websockets client that authenticates; returns it and the OK + hello frames."""
    ws = await websockets.connect(fake.ws_url, **kw)
    await ws.send(
        json.dumps(
            {"seq": 1, "action": "authentication_challenge", "data": {"token": fake.token(user)}}
        )
    )
    frames = [json.loads(await asyncio.wait_for(ws.recv(), 3)) for _ in range(2)]
    return ws, frames


async def expect_dropped(ws: ClientConnection) -> websockets.ConnectionClosed:
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 3)
    return info.value


class Integration:
    """A tiny aiohttp app standing in for the bot's slash-command / action endpoint."""

    def __init__(self, reply: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
        self.reply = reply
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/x-www-form-urlencoded":
            body: Any = [(k, v) for k, v in (await request.post()).items()]
        else:
            body = await request.json()
        self.requests.append((dict(request.headers), body))
        return await self.reply(request)

    async def __aenter__(self) -> Integration:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


# ----------------------------------------------------------------------------- REST


async def test_login_users_channels(fake: FakeMattermost) -> None:
    driver = await login(fake)
    me = await call(driver.users.get_user, "me")
    assert me["username"] == "dastbot" and me["is_bot"] is True and is_id(me["id"])
    assert driver.client.userid == fake.user_id("dastbot")
    alice = await call(driver.users.get_user_by_username, "alice")
    assert alice["id"] == fake.user_id("alice") and "is_bot" not in alice
    assert isinstance(alice["create_at"], int) and alice["create_at"] > 1_600_000_000_000
    both = await call(driver.users.get_users_by_ids, [fake.user_id("bob"), fake.user_id("carol")])
    assert sorted(u["username"] for u in both) == ["bob", "carol"]
    channel = await call(driver.channels.get_channel_by_name_and_team_name, "atlas", "dast-help")
    assert channel["id"] == fake.channel_id("dast-help") and channel["type"] == "O"
    assert (await call(driver.channels.get_channel, channel["id"]))["name"] == "dast-help"
    team = await call(driver.teams.get_team_by_name, "atlas")
    assert team["display_name"] == "ATLAS"
    with pytest.raises(ResourceNotFound):
        await call(driver.users.get_user_by_username, "nobody")


async def test_bad_token_is_401_app_error(fake: FakeMattermost) -> None:
    driver = Driver(fake.driver_options(token="x" * 26))
    with pytest.raises(NoAccessTokenProvided):
        await call(driver.login)
    response = await call(raw, fake, "GET", "/api/v4/users/me", None)
    assert response.status_code == 401
    assert set(response.json()) == {"id", "message", "detailed_error", "request_id", "status_code"}
    assert response.json()["status_code"] == 401


async def test_content_type_exact_get_body_404_and_double_slash(fake: FakeMattermost) -> None:
    response = await call(lambda: raw(fake, "GET", "/api/v4/users/me", json={}))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    missing = await call(lambda: raw(fake, "GET", "/api/v4/no/such/route", json={}))
    assert missing.status_code == 404 and missing.json()["status_code"] == 404
    assert missing.headers["Content-Type"] == "application/json"
    redirect = await call(lambda: raw(fake, "GET", "/api/v4/users//me?x=1", allow_redirects=False))
    assert redirect.status_code == 301 and redirect.headers["Location"] == "/api/v4/users/me?x=1"
    driver = await login(fake)
    post = await call(
        driver.posts.create_post, {"channel_id": fake.channel_id("dast-help"), "message": "hi"}
    )
    await fake.add_reaction("alice", post["id"], "thumbsup")
    # The driver asks for /posts/<id>//reactions and must follow the 301 to a parsed list.
    reactions = await call(driver.reactions.get_reactions_of_post, post["id"])
    assert [r["emoji_name"] for r in reactions] == ["thumbsup"]


async def test_post_and_receive_own_posted_event(fake: FakeMattermost) -> None:
    driver = await login(fake)
    socket = DriverSocket(driver)
    await socket.start(fake)
    try:
        hello = await socket.next("hello")
        assert hello["seq"] == 0 and "server_version" in hello["data"]
        assert socket.frames[0].endswith("\n")
        sent = await call(
            driver.posts.create_post,
            {"channel_id": fake.channel_id("dast-help"), "message": "hello"},
        )
        assert is_id(sent["id"]) and sent["props"]["from_bot"] == "true"
        posted = await socket.next("posted")
        assert posted["seq"] == 1
        assert isinstance(posted["data"]["post"], str)
        post = json.loads(posted["data"]["post"])
        assert post["id"] == sent["id"] and post["user_id"] == fake.user_id("dastbot")
        data = posted["data"]
        assert data["channel_type"] == "O" and data["channel_name"] == "dast-help"
        assert data["sender_name"] == "@dastbot" and data["team_id"] == fake.team_id()
        assert data["channel_display_name"] and data["set_online"] is True
        assert "mentions" not in data
        assert set(posted["broadcast"]) == {
            "omit_users",
            "user_id",
            "channel_id",
            "team_id",
            "connection_id",
            "omit_connection_id",
        }
        assert posted["broadcast"]["channel_id"] == fake.channel_id("dast-help")
        await fake.create_post("alice", "dast-help", "ping @dastbot please")
        mention = await socket.next("posted")
        assert mention["seq"] == 2
        assert json.loads(mention["data"]["mentions"]) == [fake.user_id("dastbot")]
    finally:
        await socket.stop()


async def test_events_only_reach_channel_members(fake: FakeMattermost) -> None:
    fake.add_user("dave", channels=["dast-help"])
    dave, _ = await raw_ws(fake, "dave")
    bot, _ = await raw_ws(fake, "dastbot")
    try:
        await fake.create_post("alice", "dast-coordinators", "coordinators only")
        await fake.create_post("alice", "dast-help", "everyone")
        got = json.loads(await asyncio.wait_for(dave.recv(), 3))
        assert json.loads(got["data"]["post"])["message"] == "everyone" and got["seq"] == 1
        first = json.loads(await asyncio.wait_for(bot.recv(), 3))
        assert json.loads(first["data"]["post"])["message"] == "coordinators only"
        dm = fake.dm_channel_id("alice", "dastbot")
        await fake.create_post("alice", dm, "a secret")
        await fake.create_post("alice", "dast-help", "after the dm")
        nxt = json.loads(await asyncio.wait_for(dave.recv(), 3))
        assert json.loads(nxt["data"]["post"])["message"] == "after the dm"
        await asyncio.wait_for(bot.recv(), 3)
        direct = json.loads(await asyncio.wait_for(bot.recv(), 3))
        assert direct["data"]["channel_type"] == "D" and direct["data"]["team_id"] == ""
        assert json.loads(direct["data"]["mentions"]) == [fake.user_id("dastbot")]
    finally:
        await dave.close()
        await bot.close()
    with pytest.raises(NotEnoughPermissions):
        driver = await login(fake, "dave")
        await call(
            driver.posts.create_post,
            {"channel_id": fake.channel_id("dast-coordinators"), "message": "x"},
        )


async def test_reply_to_a_reply_is_400(fake: FakeMattermost) -> None:
    driver = await login(fake)
    root = await fake.create_post("alice", "dast-help", "question")
    reply = await call(
        driver.posts.create_post,
        {"channel_id": fake.channel_id("dast-help"), "message": "answer", "root_id": root["id"]},
    )
    assert reply["root_id"] == root["id"]
    with pytest.raises(InvalidOrMissingParameters, match=re.escape("Invalid RootId parameter.")):
        await call(
            driver.posts.create_post,
            {"channel_id": fake.channel_id("dast-help"), "message": "bad", "root_id": reply["id"]},
        )
    bad = await call(
        lambda: raw(
            fake,
            "POST",
            "/api/v4/posts",
            json={"channel_id": fake.channel_id("dast-help"), "message": "x", "root_id": "y" * 26},
        )
    )
    assert bad.status_code == 400 and bad.json()["message"] == "Invalid RootId parameter."


async def test_thread_order_is_not_sorted(fake: FakeMattermost) -> None:
    driver = await login(fake)
    root = await fake.create_post("alice", "dast-help", "q")
    ids = [root["id"]]
    for i in range(4):
        ids.append(
            (await fake.create_post("bob" if i % 2 else "dastbot", "dast-help", f"r{i}", ids[0]))[
                "id"
            ]
        )
    thread = await call(driver.posts.get_thread, ids[2])
    assert sorted(thread["order"]) == sorted(ids)
    assert thread["order"] != ids and thread["order"] != ids[::-1]
    by_time = sorted(thread["order"], key=lambda pid: thread["posts"][pid]["create_at"])
    assert by_time == ids


async def test_channel_posts_since(fake: FakeMattermost) -> None:
    driver = await login(fake)
    old = await fake.create_post("alice", "dast-help", "old")
    untouched = await fake.create_post("alice", "dast-help", "untouched")
    since = untouched["create_at"]
    new = await fake.create_post("bob", "dast-help", "new")
    reply = await fake.create_post("carol", "dast-help", "reply", old["id"])
    await fake.edit_post("alice", old["id"], "old, edited")
    await fake.create_post("alice", "dast-coordinators", "elsewhere")
    listing = await call(
        driver.posts.get_posts_for_channel, fake.channel_id("dast-help"), {"since": since}
    )
    assert set(listing["order"]) == {old["id"], new["id"], reply["id"]}
    assert listing["posts"][old["id"]]["message"] == "old, edited"
    assert listing["posts"][old["id"]]["edit_at"] > since
    page = await call(
        driver.posts.get_posts_for_channel, fake.channel_id("dast-help"), {"per_page": 2}
    )
    assert page["order"] == [reply["id"], new["id"]] and page["has_next"] is True


async def test_edit_delete_and_reaction_events(fake: FakeMattermost) -> None:
    driver = await login(fake)
    socket = DriverSocket(driver)
    await socket.start(fake)
    try:
        post = await call(
            driver.posts.create_post, {"channel_id": fake.channel_id("dast-help"), "message": "v1"}
        )
        await call(driver.posts.patch_post, post["id"], {"message": "v2"})
        edited = await socket.next("post_edited")
        assert json.loads(edited["data"]["post"])["message"] == "v2"
        reaction = await call(
            driver.reactions.create_reaction,
            {
                "user_id": driver.client.userid,
                "post_id": post["id"],
                "emoji_name": "white_check_mark",
            },
        )
        assert reaction["emoji_name"] == "white_check_mark"
        added = await socket.next("reaction_added")
        assert json.loads(added["data"]["reaction"])["post_id"] == post["id"]
        await call(
            driver.reactions.delete_reaction, driver.client.userid, post["id"], "white_check_mark"
        )
        removed = await socket.next("reaction_removed")
        assert json.loads(removed["data"]["reaction"])["channel_id"] == fake.channel_id("dast-help")
        await call(driver.posts.delete_post, post["id"])
        deleted = await socket.next("post_deleted")
        assert json.loads(deleted["data"]["post"])["id"] == post["id"]
        with pytest.raises(ResourceNotFound):
            await call(driver.posts.get_post, post["id"])
    finally:
        await socket.stop()
    status = await call(
        lambda: raw(
            fake,
            "POST",
            "/api/v4/reactions",
            json={"user_id": fake.user_id("dastbot"), "post_id": post["id"], "emoji_name": "x"},
        )
    )
    assert status.status_code == 403  # deleted post


async def test_direct_channel_is_201_and_stable(fake: FakeMattermost) -> None:
    pair = [fake.user_id("dastbot"), fake.user_id("alice")]
    first = await call(lambda: raw(fake, "POST", "/api/v4/channels/direct", json=pair))
    second = await call(lambda: raw(fake, "POST", "/api/v4/channels/direct", json=pair[::-1]))
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and first.json()["type"] == "D"
    assert first.json()["team_id"] == ""


async def test_files_upload_and_attach(fake: FakeMattermost) -> None:
    driver = await login(fake)
    channel = fake.channel_id("dast-help")
    uploaded = await call(
        driver.files.upload_file, channel, {"files": ("log.txt", b"line 1\n", "text/plain")}
    )
    info = uploaded["file_infos"][0]
    assert info["name"] == "log.txt" and info["size"] == 7 and is_id(info["id"])
    post = await call(
        driver.posts.create_post,
        {"channel_id": channel, "message": "log", "file_ids": [info["id"]]},
    )
    assert post["file_ids"] == [info["id"]]
    meta = await call(driver.files.get_file_metadata, info["id"])
    assert meta["post_id"] == post["id"]


async def test_timezone_is_stored_like_mattermost(fake: FakeMattermost) -> None:
    fake.set_timezone("alice", "America/Chicago")
    driver = await login(fake)
    alice = await call(driver.users.get_user_by_username, "alice")
    assert alice["timezone"] == {
        "useAutomaticTimezone": "false",
        "manualTimezone": "America/Chicago",
        "automaticTimezone": "",
    }


# ----------------------------------------------------------------------- faults


async def test_429_plain_text_with_headers(fake: FakeMattermost) -> None:
    driver = await login(fake)
    ok = await call(
        lambda: requests.post(f"{fake.url}/_fake/fail?status=429&count=1&retry_after=3", timeout=5)
    )
    assert ok.status_code == 200
    with pytest.raises(requests.HTTPError) as info:
        await call(driver.users.get_user, "me")
    response = info.value.response
    assert response.status_code == 429 and response.text == "limit exceeded\n"
    assert response.headers["Retry-After"] == "3"
    assert response.headers["X-RateLimit-Reset"] == "3"
    assert (
        response.headers["X-RateLimit-Limit"] and response.headers["X-RateLimit-Remaining"] == "0"
    )
    assert (await call(driver.users.get_user, "me"))["username"] == "dastbot"


async def test_fail_500_only_matching_path_and_method(fake: FakeMattermost) -> None:
    driver = await login(fake)
    setup = await call(
        lambda: requests.post(
            f"{fake.url}/_fake/fail?status=500&count=2&path=/api/v4/posts&method=POST", timeout=5
        )
    )
    assert setup.status_code == 200
    body = {"channel_id": fake.channel_id("dast-help"), "message": "x"}
    assert (await call(driver.users.get_user, "me"))["username"] == "dastbot"
    for _ in range(2):
        with pytest.raises(requests.HTTPError) as info:
            await call(driver.posts.create_post, body)
        assert info.value.response.status_code == 500
        assert info.value.response.json()["status_code"] == 500
    assert (await call(driver.posts.create_post, body))["message"] == "x"


async def test_delay_slows_rest(fake: FakeMattermost) -> None:
    await call(lambda: requests.post(f"{fake.url}/_fake/delay?ms=200", timeout=5))
    start = time.monotonic()
    assert (await call(raw, fake, "GET", "/api/v4/users/me")).status_code == 200
    assert time.monotonic() - start >= 0.2
    fake.set_delay(0)


@pytest.mark.parametrize("code", [1000, 1006, 1011])
async def test_close_codes(fake: FakeMattermost, code: int) -> None:
    ws, frames = await raw_ws(fake)
    assert frames[0] == {"status": "OK", "seq_reply": 1}
    assert frames[1]["event"] == "hello" and frames[1]["seq"] == 0
    closed = await call(lambda: requests.post(f"{fake.url}/_fake/close?code={code}", timeout=5))
    assert closed.json() == {"closed": 1}
    exc = await expect_dropped(ws)
    if code == 1006:
        assert exc.rcvd is None  # no close frame: TCP dropped
    else:
        assert exc.rcvd is not None and exc.rcvd.code == code


async def test_driver_websocket_returns_on_1011(fake: FakeMattermost) -> None:
    driver = await login(fake)
    socket = DriverSocket(driver)
    await socket.start(fake)
    fake.close_websockets(1011)
    assert socket.task is not None
    await asyncio.wait_for(socket.task, 3)  # keepalive off: connect() returns
    await socket.stop()


async def test_ws_bad_token_and_silence_drop_the_connection() -> None:
    async with FakeMattermost(ws_auth_timeout=0.3) as fake:
        ws = await websockets.connect(fake.ws_url)
        await ws.send(
            json.dumps({"seq": 1, "action": "authentication_challenge", "data": {"token": "nope"}})
        )
        assert (await expect_dropped(ws)).rcvd is None
        silent = await websockets.connect(fake.ws_url)
        assert (await expect_dropped(silent)).rcvd is None
        assert fake.ws_auth_total == 0


async def test_refuse_websockets_then_recover(fake: FakeMattermost) -> None:
    refused = await call(lambda: requests.post(f"{fake.url}/_fake/refuse?seconds=30", timeout=5))
    assert refused.status_code == 200
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(fake.ws_url)
    assert info.value.response.status_code == 503
    fake.reset_faults()
    ws, frames = await raw_ws(fake)
    assert frames[1]["event"] == "hello"
    await ws.close()


async def test_bursts_one_after_another_fail_a_request_at_most_max_in_a_row(
    fake: FakeMattermost,
) -> None:
    fake.faults.max_in_a_row = 2
    fake.fail_next(500, 2)
    statuses = [(await call(raw, fake, "GET", "/api/v4/users/me")).status_code for _ in range(2)]
    fake.fail_next(500, 2)  # a second burst: the same request has failed twice already
    statuses.append((await call(raw, fake, "GET", "/api/v4/users/me")).status_code)
    other = await call(raw, fake, "GET", "/api/v4/teams")  # another request: the burst applies
    assert statuses == [500, 500, 200] and other.status_code == 500


async def test_wait_helpers_are_event_driven(fake: FakeMattermost) -> None:
    waiter = asyncio.create_task(fake.wait_for_post(lambda p: p["message"] == "later"))
    done, _ = await asyncio.wait({waiter}, timeout=0.02)  # it has looked at the past: nothing
    assert not done
    posted = await fake.create_post("bob", "dast-help", "later")
    assert (await asyncio.wait_for(waiter, 1))["id"] == posted["id"]
    assert (await fake.wait_for_post(lambda p: p["user_id"] == fake.user_id("bob")))[
        "id"
    ] == posted["id"]
    edited = asyncio.create_task(fake.wait_for_post(lambda p: p["message"] == "edited"))
    await fake.edit_post("bob", posted["id"], "edited")
    assert (await asyncio.wait_for(edited, 1))["edit_at"] > 0
    with pytest.raises(TimeoutError):
        await fake.wait_for_post(lambda p: False, timeout=0.05)
    assert [p["message"] for p in fake.posts("dast-help")] == ["edited"]


# ------------------------------------------------------- commands and buttons


async def test_slash_command_round_trip(fake: FakeMattermost) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response({"response_type": "in_channel", "text": "all good"})

    async with Integration(reply) as app:
        bot = await login(fake)
        command = await call(
            bot.commands.create_command,
            {"team_id": fake.team_id(), "trigger": "dast", "url": app.url, "method": "P"},
        )
        assert is_id(command["token"])
        alice = await login(fake, "alice")
        response = await call(
            alice.commands.execute_command,
            {"channel_id": fake.channel_id("dast-help"), "command": "/dast status @bob"},
        )
        assert response["response_type"] == "in_channel" and response["text"] == "all good"
        headers, form = app.requests[0]
        assert headers["Authorization"] == f"Token {command['token']}"
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        fields = dict(form)
        assert fields["token"] == command["token"] and fields["text"] == "status @bob"
        assert fields["command"] == "/dast" and fields["user_name"] == "alice"
        assert fields["team_domain"] == "atlas" and fields["channel_name"] == "dast-help"
        assert fields["user_mentions"] == "bob" and "root_id" not in fields
        posted = await fake.wait_for_post(lambda p: p["message"] == "all good")
        assert (
            posted["user_id"] == fake.user_id("alice") and posted["props"]["from_webhook"] == "true"
        )
        hook = fields["response_url"]
        for i in range(5):
            used = await call(post_json, hook, {"text": f"later {i}"})
            assert used.status_code == 200
        assert len(fake.ephemeral_posts("alice")) == 5
        sixth = await call(lambda: requests.post(hook, json={"text": "too many"}, timeout=5))
        assert sixth.status_code == 400
        with pytest.raises(ResourceNotFound):
            await call(
                alice.commands.execute_command,
                {"channel_id": fake.channel_id("dast-help"), "command": "/nope"},
            )


async def test_a_slash_reply_over_the_post_limit_is_not_posted(fake: FakeMattermost) -> None:
    """As Mattermost's HandleCommandResponse: an in_channel text over 16,383 runes cannot be
    posted, so the command fails with "failed to post response" while the parts that fit are
    posted; ephemeral texts are not validated by the server."""
    long_text = "é" * 16_384  # runes, not bytes

    async def reply(request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        if form["text"] == "fits":
            return web.json_response({"response_type": "in_channel", "text": "é" * 16_383})
        if form["text"] == "ephemeral":
            return web.json_response({"text": long_text})
        extra = {"response_type": "in_channel", "text": "the part that fits"}
        return web.json_response(
            {"response_type": "in_channel", "text": long_text, "extra_responses": [extra]}
        )

    async with Integration(reply) as app:
        bot = await login(fake)
        await call(
            bot.commands.create_command,
            {"team_id": fake.team_id(), "trigger": "dast", "url": app.url, "method": "P"},
        )
        channel = fake.channel_id("dast-help")

        def execute(text: str) -> requests.Response:
            body = {"channel_id": channel, "command": f"/dast {text}"}
            return raw(fake, "POST", "/api/v4/commands/execute", user="alice", json=body)

        refused = await asyncio.to_thread(execute, "status")
        assert refused.status_code == 500
        assert refused.json()["id"] == "api.command.execute_command.create_post_failed.app_error"
        assert "failed to post response" in refused.json()["message"]
        assert [p["message"] for p in fake.posts("dast-help")] == ["the part that fits"]
        assert (await asyncio.to_thread(execute, "fits")).status_code == 200
        assert (await asyncio.to_thread(execute, "ephemeral")).status_code == 200
        assert [len(e.message) for e in fake.ephemeral_posts("alice")] == [16_384]


async def test_button_click_round_trip(fake: FakeMattermost) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"update": {"message": "claimed by alice"}, "ephemeral_text": "You claimed it."}
        )

    async with Integration(reply) as app:
        driver = await login(fake)
        channel = fake.channel_id("dast-help")
        action = {
            "id": "claim",
            "name": "Claim",
            "type": "button",
            "integration": {"url": app.url, "context": {"ticket": 7}},
        }
        props = {"attachments": [{"text": "ticket 7", "actions": [action]}]}
        with pytest.raises(InvalidOrMissingParameters):
            bad = {"attachments": [{"actions": [dict(action, id="claim-1")]}]}
            await call(
                driver.posts.create_post, {"channel_id": channel, "message": "x", "props": bad}
            )
        post = await call(
            driver.posts.create_post, {"channel_id": channel, "message": "ticket", "props": props}
        )
        assert "integration" not in post["props"]["attachments"][0]["actions"][0]
        read_back = await call(driver.posts.get_post, post["id"])
        assert "integration" not in read_back["props"]["attachments"][0]["actions"][0]
        assert (
            fake.post(post["id"])["props"]["attachments"][0]["actions"][0]["integration"]["url"]
            == app.url
        )
        clicked = await call(
            lambda: requests.post(
                f"{fake.url}/_fake/click",
                params={"user": "alice", "post_id": post["id"], "action_id": "claim"},
                timeout=5,
            )
        )
        assert clicked.status_code == 200 and clicked.json()["ephemeral_text"] == "You claimed it."
        _, payload = app.requests[0]
        assert payload["context"] == {"ticket": 7} and payload["type"] == "button"
        assert payload["user_name"] == "alice" and payload["post_id"] == post["id"]
        assert set(payload) >= {
            "user_id",
            "channel_id",
            "channel_name",
            "team_id",
            "team_domain",
            "trigger_id",
        }
        assert fake.post(post["id"])["message"] == "claimed by alice"
        note = await fake.wait_for_ephemeral(lambda e: e.recipient_id == fake.user_id("alice"))
        assert note.message == "You claimed it." and note.root_id == post["id"]


# ------------------------------------------------------------------ TLS and CLI


async def test_tls_rest_and_wss(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    async with FakeMattermost(ssl_context=server_ctx) as fake:
        assert fake.url.startswith("https://")
        driver = await login(fake, verify=str(cert))
        assert driver.client.username == "dastbot"
        client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
        client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        ws, frames = await raw_ws(fake, ssl=client_ctx)
        assert fake.ws_url.startswith("wss://") and frames[1]["event"] == "hello"
        await ws.close()
        with pytest.raises(requests.exceptions.SSLError):
            await call(lambda: requests.get(fake.url + "/api/v4/system/ping", timeout=5))


@pytest.mark.parametrize("tls", [False, True])
async def test_cli_prints_one_json_line(tmp_path: Path, tls: bool) -> None:
    args = [sys.executable, "-m", "tests.fakes.fake_mattermost", "--port", "0"]
    verify: str | bool = True
    if tls:
        cert, key = make_cert(tmp_path)
        args += ["--tls-cert", str(cert), "--tls-key", str(key)]
        verify = str(cert)
    # As the README runs it: from the clone's root, which ``python -m`` puts on the path.
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        info = json.loads(line)
        assert info["url"].startswith("https://" if tls else "http://")
        assert info["team"] == "atlas" and set(info["channels"]) == {
            "dast-help",
            "dast-coordinators",
        }
        assert set(info["users"]) == {"dastbot", "alice", "bob", "carol"}
        token = info["users"]["alice"]["token"]
        me = await call(
            lambda: requests.get(
                info["url"] + "/api/v4/users/me",
                headers={"Authorization": f"Bearer {token}"},
                verify=verify,
                timeout=5,
            )
        )
        assert me.json()["id"] == info["users"]["alice"]["id"]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


def test_thread_runner_for_sync_callers() -> None:
    with FakeMattermostThread(seed=7) as server:
        fake = server.fake
        me = requests.get(
            server.url + "/api/v4/users/me",
            headers={"Authorization": f"Bearer {fake.token('carol')}"},
            timeout=5,
        ).json()
        assert me["username"] == "carol"
        post = server.run(fake.create_post("carol", "dast-help", "from a thread"))
        assert (
            server.run(fake.wait_for_post(lambda p: p["id"] == post["id"]))["message"]
            == "from a thread"
        )
        server.call(fake.fail_next, 500)
        assert requests.get(server.url + "/api/v4/system/ping", timeout=5).status_code == 500


async def test_ws_header_auth_hello_first_and_ping_action() -> None:
    async with FakeMattermost(hello_before_ok=True) as fake:
        ws, frames = await raw_ws(fake)
        assert frames[0]["event"] == "hello" and frames[1] == {"status": "OK", "seq_reply": 1}
        await ws.send(json.dumps({"seq": 2, "action": "ping"}))
        pong = json.loads(await asyncio.wait_for(ws.recv(), 3))
        assert pong["seq_reply"] == 2 and pong["data"]["text"] == "pong"
        await asyncio.wait_for(await ws.ping(), 3)  # protocol-level ping answered
        await ws.close()
        headers = {"Authorization": f"Bearer {fake.token('bob')}"}
        async with websockets.connect(fake.ws_url, additional_headers=headers) as direct:
            hello = json.loads(await asyncio.wait_for(direct.recv(), 3))
            assert hello["event"] == "hello" and hello["broadcast"]["user_id"] == fake.user_id(
                "bob"
            )
        assert fake.ws_auth_total == 2
