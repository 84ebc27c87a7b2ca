"""Escalations: contacts, the life cycle, the reminder schedule in the target's working hours,
and the posts the bot makes.

The running example: a DAST shifter escalates on Friday 6 March 2026 at 15:00 (Geneva) to a cloud
that works 09:00-17:00 Europe/Zurich. With the default policy (reminders after 4 and 8 working
hours, then every 8, deadline after 24) the schedule is:

    reminder 1  Mon  9 Mar 11:00   (2 h on Friday + 2 h on Monday)
    reminder 2  Mon  9 Mar 15:00
    reminder 3  Tue 10 Mar 15:00
    deadline    Wed 11 Mar 15:00
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dastbot.escalations.contacts import (
    Contacts,
    ContactsError,
    ReminderPolicy,
    Target,
    load_contacts,
    parse_contacts,
)
from dastbot.escalations.lifecycle import TransitionError, next_state, record_event, record_sent
from dastbot.escalations.reminders import (
    DeadlinePassed,
    Reminder,
    due_actions,
    next_due,
    schedule,
)
from dastbot.escalations.render import deadline_post, escalation_post, listing, reminder_post
from dastbot.escalations.workhours import WorkingHours
from dastbot.kernel.markdown import escape_markdown
from dastbot.kernel.models import Escalation

REPO = Path(__file__).resolve().parent.parent
CLOUDS = ("CA", "CERN", "DE", "ES", "FR", "IT", "ND", "NL", "RU", "TW", "UK", "US")


def zurich(day: str, hhmm: str = "00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo("Europe/Zurich"))


CLOUD = Target(
    id="cloud-xx",
    kind="cloud",
    name="XX cloud support",
    aliases=("XX cloud",),
    channel="adc-cloud-xx",
    users=("alice", "bob"),
    policy=ReminderPolicy(),
    working_hours=WorkingHours(
        timezone="Europe/Zurich", holidays_country="CH", holidays_subdivision="GE"
    ),
)
OPENED = zurich("2026-03-06", "15:00")
R1, R2, R3 = (
    zurich("2026-03-09", "11:00"),
    zurich("2026-03-09", "15:00"),
    zurich("2026-03-10", "15:00"),
)
DEADLINE = zurich("2026-03-11", "15:00")


def escalation(**changes: object) -> Escalation:
    base = Escalation(
        id="E-7",
        thread_id="thread-1",
        target_id="cloud-xx",
        state="open",
        opened_at=OPENED,
        opened_by="shifter1",
        reason="jobs fail with stage-in errors at the site",
        ticket="GGUS-123456",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(esc: Escalation, instants: list[datetime]) -> tuple[Escalation, list[object]]:
    """What the bot would post when its scheduler wakes up at ``instants``, recording each post."""
    posted: list[object] = []
    for now in instants:
        for action in due_actions(esc, CLOUD, now):
            posted.append(action)
            esc = record_sent(esc, action, now)
    return esc, posted


# --- the schedule --------------------------------------------------------------------------


def test_the_default_policy_reminds_after_4_and_8_hours_then_daily_until_24() -> None:
    policy = ReminderPolicy()
    assert policy.reminder_offsets() == (4.0, 8.0, 16.0)
    assert policy.deadline_hours == 24.0


def test_reminders_fall_due_in_working_hours_across_the_weekend() -> None:
    plan = schedule(CLOUD, OPENED)
    assert plan.reminders == (R1, R2, R3)
    assert plan.deadline == DEADLINE
    assert all(t.tzinfo is UTC for t in (*plan.reminders, plan.deadline))


def test_nothing_is_due_over_the_weekend_or_before_the_first_reminder() -> None:
    esc = escalation()
    assert due_actions(esc, CLOUD, zurich("2026-03-06", "16:59")) == []
    assert due_actions(esc, CLOUD, zurich("2026-03-07", "12:00")) == []
    assert due_actions(esc, CLOUD, zurich("2026-03-09", "10:59")) == []
    assert due_actions(esc, CLOUD, R1) == [Reminder("E-7", 1, R1)]


def test_each_reminder_is_posted_once_at_its_time() -> None:
    wakeups = [R1, R1 + timedelta(minutes=1), zurich("2026-03-09", "14:00"), R2, R3]
    esc, posted = run(escalation(), wakeups)
    assert posted == [Reminder("E-7", 1, R1), Reminder("E-7", 2, R2), Reminder("E-7", 3, R3)]
    assert esc.reminders_sent == 3
    assert esc.last_reminder_at == R3


def test_after_a_reply_no_more_reminders() -> None:
    esc, _ = run(escalation(), [R1])
    esc = record_event(esc, "reply", zurich("2026-03-09", "12:00"))
    assert esc.state == "replied"
    assert esc.replied_at == zurich("2026-03-09", "12:00")
    assert due_actions(esc, CLOUD, R2) == []
    assert due_actions(esc, CLOUD, DEADLINE + timedelta(days=7)) == []
    assert next_due(esc, CLOUD) is None


def test_the_deadline_is_reported_exactly_once() -> None:
    esc, _ = run(escalation(), [R1, R2, R3])
    assert due_actions(esc, CLOUD, DEADLINE - timedelta(minutes=1)) == []
    (action,) = due_actions(esc, CLOUD, DEADLINE)
    assert action == DeadlinePassed("E-7", DEADLINE, 24.0)
    esc = record_sent(esc, action, DEADLINE)
    assert esc.deadline_notified
    assert esc.state == "open"  # still open: DAST decides what happens next
    for later in (
        DEADLINE + timedelta(hours=1),
        zurich("2026-03-12", "10:00"),
        zurich("2026-03-20"),
    ):
        assert due_actions(esc, CLOUD, later) == []
    assert next_due(esc, CLOUD) is None


def test_after_downtime_one_reminder_with_the_latest_number_is_posted() -> None:
    # The bot was down from Friday until Tuesday 16:00: reminders 1, 2 and 3 were all missed.
    tuesday_16 = zurich("2026-03-10", "16:00")
    esc, posted = run(escalation(), [tuesday_16, tuesday_16 + timedelta(minutes=5)])
    assert posted == [Reminder("E-7", 3, R3)]
    assert esc.reminders_sent == 3
    assert next_due(esc, CLOUD) == DEADLINE


def test_downtime_does_not_shift_the_schedule() -> None:
    # Reminder 1 went out two hours late; reminder 2 is still due at its own time.
    _, posted = run(escalation(), [zurich("2026-03-09", "13:00"), R2])
    assert posted == [Reminder("E-7", 1, R1), Reminder("E-7", 2, R2)]


def test_a_reminder_owed_after_hours_waits_for_the_next_opening() -> None:
    monday_evening = zurich("2026-03-09", "18:00")  # reminders 1 and 2 owed, the team has left
    esc = escalation()
    assert due_actions(esc, CLOUD, monday_evening) == []
    tuesday_9 = zurich("2026-03-10", "09:00")
    assert next_due(esc, CLOUD, monday_evening) == tuesday_9
    assert due_actions(esc, CLOUD, tuesday_9) == [Reminder("E-7", 2, R2)]


def test_past_the_deadline_only_the_deadline_is_reported() -> None:
    esc, posted = run(escalation(), [zurich("2026-03-12", "10:00")])
    assert posted == [DeadlinePassed("E-7", DEADLINE, 27.0)]  # 2 + 8 + 8 + 8 + 1
    assert esc.reminders_sent == 0


def test_the_deadline_is_reported_even_outside_working_hours() -> None:
    saturday = zurich("2026-03-14", "11:00")
    assert due_actions(escalation(), CLOUD, saturday) == [DeadlinePassed("E-7", DEADLINE, 42.0)]


def test_next_due_gives_the_scheduled_time_of_the_next_thing() -> None:
    assert next_due(escalation(), CLOUD) == R1
    assert next_due(escalation(reminders_sent=1), CLOUD) == R2
    assert next_due(escalation(reminders_sent=3), CLOUD) == DEADLINE
    assert next_due(escalation(state="closed"), CLOUD) is None


def test_next_due_with_now_is_when_due_actions_first_has_something() -> None:
    esc = escalation()
    for now in (
        OPENED,
        zurich("2026-03-07", "09:00"),
        zurich("2026-03-09", "12:00"),
        zurich("2026-03-09", "20:00"),
        zurich("2026-03-11", "16:00"),
    ):
        due = next_due(esc, CLOUD, now)
        assert due is not None and due >= now
        assert due_actions(esc, CLOUD, due) != []
        if due > now:
            assert due_actions(esc, CLOUD, due - timedelta(seconds=1)) == []
            assert due_actions(esc, CLOUD, now) == []


def test_an_escalation_is_checked_against_its_own_target() -> None:
    other = CLOUD.model_copy(update={"id": "cloud-yy"})
    with pytest.raises(ValueError, match="is for 'cloud-xx', not 'cloud-yy'"):
        due_actions(escalation(), other, R1)


def test_escalation_instants_must_be_aware_and_are_kept_in_utc() -> None:
    assert escalation().opened_at.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        escalation(opened_at=datetime(2026, 3, 6, 15, 0))
    with pytest.raises(ValueError, match="unknown escalation state"):
        escalation(state="pending")


# --- life cycle ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        ("open", "reply", "replied"),
        ("open", "close", "closed"),
        ("open", "cancel", "cancelled"),
        ("replied", "reply", "replied"),
        ("replied", "close", "closed"),
        ("replied", "cancel", "cancelled"),
    ],
)
def test_allowed_transitions(state: str, event: str, after: str) -> None:
    assert next_state(state, event) == after


@pytest.mark.parametrize(
    ("state", "event", "message"),
    [
        ("closed", "reply", "cannot reply an escalation that is closed ('closed' is final)"),
        ("cancelled", "close", "cannot close an escalation that is cancelled"),
        ("open", "reopen", "unknown escalation event 'reopen'"),
        ("waiting", "reply", "unknown escalation state 'waiting'"),
    ],
)
def test_invalid_transitions_say_why(state: str, event: str, message: str) -> None:
    with pytest.raises(TransitionError) as caught:
        next_state(state, event)
    assert message in str(caught.value)


def test_only_the_first_reply_sets_replied_at() -> None:
    first = record_event(escalation(), "reply", R1)
    again = record_event(first, "reply", R2)
    assert again.replied_at == R1
    assert record_event(again, "close", R3).state == "closed"


# --- policy and contacts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reminders_after": [8, 4]}, "strictly increasing"),
        ({"reminders_after": [0]}, "positive"),
        ({"repeat_every": 0}, "positive"),
        ({"reminders_after": [4, 30], "deadline_hours": 24}, "not before the deadline"),
        ({"repeat_every": 0.1, "deadline_hours": 100}, "at most 50"),
    ],
)
def test_invalid_policies_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReminderPolicy.model_validate(fields)


def test_a_policy_without_repeats() -> None:
    policy = ReminderPolicy(reminders_after=(2,), repeat_every=None, deadline_hours=16)
    assert policy.reminder_offsets() == (2.0,)


@pytest.fixture(scope="module")
def contacts() -> Contacts:
    return load_contacts(REPO / "knowledge" / "contacts.yaml")


def test_the_shipped_contacts_cover_every_cloud_and_the_expert_groups(contacts: Contacts) -> None:
    assert set(CLOUDS) <= set(contacts.clouds())
    for target_id in ("site-support", "panda-experts", "rucio-experts", "ami-team"):
        assert contacts.get(target_id) is not None
    assert all(t.channel or t.users for t in contacts)


def test_each_cloud_works_in_its_own_time_zone(contacts: Contacts) -> None:
    zones = {code: t.working_hours.timezone for code, t in contacts.clouds().items()}
    assert zones["US"].startswith("America/")
    assert zones["CA"].startswith("America/")
    assert zones["TW"] == "Asia/Taipei"
    assert zones["DE"] == "Europe/Berlin"
    de = contacts.clouds()["DE"]
    assert de.channel == "adc-cloud-de"
    assert de.working_hours.holidays_country == "DE"
    assert de.policy == ReminderPolicy()  # inherited from defaults


def test_targets_override_defaults_field_by_field(contacts: Contacts) -> None:
    panda = contacts.get("panda-experts")
    assert panda is not None
    assert panda.policy.deadline_hours == 16
    assert panda.policy.reminders_after == (4.0, 8.0)  # from defaults
    fr = contacts.clouds()["FR"]
    assert fr.working_hours.holidays_subdivision is None  # GE does not leak into France


def test_resolve_by_id_cloud_code_or_alias_case_insensitively(contacts: Contacts) -> None:
    assert contacts.resolve("cloud-de") is contacts.get("cloud-de")
    assert contacts.resolve("de") is contacts.get("cloud-de")
    assert contacts.resolve("  gridka   CLOUD ") is contacts.get("cloud-de")
    assert contacts.resolve("Rucio") is contacts.get("rucio-experts")
    assert contacts.resolve("jedi") is contacts.get("panda-experts")
    assert contacts.resolve("nowhere") is None


def test_route_resolves_the_knowledge_base_targets(contacts: Contacts) -> None:
    assert contacts.route("cloud-support", cloud="UK") is contacts.get("cloud-uk")
    assert contacts.route("cloud-support", cloud=None) is None
    assert contacts.route("cloud-support", cloud="XX") is None
    assert contacts.route("ami-team") is contacts.get("ami-team")


BROKEN = """\
defaults:
  policy:
    deadline_hours: -3
  working_hours:
    timezone: Europe/Zurich
