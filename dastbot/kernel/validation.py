"""Validation errors in plain words, for every file a person edits (bot.yaml, contacts.yaml, ...).

``plain_error`` turns one pydantic error into what a person can act on: "should be a number,
not 'four'" instead of "Input should be a valid number, unable to parse string as a number", and
"should be a list such as [4, 8], not 'four'" instead of "Input should be a valid tuple". Errors a
validator raised itself keep their own words (without pydantic's "Value error, " prefix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SHOWN_INPUT = 60

_KINDS: dict[str, str] = {
    "float_parsing": "should be a number",
    "float_type": "should be a number",
    "int_parsing": "should be a whole number",
    "int_type": "should be a whole number",
    "int_from_float": "should be a whole number",
    "bool_parsing": "should be true or false",
    "bool_type": "should be true or false",
    "string_type": "should be text",
    "list_type": "should be a list such as [a, b]",
    "tuple_type": "should be a list such as [4, 8]",
    "set_type": "should be a list such as [a, b]",
    "dict_type": "should be a mapping of fields (key: value lines)",
    "model_type": "should be a mapping of fields (key: value lines)",
    "model_attributes_type": "should be a mapping of fields (key: value lines)",
    "date_parsing": "should be a date YYYY-MM-DD",
    "date_from_datetime_parsing": "should be a date YYYY-MM-DD",
    "datetime_parsing": "should be a date and time such as 2026-03-30T09:00+02:00",
    "time_parsing": "should be a time HH:MM",
    "url_parsing": "should be a URL such as https://example.org",
    "missing": "is required",
    "extra_forbidden": "is not a known field (a typo?)",
}
_BOUNDS: dict[str, str] = {
    "greater_than": "should be more than {gt}",
    "greater_than_equal": "should be at least {ge}",
    "less_than": "should be less than {lt}",
    "less_than_equal": "should be at most {le}",
    "too_short": "should have at least {min_length} item(s)",
    "too_long": "should have at most {max_length} item(s)",
    "string_too_short": "should have at least {min_length} character(s)",
    "string_too_long": "should have at most {max_length} character(s)",
    "literal_error": "should be one of {expected}",
    "enum": "should be one of {expected}",
}


def shown(value: Any) -> str:
    """A value as a person typed it, shortened: ``'four'``, ``12``, ``[1, 2]``."""
    text = repr(value)
    return text if len(text) <= _SHOWN_INPUT else text[: _SHOWN_INPUT - 1] + "…"


def plain_error(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in plain words."""
    kind = str(error.get("type", ""))
    message = str(error.get("msg", ""))
    if kind in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in (error.get("ctx") or {}).items()}
    if kind in _BOUNDS:
        try:
            text = _BOUNDS[kind].format(**ctx)
        except (KeyError, IndexError):
            return message
    elif kind in _KINDS:
        text = _KINDS[kind]
    else:
        return message
    if kind in ("missing", "extra_forbidden") or "input" not in error:
        return text
    return f"{text}, not {shown(error['input'])}"
