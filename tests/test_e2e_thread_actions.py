"""A shifter acts where the question is, end to end over the fake Mattermost server: the Take
button on the bot's answer claims the question for a shifter and is refused to a plain user, and a
slash command that the server sends with the thread's ``root_id`` (newer servers do) acts on that
thread without a pasted link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes.fake_mattermost import WAIT_S, FakeMattermost
from test_e2e_mattermost import QUESTION, SLASH_TOKEN, bot_env, fake, reply_to, running_bot
from test_e2e_operations import ROSTER

from dastbot.store import Store

__all__ = ["fake"]


async def test_the_take_button_claims_for_a_shifter_and_is_refused_to_a_plain_user(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    fake.add_user("sam")
    async with running_bot(bot_env(fake, tmp_path, DASTBOT_ROSTER=ROSTER)) as info:
        await fake.wait_for_ws_auth(1)
        question = await fake.create_post("alice", "dast-help", QUESTION)
        answer = await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)

        refused = await fake.click("bob", answer["id"], "take")
        assert "needs the trainee role; you are a user" in refused["ephemeral_text"]
        store: Store = info["app"].store  # type: ignore[attr-defined]
        assert store.question(question["id"])["state"] == "answered"  # type: ignore[index]

        taken = await fake.click("sam", answer["id"], "take")
        assert taken["ephemeral_text"] == "Done: the question is now claimed."
        claimed = store.question(question["id"])
        assert claimed is not None
        assert (claimed["state"], claimed["claimed_by"]) == ("claimed", "sam")


async def asked_with_sam_able_to_slash(
    fake: FakeMattermost, info: dict[str, object]
) -> dict[str, Any]:
    """/dast registered for sam; alice asks and the bot answers: the question's post."""
    await fake.wait_for_ws_auth(1)
    url = f"http://127.0.0.1:{info['http_port']}/slash"
    fake.state.add_command(
        fake.state.users[fake.user_id("sam")],
        {"team_id": fake.team_id(), "trigger": "dast", "url": url, "token": SLASH_TOKEN},
    )
    question = await fake.create_post("alice", "dast-help", QUESTION)
    await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)
    return question


async def test_a_slash_command_with_root_id_acts_on_that_thread(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    fake.integrations.slash_root_id = True  # a server newer than v10.x
    fake.add_user("sam")
    async with running_bot(bot_env(fake, tmp_path, DASTBOT_ROSTER=ROSTER)) as info:
        question = await asked_with_sam_able_to_slash(fake, info)
        response = await fake.execute_command(
            "sam", "dast-help", "/dast take", root_id=question["id"]
        )
        assert "give its link" not in response["text"]
        store: Store = info["app"].store  # type: ignore[attr-defined]
        claimed = store.question(question["id"])
        assert claimed is not None and claimed["claimed_by"] == "sam"

        response = await fake.execute_command(
            "sam", "dast-help", "/dast resolve", root_id=question["id"]
        )
        resolved = store.question(question["id"])
        assert resolved is not None and resolved["state"] == "resolved", response


async def test_without_root_id_a_slash_command_in_a_thread_asks_for_its_link(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    """Servers up to v10.x send no root_id: the bot cannot know the thread and says how to name
    it, with the configured server's permalink form; ``@dastbot take`` in the thread works."""
    fake.add_user("sam")
    async with running_bot(bot_env(fake, tmp_path, DASTBOT_ROSTER=ROSTER)) as info:
        question = await asked_with_sam_able_to_slash(fake, info)
        response = await fake.execute_command(
            "sam", "dast-help", "/dast take", root_id=question["id"]
        )
        assert f"/dast take {fake.url}/atlas/pl/<post id>" in response["text"]

        await fake.create_post("sam", "dast-help", "@dastbot take", question["id"])
        done = await fake.wait_for_post(
            lambda p: p.get("root_id") == question["id"] and "claimed" in p["message"],
            timeout=WAIT_S,
        )
        assert done["user_id"] == fake.user_id("dastbot")
        store: Store = info["app"].store  # type: ignore[attr-defined]
        claimed = store.question(question["id"])
        assert claimed is not None and claimed["claimed_by"] == "sam"