targets:
  - id: cloud-de
    kind: cloud
    name: DE cloud
    channel: adc-cloud-de
    working_hours:
      timezone: Europe/Karlsruhe
  - id: cloud-fr
    kind: cloud
    name: FR cloud
    aliases: [French cloud, de]
  - id: Panda Experts
    kind: expert-group
    name: PanDA
    channel: panda
    colour: blue
  - id: cloud-de
    kind: cloud
    name: DE again
    channel: adc-cloud-de2
  - just a string
"""


def test_contact_errors_are_reported_all_at_once_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "contacts.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ContactsError) as caught:
        load_contacts(path)
    errors = caught.value.errors
    f = str(path)
    expected = [
        f"{f}:3: defaults: deadline_hours: should be more than 0",
        f"{f}:12: target 'cloud-de': working_hours.timezone: unknown time zone 'Europe/Karlsruhe'",
        f"{f}:13: target 'cloud-fr': needs a channel or users",
        f"{f}:17: target 'Panda Experts': id: id must be lowercase kebab-case",
        f"{f}:21: target 'Panda Experts': colour: is not a known field (a typo?)",
        f"{f}:22: target 'cloud-de': duplicate id (first defined at {f}:7)",
        f"{f}:26: target #5: a target must be a mapping of fields",
    ]
    for line in expected:
        assert any(e.startswith(line) for e in errors), (line, errors)
    assert len(errors) == len(expected)


def test_duplicate_ids_and_aliases_name_both_places() -> None:
    text = """\
