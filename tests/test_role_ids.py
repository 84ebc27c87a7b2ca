"""Roles by Mattermost user id (``shifts.identity``): the roster's usernames are bound to the ids
they had when first resolved; a username taken over by another account gives that account no
role, a username that no longer resolves leaves the role with its old account, and before any
binding (the console) the username is the id. ``dastbot roster forget`` drops a binding."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROSTER
from test_cli import run

from dastbot.kernel.settings import Person
from dastbot.shifts.identity import RoleBook
from dastbot.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PEOPLE = [Person.model_validate(p) for p in ROSTER]


def test_before_binding_the_username_is_the_id(store: Store) -> None:
    roles = RoleBook(PEOPLE, store)
    assert roles.role_of("cora", "cora") == "coordinator"
    assert roles.role_of("someone", "carol") == "user"


def test_roles_follow_the_recorded_id_not_the_username(store: Store) -> None:
    first = RoleBook(PEOPLE, store)
    ids = {"sam": "id-sam", "tina": "id-tina", "nick": "id-nick", "cora": "id-cora"}
    assert first.bind({**ids, "nora": "id-nora"}, NOW) == []
    assert first.role_of("id-cora", "cora") == "coordinator"
    assert first.role_of("id-tina", "tina") == "trainee"
    assert first.role_of("cora", "cora") == "user", "a name is not an id once bound"

    # A restart: cora renamed herself, a newcomer took "cora"; nora's account is gone.
    again = RoleBook(PEOPLE, store)
    warnings = again.bind({**ids, "cora": "id-newcomer"}, NOW)
    assert warnings == [
        "roster: the username cora now belongs to another Mattermost account (id id-newcomer, "
        "not id-cora), which gets no role; if that is the same person, run "
        "`dastbot roster forget cora` and restart the bot",
        "roster: nora is no longer a Mattermost username; the account it belonged to keeps its "
        "role; update the roster",
    ]
    assert again.role_of("id-newcomer", "cora") == "user"
    assert again.role_of("id-cora", "cora.old") == "coordinator"
    assert again.role_of("id-nora", "nora2") == "coordinator"
    assert store.user_ids()["cora"] == "id-cora"


def test_a_username_never_resolved_gives_nobody_its_role(store: Store) -> None:
    roles = RoleBook(PEOPLE, store)
    warnings = roles.bind({"sam": "id-sam"}, NOW)
    assert (
        "roster: tina is no longer a Mattermost username; nobody gets its role until the roster "
        "names an existing user"
    ) in warnings
    assert roles.role_of("tina", "tina") == "user"


def test_without_the_server_the_recorded_ids_stand(store: Store) -> None:
    assert not RoleBook(PEOPLE, store).keep_recorded(), "nothing recorded: roles by username"
    RoleBook(PEOPLE, store).bind({"cora": "id-cora"}, NOW)
    roles = RoleBook(PEOPLE, store)
    assert roles.keep_recorded()
    assert roles.role_of("id-cora", "cora") == "coordinator"
    assert roles.role_of("cora", "cora") == "user"


def test_roster_forget_drops_a_binding_so_the_next_start_binds_the_new_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.db"
    store = Store.open(db)
    RoleBook(PEOPLE, store).bind({"cora": "id-cora"}, NOW)
    store.close()
    code, out, _ = run(["roster", "forget", "@Cora", "--db", str(db)], capsys)
    assert code == 0
    assert "forgot that cora is the Mattermost account id-cora" in out
    code, _, err = run(["roster", "forget", "cora", "--db", str(db)], capsys)
    assert code == 1
    assert "cora is bound to no Mattermost user id" in err
    store = Store.open(db)
    roles = RoleBook(PEOPLE, store)
    warnings = roles.bind({"cora": "id-newcomer"}, NOW)
    assert not [w for w in warnings if "cora" in w], warnings
    assert roles.role_of("id-newcomer", "cora") == "coordinator"
    store.close()
