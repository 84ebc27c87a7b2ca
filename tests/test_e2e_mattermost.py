"""End to end over real sockets: the real driver in the bot against the fake Mattermost server.

Each test starts the fake server and the bot (``run_bot``, as ``dastbot run`` does) in this event
loop, acts as users through the fake, and waits on the fake's events with timeouts.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import FIXTURES, make_cert
from fakes.fake_mattermost import WAIT_S, FakeAppError, FakeMattermost, PostPredicate

from dastbot.app import run_bot
from dastbot.kernel.clock import Clock
from dastbot.kernel.config import load_config

REPO = Path(__file__).resolve().parent.parent
QUESTION = "Payload exceeded maximum allowed memory in all my jobs"
SORRY = "Sorry my answer did not help."  # the answer itself says "If this did not help"
SLASH_TOKEN = "slash-secret-token"
JSON = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(fake: FakeMattermost, tmp_path: Path, **extra: str) -> dict[str, str]:
    port = free_port()
    return {
        "DASTBOT_MATTERMOST_URL": fake.url,
        "DASTBOT_MATTERMOST_TOKEN": fake.token("dastbot"),
        "DASTBOT_TEAM": "atlas",
        "DASTBOT_CHANNELS": "dast-help",
        "DASTBOT_SLASH_TOKEN": SLASH_TOKEN,
        "DASTBOT_HTTP_PORT": str(port),
        "DASTBOT_HTTP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DASTBOT_HTTP_METRICS_PORT": "0",
        "DASTBOT_DB": str(tmp_path / "bot.db"),
        "DASTBOT_KB": str(FIXTURES / "kb"),
        **extra,
    }


@asynccontextmanager
async def running_bot(
    env: Mapping[str, str], clock: Clock | None = None
) -> AsyncIterator[dict[str, object]]:
    config = load_config(None, env)
    ready: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(run_bot(config, ready=ready.set_result, clock=clock))
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=WAIT_S, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        assert ready.done(), "the bot did not become ready"
        yield ready.result()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def reply_to(fake: FakeMattermost, root: JSON) -> Any:
    bot = fake.user_id("dastbot")
    return lambda p: p["user_id"] == bot and p.get("root_id") == root["id"]


def bot_replies(fake: FakeMattermost, root: JSON) -> list[JSON]:
    bot = fake.user_id("dastbot")
    return [p for p in fake.posts() if p["user_id"] == bot and p.get("root_id") == root["id"]]


async def asked_and_answered(fake: FakeMattermost) -> tuple[JSON, JSON]:
    """alice asks QUESTION in the help channel; the question and the bot's answer."""
    question = await fake.create_post("alice", "dast-help", QUESTION)
    return question, await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)


def apology_in(question: JSON) -> PostPredicate:
    """The post in the question's thread saying the answer did not help."""
    return lambda p: p.get("root_id") == question["id"] and SORRY in p["message"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeMattermost]:
    async with FakeMattermost() as server:
        yield server


async def test_a_question_is_answered_in_its_thread_within_a_second(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        question = await fake.create_post("alice", "dast-help", QUESTION)
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = await fake.wait_for_post(reply_to(fake, question), timeout=1.0)
        assert loop.time() - started < 1.0
        assert "Job killed for exceeding memory" in reply["message"]
        assert reply["props"]["from_bot"] == "true"
        actions = reply["props"]["attachments"][0]["actions"]
        assert [a["id"] for a in actions] == ["helped", "nothelped", "take", "resolve"]


async def test_the_bot_answers_over_wss_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    async with FakeMattermost(ssl_context=server_ssl) as fake:
        assert fake.url.startswith("https://")
        env = bot_env(fake, tmp_path, DASTBOT_MATTERMOST_CA_FILE=str(cert))
        async with running_bot(env):
            await fake.wait_for_ws_auth(1)
            question = await fake.create_post("alice", "dast-help", QUESTION)
            reply = await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)
            assert reply["root_id"] == question["id"]


