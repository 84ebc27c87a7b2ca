"""Escalation transcripts with the fake clock: open from a thread, reminders in the target's
working hours across a weekend, the reply detected and relayed, the deadline told once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import ShiftBot

from dastbot.kernel.models import OutMessage, Post

QUESTION = "task 40211133: all jobs at FZK-LCG2 fail with lost heartbeat since this morning"
FRIDAY_3PM = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # 15:00 in Zurich and Karlsruhe


def by_key(bot: ShiftBot, prefix: str) -> list[tuple[str, OutMessage]]:
    return [(pid, m) for pid, m in bot.chat.sent if m.key.startswith(prefix)]


async def escalated(bot: ShiftBot, command: str = "escalate FZK-LCG2 all jobs fail there") -> str:
    bot.clock.set(FRIDAY_3PM)
    await bot.start()
    await bot.say("alice", QUESTION, post_id="q1")
    reply = await bot.command("sam", command, thread="q1")
    assert reply.text == "E1 opened for DE cloud support (GridKa)."
    [(post_id, _)] = by_key(bot, "escalation:E1")
    return post_id


async def test_escalating_posts_to_the_cloud_and_tells_the_thread(shiftbot: ShiftBot) -> None:
    await escalated(shiftbot, "escalate FZK-LCG2 all jobs fail there ticket=GGUS-123456")
    [(_, post)] = by_key(shiftbot, "escalation:E1")
    assert post.channel_id == "adc-cloud-de"
    assert post.message.startswith("**DAST escalation** to DE cloud support (GridKa)")
    assert "**Why:** all jobs fail there" in post.message
    assert "**Ticket:** GGUS-123456" in post.message
    assert "task 40211133" in post.message and "FZK-LCG2" in post.message
    assert "https://chat.test/atlas/pl/q1" in post.message
    [(_, told)] = by_key(shiftbot, "escalated:E1")
    assert told.root_id == "q1"
    assert told.message.startswith(
        "Escalated to **DE cloud support (GridKa)** (~adc-cloud-de) as E1 "
        "(FZK-LCG2 is at FZK-LCG2, DE cloud)"
    )
    assert shiftbot.store.question("q1")["state"] == "escalated"  # type: ignore[index]
    opened = shiftbot.store.events("q1", kind="escalation_opened")
    assert opened[0]["actor"] == "sam"
    assert opened[0]["data"]["ticket"] == "GGUS-123456"


async def test_reminders_follow_working_hours_across_the_weekend_then_stop_on_reply(
    shiftbot: ShiftBot,
) -> None:
    root = await escalated(shiftbot)
    posted = await shiftbot.wait(timedelta(days=3, hours=1))  # to Monday 15:00 UTC
    reminders = [m for m in posted if m.key.startswith("reminder:E1")]
    assert [(m.key, m.root_id, m.channel_id) for m in reminders] == [
        ("reminder:E1:1", root, "adc-cloud-de"),
        ("reminder:E1:2", root, "adc-cloud-de"),
    ]
    sent_at = [e["at"] for e in shiftbot.store.events("q1", kind="escalation_reminded")]
    # 4 and 8 working hours after Friday 15:00 (Karlsruhe 09-17): Monday 11:00 and 15:00.
    assert sent_at == ["2026-03-09T10:00:00.000+00:00", "2026-03-09T14:00:00.000+00:00"]

    relayed = await shiftbot.say(
        "gridka-admin", "Our dCache pool was down, fixed now.", thread=root, channel="adc-cloud-de"
    )
    assert [m.root_id for m in relayed] == ["q1"]
    assert relayed[0].message.startswith(
        "@alice @sam: **DE cloud support (GridKa)** replied to E1 (gridka-admin):"
    )
    assert "> Our dCache pool was down, fixed now." in relayed[0].message
    assert shiftbot.store.escalation("E1").state == "replied"  # type: ignore[union-attr]
    later = await shiftbot.wait(timedelta(days=5))
    assert [m for m in later if m.key.startswith(("reminder:", "deadline:"))] == []


async def test_the_escalating_shifter_and_the_bot_do_not_count_as_a_reply(
    shiftbot: ShiftBot,
) -> None:
    root = await escalated(shiftbot)
    assert await shiftbot.say("sam", "Any news?", thread=root, channel="adc-cloud-de") == []
    assert shiftbot.store.escalation("E1").state == "open"  # type: ignore[union-attr]


async def test_past_the_deadline_the_coordinator_is_told_once(shiftbot: ShiftBot) -> None:
    await escalated(shiftbot)
    posted = await shiftbot.wait(timedelta(days=6))
    assert [m.key for m in posted if m.key.startswith("reminder:")] == [
        "reminder:E1:1",
        "reminder:E1:2",
        "reminder:E1:3",
    ]
    [notice] = [m for m in posted if m.key.startswith("deadline:")]
    assert notice.channel_id == "dast-coordinators"
    assert notice.message.startswith("@cora: **No reply by the deadline** (escalation E1)")
    assert "24 working hours" in notice.message
    told = shiftbot.store.events("q1", kind="escalation_deadline")
    assert [e["at"] for e in told] == ["2026-03-11T14:00:00.000+00:00"]
    assert [
        m for m in await shiftbot.wait(timedelta(days=7)) if m.key.startswith("deadline:")
    ] == []


async def test_a_restart_after_downtime_posts_the_owed_reminder_once(shiftbot: ShiftBot) -> None:
    await escalated(shiftbot)
    shiftbot.clock.set(datetime(2026, 3, 9, 15, 30, tzinfo=UTC))  # Monday, both reminders owed
    restarted = ShiftBot(shiftbot.router.config, shiftbot.store, shiftbot.clock)
    posted = await restarted.start()
    assert [m.key for m in posted if m.key.startswith("reminder:")] == ["reminder:E1:2"]
    again = ShiftBot(shiftbot.router.config, shiftbot.store, shiftbot.clock)
    assert [m for m in await again.start() if m.key.startswith("reminder:")] == []


async def test_by_hand_list_and_close(shiftbot: ShiftBot) -> None:
    await escalated(shiftbot)
    listing = (await shiftbot.command("alice", "escalations")).text
    assert listing.splitlines()[0] == "**Open escalations** (1, oldest first)"
    assert "| E1 | DE cloud support (GridKa) |" in listing
    assert (await shiftbot.command("sam", "escalation replied", thread="q1")).text == (
        "E1 is now replied."
    )
    assert (await shiftbot.command("sam", "escalation close E1")).text == (
        "E1 is now closed. The question is resolved (`/dast reopen` in its thread if it is not)."
    )
    reply = await shiftbot.command("sam", "escalation cancel E1")
    assert "closed" in reply.text and "cancel" in reply.text
    assert (await shiftbot.command("alice", "escalations")).text == "No open escalations."
    kinds = [e["kind"] for e in shiftbot.store.events("q1") if e["kind"].startswith("escalation")]
    kinds = [k for k in kinds if k != "escalation_posting"]
    assert kinds == ["escalation_opened", "escalation_replied", "escalation_closed"]


async def test_an_unknown_target_is_refused_with_close_names(shiftbot: ShiftBot) -> None:
    shiftbot.clock.set(FRIDAY_3PM)
    await shiftbot.say("alice", QUESTION, post_id="q1")
    reply = await shiftbot.command("sam", "escalate CERN-PORD jobs fail", thread="q1")
    assert reply.text.startswith("Unknown target `CERN-PORD`. Did you mean: CERN-PROD")
    assert await shiftbot.command("sam", "escalate", thread="q1") == await shiftbot.command(
        "sam", "escalate", thread="q1"
    )
    assert (await shiftbot.command("alice", "escalate DE help", thread="q1")).text.startswith(
        "`/dast escalate` needs the trainee role"
    )
    assert (await shiftbot.command("sam", "escalate DE")).text == (
        "Run `/dast escalate` in the question's thread, or add its link."
    )
    assert shiftbot.store.escalations(("open",)) == []


async def test_handover_lists_open_escalations(shiftbot: ShiftBot) -> None:
    await escalated(shiftbot)
    posted = await shiftbot.wait(timedelta(hours=2))
    [end] = [m for m in posted if m.key.startswith("handover:end")]
    assert "Open escalations: 1" in end.message
    assert "- E1 to DE cloud support (GridKa), 1 h old, 0 reminder(s)" in end.message


async def test_status_shows_waiting_questions_first_and_escalations_oldest_first(
    shiftbot: ShiftBot,
) -> None:
    await escalated(shiftbot)
    await shiftbot.say("bob", "what is the weather in Rabat tomorrow?", post_id="q2")
    status = (await shiftbot.command("sam", "status")).text
    assert status.index("[q2]") < status.index("[q1]")  # waiting for a person beats escalated
    assert "**Escalations** (1, oldest first)" in status
    assert "| E1 | cloud-de | open | 2026-03-06 14:00 UTC |" in status
    assert "E1" not in (await shiftbot.command("bob", "status")).text


async def test_outside_the_thread_a_link_names_it_and_is_not_part_of_the_reason(
    shiftbot: ShiftBot,
) -> None:
    thread = "k3v9w2x8y7z6a5b4c3d2e1f0gh"
    shiftbot.clock.set(FRIDAY_3PM)
    await shiftbot.say("alice", QUESTION, post_id=thread)
    reply = await shiftbot.command(
        "sam", f"escalate DE jobs fail https://chat.test/atlas/pl/{thread}"
    )
    assert reply.text == "E1 opened for DE cloud support (GridKa)."
    escalation = shiftbot.store.escalation("E1")
    assert escalation is not None
    assert (escalation.thread_id, escalation.reason) == (thread, "jobs fail")


async def test_an_escalation_that_cannot_be_posted_is_not_opened_and_the_question_stays(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.chat.refused_channels.add("adc-cloud-de")  # the bot is not in the channel
    await shiftbot.say("alice", QUESTION, post_id="q1")
    await shiftbot.command("sam", "take", thread="q1")
    reply = await shiftbot.command("sam", "escalate DE site down", thread="q1")
    assert reply.text.startswith("I could not post the escalation to ~adc-cloud-de: ")
    assert "Nothing was escalated and the question stays with you" in reply.text
    assert shiftbot.store.escalations(("open", "replied")) == []
    question = shiftbot.store.question("q1")
    assert question is not None and (question["state"], question["claimed_by"]) == (
        "claimed",
        "sam",
    )
    assert [
        m for m in await shiftbot.wait(timedelta(days=3)) if m.key.startswith("reminder:")
    ] == []


async def test_every_reply_in_the_escalation_thread_reaches_the_asker(shiftbot: ShiftBot) -> None:
    root = await escalated(shiftbot)
    for i, text in enumerate(("Looking into it.", "Drained a broken WN, please retry."), 1):
        await shiftbot.router.on_post(
            Post(f"r{i}", "adc", "gk", "gridka-admin", text, shiftbot.clock.now(), root_id=root)
        )
    relays = [
        m for m in (m for _, m in shiftbot.chat.sent) if m.key.startswith("escalation-reply:E1")
    ]
    assert [m.message.split("\n")[0] for m in relays] == [
        "@alice @sam: **DE cloud support (GridKa)** replied to E1 (gridka-admin):"
    ] * 2
    assert relays[1].message.endswith("> Drained a broken WN, please retry.")


async def test_closing_resolves_and_cancelling_gives_the_question_back(shiftbot: ShiftBot) -> None:
    await escalated(shiftbot)
    reply = await shiftbot.command("sam", "escalation cancel", thread="q1")
    assert reply.text == "E1 is now cancelled. The question is back with @sam (taken)."
    question = shiftbot.store.question("q1")
    assert question is not None and (question["state"], question["claimed_by"]) == (
        "claimed",
        "sam",
    )

    assert "E2 opened" in (await shiftbot.command("sam", "escalate DE again", thread="q1")).text
    reply = await shiftbot.command("sam", "escalation close", thread="q1")
    assert reply.text.startswith("E2 is now closed. The question is resolved")
    assert shiftbot.store.question("q1")["state"] == "resolved"  # type: ignore[index]


async def test_escalating_again_to_a_target_that_has_not_replied_posts_nothing_new(
    shiftbot: ShiftBot,
) -> None:
    await escalated(shiftbot)
    again = await shiftbot.command("sam", "escalate DE still failing", thread="q1")
    assert again.text == (
        "E1 opened for DE cloud support (GridKa) by sam at 2026-03-06 14:00 UTC still waits for a "
        "reply, so nothing was posted again (`/dast escalation cancel E1` ends it)."
    )
    assert [m.key for _, m in by_key(shiftbot, "escalation:")] == ["escalation:E1"]
    assert "E2 opened" in (await shiftbot.command("sam", "escalate CERN help", thread="q1")).text


async def test_an_escalation_posted_though_its_response_was_lost_is_recorded(
    shiftbot: ShiftBot,
) -> None:
    """Found by the simulation: the post reached the target but its response was lost; the bot
    said nothing was escalated and forgot it, so the target's reply was never relayed."""
    shiftbot.clock.set(FRIDAY_3PM)
    await shiftbot.start()
    await shiftbot.say("alice", QUESTION, post_id="q1")
    shiftbot.chat.lose_response_next = 1
    reply = await shiftbot.command("sam", "escalate FZK-LCG2 all jobs fail there", thread="q1")
    assert reply.text == "E1 opened for DE cloud support (GridKa)."
    [(post_id, _)] = by_key(shiftbot, "escalation:E1")
    await shiftbot.say("tom", "fixed the queue, retry", thread=post_id, channel="adc-cloud-de")
    [(_, relay)] = by_key(shiftbot, "escalation-reply:E1")
    assert relay.root_id == "q1"
