"""Logging of ``dastbot run``: one line per event (text, or JSON with DASTBOT_LOG_FORMAT=json), the
post and thread ids on every line about a post, and never a secret.

The bot runs as a subprocess at DEBUG level (``dastbot -v run``) against the fake server, through
a question, a reply in its thread, slash commands (one with a forged token: a 401), an escalation
whose reminder is retried after a 500, the target's reply, a websocket drop with a post missed
meanwhile, and finally a token check answered 401, which stops the bot (exit code 3). Every line
of its stderr and stdout is then read: no bot, slash or user token anywhere; in JSON mode every
line is one JSON object; each post the bot handled has at least one line, and every line that
names a post carries that post's id and its thread's id.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from botprocess import EVENT_TIMEOUT_S, BotProcess
from chaosharness import (
    KB_QUESTIONS,
    SLASH_TOKEN,
    bot_env,
    escalate,
    escalation_root,
    first_reply,
    free_port,
    prepare_fake,
    register_slash,
    with_key,
)
from fakes.fake_mattermost import FakeMattermost

JSON = dict[str, Any]
ID = re.compile(r"\b[a-z0-9]{26}\b")


def secrets_of(fake: FakeMattermost) -> dict[str, str]:
    found = {"slash token": SLASH_TOKEN}
    for user in fake.state.users.values():
        found[f"token of {user.username}"] = user.token
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() if secret in text]


async def run_scenario(
    fake: FakeMattermost, bot: BotProcess, db: Path, port: int
) -> tuple[dict[str, str], dict[str, str]]:
    """Drive the bot; returns every user post it handled (post id -> thread id) and the
    escalation it opened (id -> the user thread)."""
    handled: dict[str, str] = {}
    await bot.start()
    await fake.wait_for_ws_auth(1, timeout=EVENT_TIMEOUT_S)

    question = await fake.create_post("alice", "dast-help", KB_QUESTIONS[0])
    await first_reply(fake, question)
    handled[question["id"]] = question["id"]
    complaint = await fake.create_post(
        "alice", "dast-help", "this did not help", root_id=question["id"]
    )
    await fake.wait_for_post(with_key(f"sorry:reply:{complaint['id']}"), timeout=EVENT_TIMEOUT_S)
    handled[complaint["id"]] = question["id"]

    response = await fake.execute_command("carol", "dast-help", "/dast help")
    assert "/dast" in response["text"]
    async with aiohttp.ClientSession() as http:
        form = {"token": "forged-token", "user_id": "u" * 26, "user_name": "mallory", "text": ""}
        async with http.post(f"http://127.0.0.1:{port}/slash", data=form) as answer:
            assert answer.status == 401

    esc = await escalate(fake, bot, db, question, "cloud-zz")
    root = await escalation_root(fake, db, esc)
    await fake.wait_for_post(with_key(f"escalated:{esc}"), timeout=EVENT_TIMEOUT_S)
    # The next post the bot makes comes from a sweep (the first reminder, 1.44 s after
    # opening, or an alert to the coordinators): fail it once, for a retry line.
    fake.fail_next(500, 1, path="/api/v4/posts", method="POST")
    await fake.wait_for_post(with_key(f"reminder:{esc}:1"), timeout=EVENT_TIMEOUT_S)
    reply = await fake.create_post("tom", "adc-cloud-zz", "On it.", root_id=root["id"])
    await fake.wait_for_post(
        with_key(f"escalation-reply:{esc}:{reply['id']}"), timeout=EVENT_TIMEOUT_S
    )
    handled[reply["id"]] = root["id"]

    fake.close_websockets(1006)
    missed = await fake.create_post("bob", "dast-help", KB_QUESTIONS[1])
    await first_reply(fake, missed)
    handled[missed["id"]] = missed["id"]
    await fake.wait_for_ws_auth(2, timeout=EVENT_TIMEOUT_S)

    # A revoked token: the socket cannot come back, and the token check says 401.
    fake.refuse_websockets(30)
    fake.fail_next(401, 5, path="/api/v4/users/me")
    fake.close_websockets(1006)
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), timeout=EVENT_TIMEOUT_S)
    assert code == 3, bot.tail()
    return handled, {esc: question["id"]}


def check_lines(
    lines: list[JSON],
    handled: dict[str, str],
    escalations: dict[str, str],
    secrets: dict[str, str],
) -> list[str]:
    """Problems with the records of one run (see the module docstring)."""
    problems = []
    for line in lines:
        text = json.dumps(line, ensure_ascii=False)
        message = str(line.get("message", ""))
        for name in leaks(text, secrets):
            problems.append(f"the {name} in: {text[:200]}")
        # (An outbox key may name the post a message answers: "key=escalation-reply:E1:<id>";
        # such a line is about the outgoing message, whose thread it must carry: checked below.)
        for post_id in set(ID.findall(re.sub(r"key=\S+", "", message))) & set(handled):
            thread = handled[post_id]
            if line.get("post_id") in (None, "", post_id) and line.get("thread_id") != thread:
                problems.append(f"names post {post_id} without thread_id {thread}: {text[:200]}")
            elif not line.get("thread_id"):
                problems.append(f"names post {post_id} without a thread_id: {text[:200]}")
        if line.get("post_id") in handled and line.get("thread_id") != handled[line["post_id"]]:
            problems.append(f"post_id without the right thread_id: {text[:200]}")
        # (A start-up notice to the coordinators belongs to no thread.)
        if " key=" in message and "key=unreachable:" not in message and not line.get("thread_id"):
            problems.append(f"a line about an outgoing message without a thread: {text[:200]}")
        for esc in escalations:
            if re.search(rf"\b{esc}\b", message) and not line.get("thread_id"):
                problems.append(f"a line about {esc} without a thread: {text[:200]}")
    for post_id, thread in handled.items():
        if not any(line.get("post_id") == post_id for line in lines):
            problems.append(f"no line for the post {post_id} (thread {thread}) the bot handled")
    for esc, thread in escalations.items():
        if not any(
            line.get("thread_id") == thread and re.search(rf"\b{esc}\b", line["message"])
            for line in lines
        ):
            problems.append(f"no line with thread_id {thread} says that {esc} was opened")
    return problems


async def test_json_log_lines_carry_post_and_thread_ids_and_no_secret(tmp_path: Path) -> None:
    async with FakeMattermost() as fake:
        prepare_fake(fake)
        port = free_port()
        register_slash(fake, port)
        env = bot_env(fake, tmp_path, port, DASTBOT_LOG_FORMAT="json")
        bot = BotProcess(env, tmp_path, tmp_path / "bot.log", args=("-v",))
        try:
            handled, escalations = await run_scenario(fake, bot, tmp_path / "bot.db", port)
        finally:
            await bot.close()
        stderr = (tmp_path / "bot.log").read_text(encoding="utf-8")
        secrets = secrets_of(fake)

    problems = [f"the {name} on stderr" for name in leaks(stderr, secrets)]
    records: list[JSON] = []
    for raw in stderr.splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not {"level", "logger", "message"} <= set(record):
            problems.append(f"not a JSON log record: {raw[:200]}")
        else:
            records.append(record)
    if not any(r["level"] == "DEBUG" for r in records):
        problems.append("the run was not at DEBUG level")
    if not any("rejected the bot token" in r["message"] for r in records):
        problems.append("no JSON record says that the token was rejected")
    problems += check_lines(records, handled, escalations, secrets)
    assert not problems, "\n".join(problems)


_TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


async def test_text_log_lines_are_single_lines_with_ids_and_no_secret(tmp_path: Path) -> None:
    async with FakeMattermost() as fake:
        prepare_fake(fake)
        port = free_port()
        register_slash(fake, port)
        bot = BotProcess(bot_env(fake, tmp_path, port), tmp_path, tmp_path / "bot.log", ("-v",))
        try:
            await bot.start()
            await fake.wait_for_ws_auth(1, timeout=EVENT_TIMEOUT_S)
            question = await fake.create_post("carol", "dast-help", "where is the cafeteria")
            await first_reply(fake, question)
            async with aiohttp.ClientSession() as http:
                form = {"token": "x", "user_id": "u" * 26, "user_name": "m", "text": "help"}
                async with http.post(f"http://127.0.0.1:{port}/slash", data=form) as answer:
                    assert answer.status == 401
            assert await bot.stop() == 0
        finally:
            await bot.close()
        stderr = (tmp_path / "bot.log").read_text(encoding="utf-8")
        secrets = secrets_of(fake)

    assert not leaks(stderr, secrets), leaks(stderr, secrets)
    lines = stderr.splitlines()
    continuation = [line for line in lines if not _TEXT_LINE.match(line)]
    assert not continuation, "lines that do not start a log record:\n" + "\n".join(continuation)
    about = [line for line in lines if question["id"] in line]
    assert about, "no line about the question"
    thread = f"thread_id={question['id']}"
    for line in about:
        assert thread in line, line
        # A line about the question itself (not one about a reply whose key names it) also
        # carries its post id.
        if question["id"] in re.sub(r"key=\S+", "", line.replace(thread, "")):
            assert f"post_id={question['id']}" in line, line
    assert any("refused slash request" in line for line in lines)