targets:
  - id: cloud-de
    kind: cloud
    name: DE
    channel: adc-cloud-de
  - id: cloud-fr
    kind: cloud
    name: FR
    aliases: [French cloud, De]
    channel: adc-cloud-fr
  - id: cloud-de
    kind: cloud
    name: DE again
    channel: adc-cloud-de2
"""
    with pytest.raises(ContactsError) as caught:
        parse_contacts(text, "contacts.yaml")
    assert caught.value.errors == [
        "contacts.yaml:9: target 'cloud-fr': alias 'De' is already used by target 'cloud-de' "
        "(contacts.yaml:2)",
        "contacts.yaml:11: target 'cloud-de': duplicate id (first defined at contacts.yaml:2)",
    ]


def test_contacts_file_shape_errors() -> None:
    with pytest.raises(ContactsError, match="expected a mapping with defaults: and targets:"):
        parse_contacts("- id: x\n", "c.yaml")
    with pytest.raises(ContactsError, match=r"c.yaml:1: unknown top-level field 'target'"):
        parse_contacts("target: []\n", "c.yaml")
    with pytest.raises(ContactsError, match=r"c.yaml:3: invalid YAML"):
        parse_contacts("targets:\n  - id: [\n", "c.yaml")


def test_cloud_ids_and_kinds_go_together() -> None:
    with pytest.raises(ValidationError, match="cloud-<code>"):
        Target(id="germany", kind="cloud", name="DE", channel="adc-de")
    with pytest.raises(ValidationError, match="reserved for kind: cloud"):
        Target(id="cloud-x1", kind="expert-group", name="X", channel="x1")
    with pytest.raises(ValidationError, match="not Mattermost usernames"):
        Target(id="x-team", kind="expert-group", name="X", users=("Not A User",))


# --- posts -----------------------------------------------------------------------------------


def test_escape_markdown_neutralises_mentions_formatting_and_block_syntax() -> None:
    assert escape_markdown("ping @channel and @alice") == "ping @\u200bchannel and @\u200balice"
    assert escape_markdown("**bold** _it_ `code` ~~x~~") == (
        "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~x\\~\\~"
    )
    assert escape_markdown("[click](javascript:alert(1))") == "\\[click\\](javascript:alert(1))"
    assert escape_markdown("# title\n- item\n> quote\n1. first\n===") == (
        "\\# title\n\\- item\n\\> quote\n\\1. first\n\\==="
    )
    assert escape_markdown("a | b") == "a \\| b"


def test_escape_markdown_keeps_links_clickable() -> None:
    url = "https://bigpanda.cern.ch/task/40211133/?display_limit=100&mode=nodrop"
    assert escape_markdown(f"see {url}.") == f"see {url}."
    assert escape_markdown("https://x.org/a@b") == "https://x.org/a@\u200bb"


def test_the_escalation_post_quotes_the_user_and_cannot_be_hijacked() -> None:
    question = "My jobs fail @channel\n# URGENT\n[free money](https://evil.example)\n- help"
    post = escalation_post(
        question_text=question,
        identifiers_summary="task 40211133, site FZK-LCG2, RSE FZK-LCG2_SCRATCHDISK",
        reason="stage-in errors on **all** jobs",
        permalink="https://mattermost.web.cern.ch/atlas/pl/abc123",
        ticket="GGUS-123456",
        opened_by="shifter_1",
        target=CLOUD,
    )
    assert post.startswith("**DAST escalation** to XX cloud support (escalated by shifter\\_1)")
    assert "\n@alice @bob\n" in post
    assert "**Why:** stage-in errors on \\*\\*all\\*\\* jobs" in post
    assert "FZK-LCG2\\_SCRATCHDISK" in post
    assert "**Ticket:** GGUS-123456" in post
    assert "[user thread](https://mattermost.web.cern.ch/atlas/pl/abc123)" in post
    assert (
        "> My jobs fail @\u200bchannel\n> \\# URGENT\n> \\[free money\\](https://evil.example)"
        in post
    )
    assert "> \\- help" in post
    assert "@channel" not in post
    assert "Reminders start after 4 working hours" in post
    assert "Mon-Fri 09:00-17:00 Europe/Zurich" in post


def test_the_escalation_post_shortens_long_questions() -> None:
    post = escalation_post("line\n" * 100, "", "", None, None, "shifter1")
    quoted = [line for line in post.splitlines() if line.startswith(">")]
    assert len(quoted) <= 31
    assert quoted[-1] == "> \u2026"
    assert "**Why:** not given" in post


def test_a_permalink_that_is_not_a_url_is_shown_as_text() -> None:
    post = escalation_post("q", "", "r", "javascript:alert(1)", None, "s1")
    assert "](javascript" not in post


def test_the_reminder_post_mentions_the_target_and_gives_the_next_dates() -> None:
    esc, _ = run(escalation(), [R1])
    post = reminder_post(esc, CLOUD, R2, number=2)
    assert post.startswith("**Reminder 2** (escalation E-7): @alice @bob XX cloud support, ")
    assert "Escalated Fri 06 Mar 15:00 Europe/Zurich by shifter1, 8 working hours ago." in post
    assert "Ticket: GGUS-123456." in post
    assert "Next reminder Tue 10 Mar 15:00 Europe/Zurich; deadline Wed 11 Mar 15:00" in post


def test_the_deadline_post_suggests_a_next_step() -> None:
    esc = escalation(reminders_sent=3, ticket=None)
    post = deadline_post(esc, CLOUD, DEADLINE)
    assert post.startswith("**No reply by the deadline** (escalation E-7): XX cloud support")
    assert "24 working hours ago" in post
    assert "Reminders sent: 3." in post
    assert "open a GGUS ticket" in post


def test_listing_shows_open_escalations_oldest_first() -> None:
    older = escalation(id="E-1", opened_at=zurich("2026-03-05", "10:00"), reason="old | one")
    newer = escalation(id="E-9", opened_at=zurich("2026-03-09", "09:00"))
    replied = escalation(id="E-5", state="replied")
    lost = escalation(id="E-3", target_id="cloud-gone", opened_at=zurich("2026-03-08"))
    now = zurich("2026-03-09", "12:00")
    text = listing([newer, replied, escalation(), older, lost], {"cloud-xx": CLOUD}, now)
    lines = text.splitlines()
    assert lines[0] == "**Open escalations** (4, oldest first)"
    assert lines[2] == "| Escalation | Target | Opened | Age | Reminders | Next | Why |"
    rows = [line for line in lines if line.startswith("| E-")]
    assert [row.split(" | ")[0] for row in rows] == ["| E-1", "| E-7", "| E-3", "| E-9"]
    assert "E-5" not in text
    assert rows[0] == (
        "| E-1 | XX cloud support | Thu 05 Mar 09:00 UTC | 18 working hours | 0 "
        "| reminder 3 now | old \\| one |"
    )  # 18 = Thursday 10-17, Friday, Monday 9-12; reminder 3 was due Monday 10:00
    e7 = rows[1]
    assert "| 5 working hours | 0 | reminder 1 now |" in e7
    assert "unknown target cloud-gone" in rows[2]
    e9 = rows[3]
    assert "reminder 1 Mon 09 Mar 12:00 UTC" in e9


def test_listing_with_nothing_open() -> None:
    closed = escalation(state="closed")
    assert listing([closed], {"cloud-xx": CLOUD}, R1) == "No open escalations."
