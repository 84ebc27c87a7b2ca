"""Every table and column of a fresh database is described for Datasette."""

from __future__ import annotations

import json

import pytest
from test_cli import run

from dastbot.store import Store
from dastbot.store.dbdocs import TABLES, datasette_metadata


def test_every_table_and_column_is_described(store: Store) -> None:
    for table in store.db.table_names():
        assert table in TABLES, f"table {table} is not described"
        described = TABLES[table][1]
        for column in store.db.table(table).columns_dict:
            assert column in described, f"{table}.{column} is not described"


def test_the_cli_prints_datasette_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["db-metadata", "--name", "state"], capsys)
    assert code == 0
    metadata = json.loads(out)
    assert metadata == datasette_metadata("state")
    assert "questions" in metadata["databases"]["state"]["tables"]