async def test_without_the_private_ca_the_certificate_is_refused(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    async with FakeMattermost(ssl_context=server_ssl) as fake:
        config = load_config(None, bot_env(fake, tmp_path))
        with pytest.raises(Exception, match=r"certificate verify failed"):
            await asyncio.wait_for(run_bot(config), timeout=WAIT_S)


@pytest.mark.parametrize("code", [1000, 1006, 1011])
async def test_after_the_server_drops_the_socket_every_post_is_answered_once(
    fake: FakeMattermost, tmp_path: Path, code: int
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        before = await fake.create_post("alice", "dast-help", QUESTION)
        await fake.wait_for_post(reply_to(fake, before), timeout=WAIT_S)

        assert fake.close_websockets(code) == 1
        during = [
            await fake.create_post(user, "dast-help", f"{QUESTION} ({user})")
            for user in ("alice", "bob", "carol")
        ]
        await fake.wait_for_ws_auth(2, timeout=WAIT_S)
        after = await fake.create_post("bob", "dast-help", "my grid proxy has expired again")

        for question in [*during, after]:
            await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)
        for question in [before, *during, after]:
            assert len(bot_replies(fake, question)) == 1


async def test_rate_limits_and_server_errors_still_deliver_the_reply_once(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        fake.fail_next(429, count=1, retry_after=1, path="/api/v4/posts", method="POST")
        limited = await fake.create_post("alice", "dast-help", QUESTION)
        await fake.wait_for_post(reply_to(fake, limited), timeout=WAIT_S)

        fake.fail_next(500, count=3, path="/api/v4/posts", method="POST")
        failing = await fake.create_post("bob", "dast-help", "my grid proxy has expired")
        await fake.wait_for_post(reply_to(fake, failing), timeout=WAIT_S)

        assert len(bot_replies(fake, limited)) == 1
        assert len(bot_replies(fake, failing)) == 1


async def test_a_rate_limited_reachability_check_does_not_stop_the_start(
    fake: FakeMattermost, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first_target = f"/api/v4/teams/{fake.team_id()}/channels/name/adc-cloud-ca"
    fake.fail_next(429, count=6, retry_after=0, path=first_target, method="GET")
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        question = await fake.create_post("alice", "dast-help", QUESTION)
        await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)
    assert "could not check that the escalation targets can be posted to" in caplog.text
    assert "still failing after 6 attempts (HTTP 429)" in caplog.text


async def test_a_restart_does_not_answer_old_posts_again_and_catches_up_on_new_ones(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    env = bot_env(fake, tmp_path)
    async with running_bot(env):
        await fake.wait_for_ws_auth(1)
        first = await fake.create_post("alice", "dast-help", QUESTION)
        await fake.wait_for_post(reply_to(fake, first), timeout=WAIT_S)
    missed = await fake.create_post("bob", "dast-help", "my grid proxy has expired")
    async with running_bot(env):
        await fake.wait_for_post(reply_to(fake, missed), timeout=WAIT_S)
        assert len(bot_replies(fake, first)) == 1
        assert len(bot_replies(fake, missed)) == 1


async def test_the_bot_ignores_its_own_posts_and_other_channels(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        elsewhere = await fake.create_post("alice", "dast-coordinators", QUESTION)
        question = await fake.create_post("alice", "dast-help", QUESTION)
        await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)
        assert bot_replies(fake, elsewhere) == []
        bot_posts = [
            p
            for p in fake.posts()
            if p["user_id"] == fake.user_id("dastbot")
            and not p["message"].startswith("**dastbot cannot post to these escalation targets")
        ]
        assert len(bot_posts) == 1


async def test_a_thumbs_down_and_the_button_reach_the_router(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        question, answer = await asked_and_answered(fake)
        await fake.add_reaction("alice", answer["id"], "-1")
        sorry = await fake.wait_for_post(apology_in(question), timeout=WAIT_S)
        assert sorry["user_id"] == fake.user_id("dastbot")

        other = await fake.create_post("bob", "dast-help", "my grid proxy has expired")
        answer = await fake.wait_for_post(reply_to(fake, other), timeout=WAIT_S)
        reply = await fake.click("bob", answer["id"], "helped")
        assert reply["ephemeral_text"] == "Thanks for the feedback: glad it helped."


async def test_a_thumbs_down_given_while_the_bot_was_disconnected_still_calls_a_person(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        question, answer = await asked_and_answered(fake)

        fake.refuse_websockets(WAIT_S)
        assert fake.close_websockets(1006) == 1
        await fake.add_reaction("alice", answer["id"], "-1")  # nobody is listening
        fake.reset_faults()
        await fake.wait_for_ws_auth(2, timeout=WAIT_S)

        await fake.wait_for_post(apology_in(question), timeout=WAIT_S)


async def test_a_reaction_seen_live_and_again_in_the_catch_up_counts_once(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)):
        await fake.wait_for_ws_auth(1)
        question, answer = await asked_and_answered(fake)
        await fake.add_reaction("alice", answer["id"], "-1")
        await fake.wait_for_post(apology_in(question), timeout=WAIT_S)

        assert fake.close_websockets(1006) == 1
        await fake.wait_for_ws_auth(2, timeout=WAIT_S)
        later = await fake.create_post("bob", "dast-help", "my grid proxy has expired")
        await fake.wait_for_post(reply_to(fake, later), timeout=WAIT_S)
        assert len([p for p in bot_replies(fake, question) if apology_in(question)(p)]) == 1


async def test_slash_commands_need_the_right_token(fake: FakeMattermost, tmp_path: Path) -> None:
    env = bot_env(fake, tmp_path)
    async with running_bot(env) as info:
        url = f"http://127.0.0.1:{info['http_port']}/slash"
        team = fake.team_id()
        alice = fake.state.users[fake.user_id("alice")]
        fake.state.add_command(
            alice, {"team_id": team, "trigger": "dast", "url": url, "token": "forged"}
        )
        with pytest.raises(FakeAppError, match="returned an error"):
            await fake.execute_command("alice", "dast-help", "/dast help")
        async with aiohttp.ClientSession() as http:
            form = {"token": "forged", "user_id": "u", "user_name": "mallory", "text": "help"}
            async with http.post(url, data=form) as response:
                assert response.status == 401
                assert (await response.json())["text"] == "Invalid command token."

        fake.state.commands.clear()
        fake.state.add_command(
            alice, {"team_id": team, "trigger": "dast", "url": url, "token": SLASH_TOKEN}
        )
        response = await fake.execute_command("alice", "dast-help", "/dast help")
        assert response["response_type"] == "ephemeral"
        assert "/dast kb search TEXT" in response["text"]


async def test_health_reflects_the_websocket(fake: FakeMattermost, tmp_path: Path) -> None:
    async with running_bot(bot_env(fake, tmp_path)) as info:
        await fake.wait_for_ws_auth(1)
        base = f"http://127.0.0.1:{info['http_port']}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                assert (await response.json()) == {
                    "ok": True,
                    "websocket": True,
                    "store": True,
                    "posts": True,
                    "outbox": True,
                    "reasons": [],
                }
            fake.refuse_websockets(30)
            fake.close_websockets(1006)
            feed = info["feed"]
            await asyncio.wait_for(feed.disconnected.wait(), timeout=WAIT_S)  # type: ignore[attr-defined]
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 503
                body = await response.json()
                assert body["websocket"] is False
                assert body["reasons"] == ["websocket: not connected"]
            internal = f"http://127.0.0.1:{info['metrics_port']}"
            async with http.get(f"{internal}/metrics") as response:
                text = await response.text()
            assert "dastbot_reconnects_total" in text
            async with http.get(f"{internal}/healthz") as response:
                assert response.status == 503
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 404, "metrics must not be on the public port"


async def test_a_rejected_token_stops_the_bot_with_a_clear_message(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    env = bot_env(fake, tmp_path, DASTBOT_MATTERMOST_TOKEN="not-a-valid-token")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dastbot",
        "run",
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=WAIT_S)
    assert process.returncode == 3
    message = err.decode()
    assert "rejected the bot token" in message
    assert "DASTBOT_MATTERMOST_TOKEN" in message
    assert "not-a-valid-token" not in message


async def test_a_message_with_a_chart_uploads_the_file_first(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    from dastbot.app import App
    from dastbot.kernel.models import OutMessage

    async with running_bot(bot_env(fake, tmp_path)) as info:
        app: App = info["app"]  # type: ignore[assignment]
        png = b"\x89PNG\r\n\x1a\n" + b"0" * 2048
        app.router.queue(
            [OutMessage("dast-coordinators", "weekly", key="w1", files=(("c.png", png),))]
        )
        await app.router.flush()
        post = await fake.wait_for_post(lambda p: p["message"] == "weekly", timeout=WAIT_S)
        assert post["channel_id"] == fake.channel_id("dast-coordinators")
        assert len(post["file_ids"]) == 1


async def test_a_coordinators_freed_username_gives_a_newcomer_no_role(
    fake: FakeMattermost, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cora = fake.add_user("cora")
    roster = '[{"user": "cora", "zone": "EU", "roles": ["coordinator"]}]'
    env = bot_env(fake, tmp_path, DASTBOT_ROSTER=roster)

    async def dast(user: str, info: Mapping[str, object], text: str) -> str:
        url = f"http://127.0.0.1:{info['http_port']}/slash"
        fake.state.commands.clear()
        fake.state.add_command(
            fake.state.users[fake.user_id(user)],
            {"team_id": fake.team_id(), "trigger": "dast", "url": url, "token": SLASH_TOKEN},
        )
        return str((await fake.execute_command(user, "dast-help", f"/dast {text}"))["text"])

    async with running_bot(env) as info:
        assert (await dast("cora", info, "outbox")).startswith("Nothing is stuck")

    # cora renames herself; a newcomer signs up as "cora" with an account of his own
    fake.rename_user("cora", "cora.old")
    newcomer = fake.add_user("cora")
    assert newcomer != cora
    async with running_bot(env) as info:
        refused = await dast("cora", info, "outbox")
        assert refused.startswith("`/dast outbox` needs the coordinator role; you are a user.")
        assert (await dast("cora.old", info, "outbox")).startswith("Nothing is stuck")
        told = await fake.wait_for_post(
            lambda p: (
                p["channel_id"] == fake.channel_id("dast-coordinators")
                and "roster usernames and Mattermost accounts disagree" in p["message"]
            )
        )
    warning = (
        f"roster: the username cora now belongs to another Mattermost account (id {newcomer}, "
        f"not {cora}), which gets no role; if that is the same person, run "
        "`dastbot roster forget cora` and restart the bot"
    )
    assert warning in caplog.text
    assert f"id {newcomer}, not {cora}" in told["message"]
