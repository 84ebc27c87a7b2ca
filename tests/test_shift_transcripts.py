"""Shift transcripts: who gets pinged, what an asker hears off duty, the no-reply rule, handovers,
coverage notices and the /dast shift and question commands, with the clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import ShiftBot

from dastbot.kernel.events import EventKind

WEATHER = "what is the weather in Rabat tomorrow?"
KNOWN = "my task is exhausted what does it mean"
COORDINATORS = "dast-coordinators"


async def test_on_duty_the_shifter_and_trainee_are_asked_in_the_thread(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam", "tina")
    [reply] = await shiftbot.say("alice", WEATHER, post_id="q1")
    assert reply.root_id == "q1"
    assert reply.message.startswith(
        "I could not find a confident answer to this in the knowledge base."
    )
    assert reply.message.endswith("@sam and @tina, could you take this one?")
    question = shiftbot.store.question("q1")
    assert question is not None
    assert question["pinged_at"] == "2026-03-02T09:00:00.000+00:00"
    assert question["reping_due"] == "2026-03-02T10:00:00.000+00:00"


async def test_off_duty_the_asker_hears_when_the_next_shift_starts_in_their_zone(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-30", "EU", "sam")
    shiftbot.clock.set(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    shiftbot.chat.timezones["alice"] = "America/Chicago"
    [reply] = await shiftbot.say("alice", WEATHER, post_id="q1")
    assert "Nobody is on shift right now; the next shift starts Monday 30 March, 01:00 CDT" in (
        reply.message
    )
    assert "(in 1 day 18 hours)" in reply.message
    question = shiftbot.store.question("q1")
    assert question is not None
    assert question["waiting_for"] == "2026-03-30T06:00:00.000+00:00"


async def test_without_a_known_zone_the_next_shift_is_given_in_utc(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-09", "EU", "sam")
    shiftbot.clock.set(datetime(2026, 3, 6, 20, 0, tzinfo=UTC))
    [reply] = await shiftbot.say("bob", WEATHER)
    assert "the next shift starts Monday 9 March, 07:00 UTC (in 2 days 11 hours)" in reply.message


async def test_a_question_that_waited_gets_the_shifter_when_the_shift_starts(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-09", "EU", "sam", "tina")
    shiftbot.clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=UTC))
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    posted = await shiftbot.wait(timedelta(days=1, hours=21, minutes=1))
    pings = [m for m in posted if m.root_id == "q1"]
    assert [m.message for m in pings] == [
        "@sam and @tina: this question has been waiting for your shift."
    ]
    handover = next(m for m in posted if m.message.startswith("**EU shift Mon 09 Mar starts.**"))
    assert handover.channel_id == COORDINATORS
    assert "On duty: @sam, trainee @tina." in handover.message
    assert "Questions needing a person: 1" in handover.message


async def test_a_question_without_a_human_reply_is_pinged_again_then_goes_to_the_coordinator(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")

    assert await shiftbot.wait(timedelta(minutes=59)) == []
    [reping] = await shiftbot.wait(timedelta(minutes=1))
    assert reping.root_id == "q1"
    assert reping.message == "@sam: still no reply from a person after 60 minutes on shift."

    [alert] = await shiftbot.wait(timedelta(minutes=60))
    assert alert.channel_id == COORDINATORS
    assert alert.message.startswith("@cora: [a question](https://chat.test/atlas/pl/q1) by alice")
    assert "for 120 staffed minutes" in alert.message
    assert await shiftbot.wait(timedelta(hours=3)) == []
    trail = [e["kind"] for e in shiftbot.store.events("q1")]
    assert trail.count(EventKind.REPINGED) == 1
    assert trail.count(EventKind.COORDINATOR_TOLD) == 1
    assert trail.index(EventKind.REPINGED) < trail.index(EventKind.COORDINATOR_TOLD)


async def test_staffed_time_only_counts_for_the_no_reply_rule(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    shiftbot.book("2026-03-03", "EU", "sam")
    shiftbot.clock.set(datetime(2026, 3, 2, 14, 30, tzinfo=UTC))
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    posted = await shiftbot.wait(timedelta(hours=16, minutes=59))
    assert [m for m in posted if m.root_id == "q1"] == []
    posted = await shiftbot.wait(timedelta(minutes=1))
    assert [m.message for m in posted if m.root_id == "q1"] == [
        "@sam: still no reply from a person after 60 minutes on shift."
    ]


async def test_a_human_reply_stops_the_no_reply_clock(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    shiftbot.clock.advance(timedelta(minutes=10))
    await shiftbot.say("sam", "Looking at it.", thread="q1")
    posted = await shiftbot.wait(timedelta(hours=5))
    assert [m for m in posted if m.root_id == "q1" or "q1" in m.message] == []


async def test_a_me_too_from_another_user_does_not_stop_the_no_reply_clock(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    shiftbot.clock.advance(timedelta(minutes=10))
    await shiftbot.say("bob", "Same here, any news?", thread="q1")

    posted = await shiftbot.wait(timedelta(minutes=50))
    assert [m.message for m in posted if m.root_id == "q1"] == [
        "@sam: still no reply from a person after 60 minutes on shift."
    ]
    question = shiftbot.store.question("q1")
    assert question is not None and question["first_human_at"] is None
    await shiftbot.say("tina", "Looking at it with sam.", thread="q1")  # a trainee: on it
    question = shiftbot.store.question("q1")
    assert question is not None and question["first_human_at"] is not None
    assert await shiftbot.wait(timedelta(hours=4)) == []  # no re-ping, no coordinator told


async def test_handovers_are_posted_once_even_across_a_restart(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "NA", "nick")
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    posted = await shiftbot.wait(timedelta(hours=6, minutes=1))
    assert [m.message.splitlines()[0] for m in posted if m.channel_id == COORDINATORS] == [
        "**EU shift Mon 02 Mar ends.**",
        "**NA shift Mon 02 Mar starts.** On duty: @nick.",
    ]
    restarted = ShiftBot(shiftbot.router.config, shiftbot.store, shiftbot.clock)
    restarted.chat = shiftbot.chat
    restarted.app.router.chat = restarted.app.router.sender.chat = shiftbot.chat
    assert await restarted.start() == []


async def test_coverage_gaps_are_told_once_each(shiftbot: ShiftBot) -> None:
    for day in range(2, 21):
        for slot in ("EU", "NA"):
            shiftbot.book(f"2026-03-{day:02d}", slot, "sam")
    shiftbot.book("2026-03-10", "NA", None, "tina")
    shiftbot.clock.set(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    await shiftbot.start()
    posted = await shiftbot.wait(timedelta(hours=2))
    [notice] = [m for m in posted if m.message.startswith("@cora @nora")]
    assert notice.channel_id == COORDINATORS
    assert notice.message.splitlines()[1:] == [
        "- NA Tue 10 Mar 16:00 CET (trainee tina only)",
        "Under the rate of 2 shifts in 4 weeks in NA: nick (0 in 4 weeks), nora (0 in 4 weeks).",
        "Book one with `/dast shift book DATE SLOT`.",
    ]
    posted = await shiftbot.wait(timedelta(days=1))
    assert [m for m in posted if m.message.startswith("@cora")] == []


async def test_oncall_tells_who_is_on_shift(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam", "tina")
    shiftbot.book("2026-03-02", "NA", "nick")
    reply = await shiftbot.command("alice", "oncall")
    assert reply.text == (
        "On shift now (EU): @sam, trainee @tina. Next staffed shift: Monday 2 March, 15:00 UTC "
        "(in 6 hours). Coordinator: @cora."
    )


async def test_take_resolve_and_reopen_move_the_question_and_say_so_in_the_thread(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    assert (await shiftbot.command("sam", "take", thread="q1")).text == (
        "Done: the question is now claimed."
    )
    assert shiftbot.chat.sent[-1][1].message == "@sam took this question."
    reply = await shiftbot.command("tina", "release", thread="q1")
    assert reply.text == "sam took this; only they can release it."
    assert (await shiftbot.command("sam", "resolve https://chat.test/atlas/pl/q1")).text == (
        "Run `/dast resolve` in the question's thread, or give its link: "
        "`/dast resolve https://chat.test/atlas/pl/<post id>`."
    )
    assert (await shiftbot.command("sam", "resolve", thread="q1")).text.endswith("resolved.")
    assert (await shiftbot.command("sam", "resolve", thread="q1")).text == (
        "A question that is resolved cannot be resolved."
    )
    assert (await shiftbot.command("cora", "reopen", thread="q1")).text.endswith("waiting.")


async def test_users_cannot_take_questions_and_the_refusal_is_audited(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    reply = await shiftbot.command("bob", "take", thread="q1")
    assert reply.text == (
        "`/dast take` needs the trainee role; you are a user. "
        "Ask a coordinator if you think this is wrong."
    )
    [refusal] = shiftbot.store.events(kind="command_refused")
    assert (refusal["actor"], refusal["data"]["command"]) == ("bob", "take")


async def test_shift_booking_release_and_listing(shiftbot: ShiftBot) -> None:
    assert (await shiftbot.command("sam", "shift book 2026-03-04 eu")).text == (
        "Booked sam as shifter for EU on Wed 04 Mar 2026."
    )
    assert (await shiftbot.command("tina", "shift book 2026-03-04 EU")).text == (
        "Booked tina as trainee for EU on Wed 04 Mar 2026."
    )
    assert (await shiftbot.command("nick", "shift book 2026-03-04 EU")).text.startswith(
        "EU on 2026-03-04 already has shifter sam"
    )
    assert (await shiftbot.command("sam", "shift book 2026-03-07 EU")).text == (
        "Cannot book: there are no shifts on 2026-03-07 (weekend)."
    )
    assert (await shiftbot.command("sam", "shift book 2026-03-04 XX")).text == (
        "Cannot book: `XX` is not a slot (EU, NA)."
    )
    assert (await shiftbot.command("sam", "shift book 2026-03-05 EU nick")).text == (
        "Only coordinators can book shifts for others."
    )
    assert (await shiftbot.command("cora", "shift book 2026-03-05 EU nick")).text == (
        "Booked nick as shifter for EU on Thu 05 Mar 2026."
    )
    assert (await shiftbot.command("alice", "shift book 2026-03-05 NA")).text == (
        "`/dast shift book` needs the trainee role; you are a user. "
        "Ask a coordinator if you think this is wrong."
    )
    listing = (await shiftbot.command("alice", "shift list 3")).text
    assert "| Wed 04 Mar | EU | sam | tina |" in listing
    assert "| Mon 02 Mar | NA | **empty** |  |" in listing
    assert (await shiftbot.command("sam", "shift release 2026-03-04 EU")).text.startswith(
        "Released sam from EU on Wed 04 Mar 2026"
    )


async def test_a_swap_waits_for_a_coordinator(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-04", "EU", "sam")
    assert (await shiftbot.command("nick", "shift swap 2026-03-04 EU nick")).text == (
        "You are not the shifter of EU on 2026-03-04."
    )
    assert (await shiftbot.command("sam", "shift swap 2026-03-04 EU nick")).text == (
        "Swap request #1 sent to the coordinators."
    )
    assert shiftbot.chat.sent[-1][1].channel_id == COORDINATORS
    assert (await shiftbot.command("sam", "shift approve 1")).text.startswith(
        "`/dast shift approve` needs the coordinator role"
    )
    assert (await shiftbot.command("cora", "shift approve 1")).text == (
        "Swap #1 done: nick now holds EU on 2026-03-04."
    )
    assert (
        await shiftbot.command("cora", "shift approve 1")
    ).text == "There is no pending swap #1."


async def test_gaps_and_unknown_subcommands(shiftbot: ShiftBot) -> None:
    shiftbot.clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    gaps = (await shiftbot.command("alice", "shift gaps 3")).text
    assert gaps.splitlines() == [
        "3 unstaffed slot(s) in the next 3 days:",
        "- EU Fri 06 Mar 08:00 CET",
        "- NA Fri 06 Mar 16:00 CET",
        "- EU Mon 09 Mar 08:00 CET",
    ]
    reply = await shiftbot.command("alice", "shift dance")
    assert reply.text.startswith("Unknown command `shift dance`")


async def test_with_no_shift_staffed_at_all_the_coordinators_hear_at_once(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.start()
    [reply] = await shiftbot.say("alice", WEATHER, post_id="q1")
    assert "passed your question to the coordinators" in reply.message
    [alert] = await shiftbot.wait(timedelta(minutes=1))
    assert alert.channel_id == COORDINATORS
    assert alert.message == (
        "@cora: [a question](https://chat.test/atlas/pl/q1) by alice needs a person, "
        "and no shift is staffed in the coming weeks."
    )


async def test_a_question_in_a_direct_message_is_sent_to_the_help_channel(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    [reply] = await shiftbot.say(
        "alice", WEATHER, post_id="d1", channel="dm-alice", channel_type="D"
    )
    assert reply.channel_id == "dm-alice"
    assert reply.root_id == "d1"
    assert "@sam" not in reply.message
    assert reply.message.endswith(
        "Shifters do not see direct messages to me, so please ask in ~dast-help, where the "
        "shifter on duty will pick it up."
    )
    assert shiftbot.store.question("d1")["state"] == "resolved"  # type: ignore[index]
    [answer] = await shiftbot.say(
        "alice", KNOWN, post_id="d2", channel="dm-alice", channel_type="D"
    )
    assert "Task went to 'exhausted' status" in answer.message


async def test_the_weekly_report_counts_a_question_redirected_from_a_dm_as_resolved(
    shiftbot: ShiftBot,
) -> None:
    from dastbot.report.stats import build_report
    from dastbot.report.weeks import week_label

    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.say("alice", WEATHER, post_id="d1", channel="dm-alice", channel_type="D")
    assert shiftbot.store.question("d1")["state"] == "resolved"  # type: ignore[index]

    week = week_label(shiftbot.clock.now().date())
    report = build_report(shiftbot.store, week, shiftbot.router.duty.calendar)
    assert report.this.questions.asked == 1
    assert report.this.questions.open_at_end == 0
    assert report.this.questions.resolved_at_end == 1
    assert report.this.questions.outcomes["waiting"] == 0


async def test_a_handover_lists_what_needs_a_person_and_fits_one_post(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "NA", "nick")
    await shiftbot.start()
    await shiftbot.say("alice", KNOWN, post_id="answered")  # a bot answer: not listed
    for i in range(400):
        await shiftbot.say("bob", f"{WEATHER} (long question number {i}) " + "x" * 80)
    [handover] = [
        m
        for m in await shiftbot.wait(timedelta(hours=7))
        if m.key == "handover:start:2026-03-02:NA"
    ]
    assert len(handover.message) <= 16_383
    assert "Questions needing a person: 400" in handover.message
    assert "long question number 0)" in handover.message  # oldest first
    assert "long question number 399" not in handover.message
    assert "… and 370 more: `/dast status` lists them all." in handover.message
    assert "answered" not in handover.message.split("\n", 1)[1]


async def test_no_reply_deadlines_follow_a_shift_booked_after_the_question(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-04", "EU", "sam")  # Wednesday: the only staffed shift so far
    await shiftbot.start()
    [told] = await shiftbot.say("alice", WEATHER, post_id="q1")  # Monday 10:00 Zurich
    assert "the next shift starts" in told.message
    shiftbot.book("2026-03-02", "NA", "nick")  # booked afterwards: today 16:00-24:00 Zurich
    posted = await shiftbot.wait(timedelta(hours=7, minutes=5))  # Monday 17:05 Zurich
    repings = [m for m in posted if m.key.startswith("reping:q1")]
    assert [m.message for m in repings] == [
        "@nick: still no reply from a person after 60 minutes on shift."
    ]


async def test_an_asker_alternating_solved_and_did_not_help_pages_the_shifter_once(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    [answer] = await shiftbot.say("alice", KNOWN, post_id="q1")
    assert "@sam" not in answer.message

    said: list[str] = []
    for text in ("did not help", "problem solved", "did not help", "problem solved") * 2 + (
        "did not help",
    ):
        said += [m.message for m in await shiftbot.say("alice", text, thread="q1")]
        await shiftbot.wait(timedelta(minutes=2))
    assert said == ["@sam, could you take this one? Sorry my answer did not help."]
    assert shiftbot.store.question("q1")["state"] == "waiting"  # type: ignore[index]

    # Half an hour after the page (shifts.ping_quiet_minutes), sam may be asked again.
    shiftbot.clock.set(datetime(2026, 3, 2, 9, 31, tzinfo=UTC))
    await shiftbot.say("alice", "problem solved", thread="q1")
    [again] = await shiftbot.say("alice", "did not help", thread="q1")
    assert again.message.startswith("@sam, could you take this one?")


async def test_within_the_quiet_window_only_a_person_not_yet_asked_is_paged(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.say("alice", KNOWN, post_id="q1")
    [first] = await shiftbot.say("alice", "did not help", thread="q1")
    assert first.message.startswith("@sam, could you take this one?")
    await shiftbot.say("alice", "problem solved", thread="q1")
    shiftbot.book("2026-03-02", "EU", "sam", "tina")
    [second] = await shiftbot.say("alice", "did not help", thread="q1")
    assert second.message.startswith("sam and @tina, could you take this one?")


async def test_a_question_reopened_off_duty_after_a_shifter_resolved_it_is_chased_again(
    shiftbot: ShiftBot,
) -> None:
    """Found by the simulation (bench/simulate.py): sam took and resolved the question; at night
    the asker wrote that it still fails. The question waits again, for the next shift, and must
    be pinged when it starts and chased by the no-reply rule, like any waiting question (before,
    sam's old claim and reply kept it out of both, so it waited for ever)."""
    shiftbot.book("2026-03-02", "EU", "sam")
    shiftbot.book("2026-03-03", "EU", "kim")
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    await shiftbot.say("sam", "@dastbot take", thread="q1")
    await shiftbot.say("sam", "try again with a fresh proxy", thread="q1")
    await shiftbot.say("sam", "@dastbot resolve", thread="q1")
    shiftbot.clock.set(datetime(2026, 3, 2, 22, 0, tzinfo=UTC))
    [sorry] = await shiftbot.say("alice", "this did not help, it still fails", thread="q1")
    assert "Nobody is on shift right now" in sorry.message

    posted = await shiftbot.wait(timedelta(hours=11))
    pings = [m.message for m in posted if m.root_id == "q1"]
    assert pings == [
        "@kim: this question has been waiting for your shift.",
        "@kim: still no reply from a person after 60 minutes on shift.",
    ]
    question = shiftbot.store.question("q1")
    assert question is not None and question["claimed_by"] is None
