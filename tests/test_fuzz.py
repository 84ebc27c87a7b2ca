"""Fuzzing the bot's inputs: slash-command text and button clicks through the real HTTP endpoint,
the configuration and knowledge loaders on arbitrary text and structures, and example tests for
hostile messages (64 KB, unicode, markdown injection, SQL-looking text, forged requests).

Properties: the endpoint never answers 5xx and always answers JSON with a text; a command never
ends in the router's "Something went wrong" (an exception in a handler); the loaders raise only
their own error types, whatever the input. ``DASTBOT_FUZZ_EXAMPLES`` raises the example counts
for a deeper local run (CI keeps them small and derandomized).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import string
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml
from conftest import FIXTURES, RecordingChat, ShiftBot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dastbot.answering.answers import LiveKnowledge
from dastbot.answering.knowledge import KnowledgeError, load_text
from dastbot.chat.http import HttpEndpoint, sign_context
from dastbot.escalations.contacts import ContactsError, parse_contacts
from dastbot.escalations.sites import SitesError, parse_sites
from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config, ConfigError, load_config
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import Post
from dastbot.kernel.settings import Person
from dastbot.router import Router
from dastbot.store import Store

SLASH_TOKEN = "fuzz-slash-token-93b1"
FAILED = "Something went wrong on my side"
MM_MESSAGE_LIMIT = 16383
EXAMPLES = int(os.environ.get("DASTBOT_FUZZ_EXAMPLES", "0"))


F = TypeVar("F", bound=Callable[..., Any])


def fuzz(examples: int) -> Callable[[F], F]:
    """Hypothesis settings of these tests: modest and derandomized unless asked for more."""
    return settings(
        max_examples=max(examples, EXAMPLES),
        deadline=None,
        derandomize=not EXAMPLES,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the HTTP endpoint, with a real router, on a loop of its own ------------------------------

THREADS = ["q" * 25 + str(i) for i in range(3)]  # three tracked questions (26-char ids)
COMMANDS = (
    "help",
    "status",
    "escalate",
    "escalate cloud-de",
    "escalate FZK-LCG2",
    "escalation replied",
    "escalation close",
    "escalation cancel E1",
    "escalations",
    "kb search",
    "kb propose",
    "kb reload",
    "report",
    "shift book",
    "shift release",
    "shift swap",
    "shift list",
    "oncall",
)
USERS = ("alice", "bob", "mallory")  # coordinator, trainee, nobody


@dataclass
class Served:
    loop: asyncio.AbstractEventLoop
    session: aiohttp.ClientSession
    base: str
    internal: str
    router: Router
    chat: RecordingChat
    metrics: Metrics

    def __repr__(self) -> str:
        return f"Served({self.base})"

    def post(self, path: str, **kwargs: Any) -> tuple[int, str, Any]:
        async def go() -> tuple[int, str, Any]:
            async with self.session.post(self.base + path, **kwargs) as response:
                raw = await response.read()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                return response.status, response.headers.get("Content-Type", ""), body

        return self.loop.run_until_complete(go())

    def slash(self, text: str, user: str = "alice", token: str = SLASH_TOKEN) -> Any:
        form = {
            "token": token,
            "team_id": "t" * 26,
            "channel_id": "c" * 26,
            "channel_name": "dast-help",
            "user_id": (user or "x")[0] * 26,
            "user_name": user,
            "command": "/dast",
            "text": text,
        }
        return self.post("/slash", data=form)

    def metrics_text(self) -> str:
        async def go() -> str:
            async with self.session.get(self.internal + "/metrics") as response:
                return await response.text()

        return self.loop.run_until_complete(go())


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    config = load_config(None, {}).model_copy(
        update={
            "kb": str(FIXTURES / "kb"),
            "roster": [
                Person(user="alice", zone="EU", level="shifter", roles=["coordinator"]),
                Person(user="bob", zone="EU", level="trainee"),
            ],
        }
    )
    store = Store.memory()
    chat = RecordingChat()
    metrics = Metrics()
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    knowledge = LiveKnowledge.load(Path(config.kb), config)
    router = Router(config, store, chat, clock, knowledge, bot_user_id="bot", metrics=metrics)
    endpoint = HttpEndpoint(
        slash_token=SLASH_TOKEN,
        on_command=router.on_command,
        on_click=router.on_click,
        healthy=lambda: {"store": True},
        metrics=metrics,
        thread_of=router.thread_reference,
    )

    async def setup() -> tuple[int, aiohttp.ClientSession]:
        for i, thread in enumerate(THREADS):
            text = ("my task is exhausted what does it mean", "cafeteria menu?", "proxy")[i]
            await router.on_post(Post(thread, "c" * 26, "b" * 26, "bob", text, clock.now()))
        port = await endpoint.start("127.0.0.1", 0)
        await endpoint.start_internal("127.0.0.1", 0)
        # The endpoint closes a connection idle for header_timeout (10 s); a client reusing it
        # then may send into the close (a reset). Like a well-behaved client, this one drops its
        # idle connections well before the server does.
        return port, aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=2.0))

    port, session = loop.run_until_complete(setup())
    internal = f"http://127.0.0.1:{endpoint.internal_port}"
    try:
        yield Served(loop, session, f"http://127.0.0.1:{port}", internal, router, chat, metrics)
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(endpoint.stop())
        store.close()
        loop.close()


def check_slash(status: int, ctype: str, body: Any, text: str) -> None:
    assert status < 500, (status, text)
    assert ctype.startswith("application/json"), (ctype, text)
    assert isinstance(body, dict) and isinstance(body.get("text"), str), (body, text)
    assert body.get("response_type") in ("ephemeral", "in_channel"), body
    assert FAILED not in body["text"], f"/dast {text!r} raised in its handler"


command_texts = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda words, rest, ref: " ".join(p for p in (words, rest, ref) if p),
        st.sampled_from(COMMANDS),
        st.text(max_size=80),
        st.sampled_from(("", *THREADS, f"https://chat.example.org/atlas/pl/{THREADS[0]}")),
    ),
    st.lists(
        st.one_of(
            st.sampled_from(COMMANDS),
            st.sampled_from(("E1", "E99", "2026-03-03", "EU", "NA", "@bob", "-1", "ticket=x")),
            st.sampled_from(THREADS),
            st.text(alphabet=string.printable, max_size=12),
        ),
        max_size=6,
    ).map(" ".join),
)


@fuzz(120)
@given(text=command_texts, user=st.sampled_from(USERS))
def test_any_slash_command_text_gets_a_json_answer(served: Served, text: str, user: str) -> None:
    status, ctype, body = served.slash(text, user)
    check_slash(status, ctype, body, text)
    assert status == 200


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
contexts = st.dictionaries(
    st.sampled_from(("thread", "action", "sig", "x")) | st.text(max_size=8),
    json_values | st.sampled_from((*THREADS, "helped", "nothelped")),
    max_size=5,
)


@fuzz(80)
@example(body={"context": {"sig": "\x80"}}, signed=False)  # a non-ASCII signature: was a 500
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"context": contexts},
            optional={
                "user_id": json_values | st.sampled_from(("b" * 26, "a" * 26)),
                "user_name": json_values,
                "post_id": json_values,
                "channel_id": json_values,
            },
        ),
    ),
    signed=st.booleans(),
)
def test_any_button_payload_gets_an_answer_not_a_5xx(
    served: Served, body: Any, signed: bool
) -> None:
    if signed and isinstance(body, dict) and isinstance(body.get("context"), dict):
        body = {**body, "context": {**body["context"]}}
        body["context"]["sig"] = sign_context(SLASH_TOKEN, body["context"])
    status, ctype, answer = served.post("/actions", json=body)
    assert status < 500, (status, body)
    assert ctype.startswith("application/json")
    assert isinstance(answer, dict), answer
    text = answer.get("ephemeral_text", answer.get("text"))
    assert isinstance(text, str) and text, answer
    assert FAILED not in text, f"the click {body!r} raised in its handler"


@fuzz(30)
@given(raw=st.binary(max_size=200), ctype=st.sampled_from(("application/json", "text/plain")))
def test_undecodable_bodies_are_refused_with_4xx(served: Served, raw: bytes, ctype: str) -> None:
    for path in ("/slash", "/actions"):
        status, answer_type, _ = served.post(path, data=raw, headers={"Content-Type": ctype})
        assert status < 500, (path, raw)
        assert answer_type.startswith("application/json")


# --- the loaders -------------------------------------------------------------------------------

CONFIG_KEYS = {
    "bot_name": st.text(max_size=10),
    "team": st.text(max_size=10),
    "channels": st.lists(st.text(max_size=8), max_size=3) | st.text(max_size=8),
    "db": st.text(max_size=10),
    "kb": st.text(max_size=10),
    "sweep_seconds": st.floats() | st.integers() | st.text(max_size=5),
    "log_format": st.sampled_from(("text", "json", "xml")),
    "mattermost": st.dictionaries(
        st.sampled_from(("url", "ca_file", "verify", "timeout", "token", "x")), json_values
    ),
    "http": st.dictionaries(st.sampled_from(("host", "port", "public_url")), json_values),
    "matcher": st.dictionaries(st.sampled_from(("threshold", "margin", "top")), json_values),
    "shifts": st.dictionaries(
        st.sampled_from(("timezone", "days", "slots", "holidays_country", "closures", "handover")),
        json_values,
    ),
    "roster": st.lists(
        st.dictionaries(st.sampled_from(("user", "zone", "level", "roles")), json_values),
        max_size=3,
    )
    | json_values,
}
yaml_scalars = st.sampled_from(
    (
        "2026-02-30",
        "!!python/object:os.system ls",
        "&a [*a]",
        ".nan",
        "1e999",
        "0x1F",
        "~",
        "'unterminated",
        "{a: 1",
        "[1, 2",
        ": x",
        "? x",
        "\t- tab",
        "%YAML 9.9\n---\nx: 1",
        "a: &x 1\nb: *y",
        "---\na: 1\n---\nb: 2",
        "\ufeffbom: 1",
        "key: value\x00nul",
    )
)


def config_documents() -> st.SearchStrategy[str]:
    structured = st.fixed_dictionaries({}, optional={k: v for k, v in CONFIG_KEYS.items()}).map(
        lambda data: yaml.safe_dump(data, allow_unicode=True)
    )
    return st.one_of(
        structured,
        st.text(max_size=200),
        yaml_scalars,
        st.tuples(structured, yaml_scalars).map("\n".join),
    )


ENV_NAMES = (
    "DASTBOT_TEAM",
    "DASTBOT_CHANNELS",
    "DASTBOT_SWEEP_SECONDS",
    "DASTBOT_HTTP_PORT",
    "DASTBOT_MATCHER_THRESHOLD",
    "DASTBOT_MATCHER_TOP",
    "DASTBOT_MATTERMOST_URL",
    "DASTBOT_MATTERMOST_VERIFY",
    "DASTBOT_MATTERMOST_TIMEOUT",
    "DASTBOT_SHIFTS_DAYS",
    "DASTBOT_SHIFTS_SLOTS",
    "DASTBOT_SHIFTS_CLOSURES",
    "DASTBOT_SHIFTS_NO_REPLY_MINUTES",
    "DASTBOT_SHIFTS_PING_QUIET_MINUTES",
    "DASTBOT_ROSTER",
    "DASTBOT_LOG_FORMAT",
    "DASTBOT_MATTERMOST_TOKEN",
    "DASTBOT_SLASH_TOKEN",
)
env_values = st.one_of(
    st.text(max_size=40),
    json_values.map(json.dumps),
    st.sampled_from(("", "[", "{}", "[]", "null", "1e999", "NaN", "-1", "true", "[{}]", '"x"')),
)


@fuzz(150)
@example(document="roster: &a [*a]", env={})  # was a RecursionError
@example(document=None, env={"DASTBOT_ROSTER": "[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]"})
@given(
    document=st.none() | config_documents(),
    env=st.dictionaries(st.sampled_from(ENV_NAMES), env_values, max_size=4),
)
def test_the_config_loader_raises_only_config_errors(
    document: str | None, env: dict[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = None
        if document is not None:
            path = Path(folder) / "bot.yaml"
            path.write_text(document, encoding="utf-8", errors="surrogatepass")
        try:
            config = load_config(path, env)
        except ConfigError as exc:
            assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
        else:
            assert isinstance(config, Config)


KB_FIELDS = {
    "id": st.text(max_size=12) | st.sampled_from(("proxy-expired", "a-b", "x")),
    "title": st.text(max_size=20),
    "category": st.sampled_from(("panda", "rucio", "other", "nope")) | json_values,
    "patterns": st.lists(st.text(max_size=20), max_size=3) | json_values,
    "answer": st.text(max_size=40) | json_values,
    "escalate_to": st.sampled_from(("none", "cloud-support", "rucio-experts", "x")) | json_values,
    "links": st.lists(
        st.dictionaries(st.sampled_from(("title", "url")), json_values | st.text(max_size=30)),
        max_size=2,
    )
    | json_values,
    "ask_for": st.lists(st.sampled_from(("task_id", "error", "site", "x")), max_size=3)
    | json_values,
    "tags": json_values,
    "extra": json_values,
}
kb_documents = st.one_of(
    st.lists(st.fixed_dictionaries({}, optional=KB_FIELDS) | json_values, max_size=4).map(
        lambda data: yaml.safe_dump(data, allow_unicode=True)
    ),
    json_values.map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    st.text(max_size=200),
    yaml_scalars,
)


@fuzz(150)
@example(text="&a [*a]")  # an alias that contains itself: was a RecursionError
@example(text="a: &a [x]\nb: &b [*a, *a]\nc: [*b, *b, {d: *b}]")
@given(text=kb_documents)
def test_the_knowledge_loader_raises_only_knowledge_errors(text: str) -> None:
    try:
        kb = load_text(text)
    except KnowledgeError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
    else:
        assert len(kb) >= 1


CONTACT_FIELDS = {
    "id": st.sampled_from(("cloud-de", "cloud-x", "group", "Bad Id")) | st.text(max_size=8),
    "kind": st.sampled_from(("cloud", "site-support", "expert-group", "x")),
    "name": st.text(max_size=10),
    "aliases": json_values,
    "channel": st.text(max_size=10) | json_values,
    "users": json_values,
    "policy": st.dictionaries(
        st.sampled_from(("reminders_after", "repeat_every", "deadline_hours")), json_values
    )
    | json_values,
    "working_hours": st.dictionaries(
        st.sampled_from(("timezone", "days", "start", "end", "holidays_country")), json_values
    )
    | json_values,
}


@fuzz(100)
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "defaults": json_values
            | st.dictionaries(st.sampled_from(("policy", "working_hours")), json_values),
            "targets": st.lists(st.fixed_dictionaries({}, optional=CONTACT_FIELDS), max_size=3)
            | json_values,
        },
    )
    | json_values,
    sites=json_values,
)
def test_the_contacts_and_site_loaders_raise_only_their_errors(data: Any, sites: Any) -> None:
    try:
        parse_contacts(yaml.safe_dump(data, allow_unicode=True))
    except ContactsError as exc:
        assert exc.errors
    try:
        parse_sites(yaml.safe_dump({"sites": sites}, allow_unicode=True), clouds={"DE"})
    except SitesError as exc:
        assert exc.errors


DEEP = "[" * 800 + "]" * 800  # PyYAML composes recursively: this overflows the stack


@pytest.mark.parametrize("where", ["knowledge", "config", "contacts", "sites"])
def test_deeply_nested_yaml_is_reported_as_an_error_of_the_file(where: str, tmp_path: Path) -> None:
    """(Outside hypothesis, which raises the recursion limit while it runs a test.)"""
    expected: type[Exception]
    load: Callable[[], object]
    if where == "knowledge":
        expected, load = KnowledgeError, lambda: load_text(DEEP)
    elif where == "config":
        path = tmp_path / "bot.yaml"
        path.write_text(f"roster: {DEEP}\n", encoding="utf-8")
        expected, load = ConfigError, lambda: load_config(path, {})
    elif where == "contacts":
        expected, load = ContactsError, lambda: parse_contacts(f"targets: {DEEP}")
    else:
        expected, load = SitesError, lambda: parse_sites(f"sites: {DEEP}")
    with pytest.raises(expected):
        load()


# --- examples ----------------------------------------------------------------------------------

INJECTION = "**bold** [link](http://evil.example/x) @channel @all @here <!channel> ![i](http://evil.example/i.png)"
_LIVE_LINK = re.compile(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(\s*<?https?://evil")
_LIVE_MENTION = re.compile(r"(?<![\w\u200b])@(channel|all|here)\b")


def injection_problems(text: str) -> list[str]:
    problems = []
    if _LIVE_MENTION.search(text):
        problems.append("a live channel-wide mention")
    if _LIVE_LINK.search(text):
        problems.append("a live markdown link or image")
    if "**bold**" in text:
        problems.append("live bold markup")
    return problems


async def test_user_text_echoed_by_the_bot_cannot_inject_markdown_or_mentions(
    shiftbot: ShiftBot,
) -> None:
    bot = shiftbot
    question = f"my grid job fails at the site {INJECTION}"
    replies = await bot.say("sam", question, post_id="q" * 26)
    reason = f"site down {INJECTION}"
    reply = await bot.command("cora", f"escalate cloud-de {reason}", thread="q" * 26)
    assert "opened" in reply.text, reply.text
    await bot.router.flush()
    escalation = next(m for _, m in bot.chat.sent if m.key == "escalation:E1")
    answer = f"fixed it {INJECTION}"
    replies += await bot.say("dieter", answer, thread=bot.post_id_of(escalation))
    replies += await bot.wait(timedelta(days=6))
    status = await bot.command("cora", "status")
    listing = await bot.command("cora", "escalations")

    sent = [m for _, m in bot.chat.sent]
    kinds = {m.key.split(":")[0] for m in sent}
    assert {"abstain", "escalation", "escalated", "escalation-reply"} <= kinds, kinds
    problems = [f"{m.key}: {p}" for m in sent for p in injection_problems(m.message)]
    problems += [f"/dast status: {p}" for p in injection_problems(status.text)]
    problems += [f"/dast escalations: {p}" for p in injection_problems(listing.text)]
    assert not problems, "\n".join(problems)
    # The words themselves still come through, escaped.
    relay = next(m for m in sent if m.key.startswith("escalation-reply:"))
    assert "fixed it" in relay.message and "bold" in relay.message


async def test_a_64_kb_message_is_stored_whole_and_every_post_stays_under_the_limit(
    shiftbot: ShiftBot,
) -> None:
    bot = shiftbot
    block = "Payload exceeded maximum allowed memory in task 12345678. " * 1200
    text = block[: 64 * 1024]
    assert len(text.encode()) == 64 * 1024
    await bot.say("sam", text, post_id="m" * 26)
    stored = bot.store.question("m" * 26)
    assert stored is not None and stored["text"] == text
    await bot.command("cora", "escalate cloud-de big log", thread="m" * 26)
    await bot.command("cora", f"kb search {text}")
    await bot.wait(timedelta(days=6))
    sent = [m for _, m in bot.chat.sent]
    assert any(m.key == "escalation:E1" for m in sent)
    too_long = [(m.key, len(m.message)) for m in sent if len(m.message) > MM_MESSAGE_LIMIT]
    assert not too_long, too_long


def test_a_64_kb_slash_command_is_answered(served: Served) -> None:
    status, ctype, body = served.slash("kb search " + "exhausted task " * 4400)
    check_slash(status, ctype, body, "kb search …64 KB…")
    assert status == 200


UNICODE = (
    "\u200f\u0645\u0647\u0645\u062a\u064a exhausted 🚀 задача 任务 "
    "\u202egnp.exe\u202c e\u0301 \U0001f9d1\u200d\U0001f52c"
)


async def test_unicode_emoji_and_right_to_left_text_round_trip(shiftbot: ShiftBot) -> None:
    bot = shiftbot
    replies = await bot.say(
        "sam", f"my task is exhausted what does it mean {UNICODE}", "", "u" * 26
    )
    assert len(replies) == 1 and replies[0].key == f"answer:{'u' * 26}"
    stored = bot.store.question("u" * 26)
    assert stored is not None and stored["text"].endswith(UNICODE)
    reply = await bot.command("cora", f"escalate cloud-de {UNICODE}", thread="u" * 26)
    assert "opened" in reply.text
    await bot.router.flush()
    escalation = next(m for _, m in bot.chat.sent if m.key == "escalation:E1")
    assert "задача 任务" in escalation.message and "🚀" in escalation.message


async def test_sql_looking_text_is_stored_and_read_back_intact(shiftbot: ShiftBot) -> None:
    bot = shiftbot
    evil = "'; DROP TABLE questions; -- \" OR 1=1; /* */ \\x00 %s {}"
    await bot.say("sam", evil, post_id="s" * 26)
    await bot.say("sam", f"{evil} again", thread="s" * 26)
    await bot.command("cora", f"escalate cloud-de {evil}", thread="s" * 26)
    stored, escalation = bot.store.question("s" * 26), bot.store.escalation("E1")
    assert stored is not None and stored["text"] == evil
    assert escalation is not None and escalation.reason == evil
    trail = bot.store.events("s" * 26, kind="asker_reply")
    assert trail and trail[0]["data"]["text"] == f"{evil} again"
    assert {"questions", "events", "outbox"} <= set(bot.store.db.table_names())


def test_forged_or_missing_tokens_and_unknown_users_are_refused_and_counted(
    served: Served,
) -> None:
    def refusals(reason: str, endpoint: str = "slash") -> float:
        pattern = (
            rf'^dastbot_refusals_total\{{endpoint="{endpoint}",reason="{reason}"\}} ([0-9.e+]+)$'
        )
        match = re.search(pattern, served.metrics_text(), re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    before = refusals("bad token"), refusals("unknown user"), refusals("bad signature", "actions")
    status, _, body = served.slash("help", token="forged")
    assert status == 401 and body["text"] == "Invalid command token."
    status, _, body = served.post(
        "/slash", data={"user_id": "u" * 26, "user_name": "x", "text": ""}
    )
    assert status == 401
    status, _, body = served.slash("help", user="")
    assert status == 400 and body["response_type"] == "ephemeral"
    status, _, body = served.post("/slash", data={"token": SLASH_TOKEN, "text": "help"})
    assert status == 400
    context = {"thread": THREADS[0], "action": "helped"}
    status, _, body = served.post(
        "/actions",
        json={"user_id": "b" * 26, "context": {**context, "sig": "0" * 32}},
    )
    assert status == 401 and body["ephemeral_text"] == "This button is not valid."
    after = refusals("bad token"), refusals("unknown user"), refusals("bad signature", "actions")
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (2, 2, 1)
