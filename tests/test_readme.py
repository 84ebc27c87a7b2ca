"""The README's command tables name every command there is, so a newcomer can find each one."""

from __future__ import annotations

import argparse
from pathlib import Path

from conftest import Bot

from dastbot.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    end = README.index("\n#", start + len(title))
    return README[start:end]


def test_every_slash_command_is_in_the_readme_table(bot: Bot) -> None:
    table = section("### In the channel: /dast")
    words = [" ".join(spec.words) for spec in bot.router.registry.specs]
    assert len(words) > 20
    assert [w for w in words if f"`{w}" not in table] == []


def test_every_subcommand_is_in_a_readme_table() -> None:
    table = "\n".join(line for line in README.splitlines() if line.startswith("| `dastbot "))
    parser = build_parser()
    names: list[str] = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        assert isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
            names += [f"{name} {n}" for a in nested for n in a.choices] or [name]
    assert [n for n in names if f"`dastbot {n}" not in table] == []
    assert "`dastbot --version`" in table
