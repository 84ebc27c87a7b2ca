"""Messages composed from lists fit Mattermost's post limit and say what they left out."""

from __future__ import annotations

from dastbot.kernel.markdown import POST_LIMIT, bounded


def more(n: int) -> str:
    return f"… and {n} more: `/dast status`."


def test_a_short_list_is_shown_whole() -> None:
    assert bounded("head", ["a", "b"], more) == "head\na\nb"


def test_a_long_list_stops_before_the_limit_and_counts_the_rest() -> None:
    items = [f"- question {i} " + "x" * 200 for i in range(500)]
    text = bounded("**Handover**", items, more)
    assert len(text) <= POST_LIMIT
    shown = text.count("\n- question")
    assert text.endswith(more(500 - shown))
    assert items[0] in text and items[shown - 1] in text and items[shown] not in text


def test_at_most_n_items() -> None:
    text = bounded("head", ["a", "b", "c", "d"], more, most=2)
    assert text == "head\na\nb\n" + more(2)


def test_a_single_item_longer_than_the_limit_is_counted_not_posted() -> None:
    text = bounded("head", ["y" * (POST_LIMIT + 5)], more)
    assert text == "head\n" + more(1)
