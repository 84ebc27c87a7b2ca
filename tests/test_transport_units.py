"""Transport pieces without a server: URL parsing, backoff, Retry-After, event translation,
and the HTTP endpoint's refusals."""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp
import pytest
import requests

from dastbot.chat.http import HttpEndpoint, sign_context
from dastbot.chat.mattermost import (
    MattermostChat,
)
from dastbot.chat.mattermost_feed import MattermostFeed
from dastbot.chat.mattermost_transport import ServerAddress, backoff_delays, retry_after
from dastbot.kernel.config import load_config
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import Click, Command, CommandReply, Reaction


def test_server_addresses_always_carry_a_port() -> None:
    assert ServerAddress.parse("https://chat.example.org").port == 443
    assert ServerAddress.parse("http://localhost").port == 8065
    assert ServerAddress.parse("https://chat.example.org:8443").base == (
        "https://chat.example.org:8443"
    )
    with pytest.raises(ValueError):
        ServerAddress.parse("chat.example.org")


def test_backoff_grows_by_one_point_seven_five_with_jitter_and_a_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("random.uniform", lambda a, b: b)
    delays = backoff_delays()
    assert [round(delays(), 3) for _ in range(4)] == [1.0, 1.75, 3.062, 5.359]
    capped = backoff_delays(start=200)
    assert [capped() for _ in range(3)] == [200, 300, 300]
    monkeypatch.setattr("random.uniform", lambda a, b: a)
    assert backoff_delays()() == 0.5


def _http_error(status: int, headers: Mapping[str, str]) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return requests.HTTPError(response=response)


def test_retry_after_is_honoured_and_bounded() -> None:
    assert retry_after(_http_error(429, {"Retry-After": "3"}), 0.1) == 3.0
    assert retry_after(_http_error(429, {"X-RateLimit-Reset": "2"}), 0.1) == 2.0
    assert retry_after(_http_error(429, {"Retry-After": "9999"}), 0.1) == 120.0
    assert retry_after(_http_error(429, {}), 0.1) == 0.1


def _feed() -> MattermostFeed:
    config = load_config(None, {"DASTBOT_MATTERMOST_URL": "http://127.0.0.1:8065"})
    chat = MattermostChat(config, "token")
    chat.user_id = "bot0000000000000000000000a"
    return MattermostFeed(chat, 0, lambda ms: None)


def _posted(post: dict[str, object], channel_type: str = "O", sender: str = "@alice") -> str:
    return json.dumps(
        {
            "event": "posted",
            "data": {
                "post": json.dumps(post),
                "channel_type": channel_type,
                "sender_name": sender,
            },
            "seq": 3,
        }
    )


async def test_posted_events_from_people_become_posts_and_own_or_system_posts_do_not() -> None:
    feed = _feed()
    base = {"id": "p1", "user_id": "alice-id", "message": "help", "create_at": 1_700_000_000_000}
    await feed._on_frame(_posted({**base, "channel_id": "chan"}))
    await feed._on_frame(_posted({**base, "id": "p2", "channel_id": "elsewhere"}))
    await feed._on_frame(_posted({**base, "id": "p3", "channel_id": "dm"}, channel_type="D"))
    await feed._on_frame(
        _posted({**base, "id": "p4", "channel_id": "chan", "user_id": feed.chat.user_id})
    )
    await feed._on_frame(
        _posted({**base, "id": "p5", "channel_id": "chan", "type": "system_join_channel"})
    )
    await feed._on_frame("not json")
    kinds = [feed._queue.get_nowait() for _ in range(feed._queue.qsize())]
    assert [(k, p.id, p.user_name, p.channel_type) for k, p in kinds] == [
        ("post", "p1", "alice", "O"),
        ("post", "p2", "alice", "O"),
        ("post", "p3", "alice", "D"),
    ]


async def test_reactions_and_hello_reach_the_queue() -> None:
    feed = _feed()
    reaction = {"user_id": "u", "post_id": "p", "emoji_name": "-1", "channel_id": "chan"}
    await feed._on_frame(json.dumps({"event": "hello", "data": {}, "seq": 0}))
    await feed._on_frame(
        json.dumps({"event": "reaction_added", "data": {"reaction": json.dumps(reaction)}})
    )
    assert feed.connected.is_set()
    assert feed._queue.get_nowait() == ("hello", 1)
    assert feed._queue.get_nowait() == ("reaction", Reaction("u", "p", "chan", "-1", True))


@pytest.fixture
async def endpoint() -> tuple[HttpEndpoint, str, list[object]]:
    seen: list[object] = []

    async def on_command(command: Command) -> CommandReply:
        seen.append(command)
        return CommandReply(f"you said {command.text}", in_channel=command.text == "loud")

    async def on_click(click: Click) -> str:
        seen.append(click)
        return "clicked"

    http = HttpEndpoint(
        slash_token="s3cret",
        on_command=on_command,
        on_click=on_click,
        healthy=lambda: {"websocket": "not connected", "store": ""},
        metrics=Metrics(),
    )
    port = await http.start("127.0.0.1", 0)
    yield http, f"http://127.0.0.1:{port}", seen
    await http.stop()


async def test_slash_replies_ephemeral_or_in_channel_and_refuses_forgeries(
    endpoint: tuple[HttpEndpoint, str, list[object]],
) -> None:
    http, base, seen = endpoint
    form = {"user_id": "u1", "user_name": "alice", "channel_id": "c", "text": "status"}
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{base}/slash", data=form, headers={"Authorization": "Token s3cret"}
        ) as r:
            assert r.headers["Content-Type"] == "application/json"
            assert await r.json() == {"response_type": "ephemeral", "text": "you said status"}
        async with client.post(
            f"{base}/slash", data={**form, "token": "s3cret", "text": "loud"}
        ) as r:
            assert (await r.json())["response_type"] == "in_channel"
        for token in ("wrong", "", "s3cret-and-more"):
            async with client.post(f"{base}/slash", data={**form, "token": token}) as r:
                assert r.status == 401
        async with client.post(f"{base}/slash", data={"token": "s3cret", "text": "x"}) as r:
            assert r.status == 400
    assert len(seen) == 2
    metrics = http.metrics.render().decode()
    assert 'dastbot_refusals_total{endpoint="slash",reason="bad token"} 3.0' in metrics


async def test_button_clicks_need_the_bots_signature(
    endpoint: tuple[HttpEndpoint, str, list[object]],
) -> None:
    _, base, seen = endpoint
    context = {"thread": "t1", "action": "helped"}
    signed = {**context, "sig": sign_context("s3cret", context)}
    body = {"user_id": "u", "user_name": "alice", "channel_id": "c", "post_id": "p"}
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{base}/actions", json={**body, "context": signed}) as r:
            assert await r.json() == {"update": None, "ephemeral_text": "clicked"}
        forged = {**context, "thread": "t2", "sig": signed["sig"]}
        async with client.post(f"{base}/actions", json={**body, "context": forged}) as r:
            assert r.status == 401
        async with client.post(f"{base}/actions", data=b"{not json") as r:
            assert r.status == 400
        async with client.get(f"{base}/healthz") as r:
            assert r.status == 503
            assert await r.json() == {
                "ok": False,
                "websocket": False,
                "store": True,
                "reasons": ["websocket: not connected"],
            }
    assert [type(s).__name__ for s in seen] == ["Click"]
