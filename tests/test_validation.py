"""Validation errors in plain words: what a person typed, and what it should be."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dastbot.kernel.validation import plain_error


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reminders_after: tuple[float, ...] = (4.0, 8.0)
    deadline_hours: float = Field(default=24.0, gt=0)
    port: int = Field(default=8080, ge=0, le=65535)
    verify: bool = True
    handover: Literal["channel", "dm"] = "channel"
    name: str = "x"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == "bad":
            raise ValueError("names must not be bad")
        return value


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"reminders_after": "four"}, "should be a list such as [4, 8], not 'four'"),
        ({"reminders_after": ["four"]}, "should be a number, not 'four'"),
        ({"deadline_hours": 0}, "should be more than 0, not 0"),
        ({"port": "seventy"}, "should be a whole number, not 'seventy'"),
        ({"port": 70000}, "should be at most 65535, not 70000"),
        ({"verify": "maybe"}, "should be true or false, not 'maybe'"),
        ({"handover": "email"}, "should be one of 'channel' or 'dm', not 'email'"),
        ({"colour": "red"}, "is not a known field (a typo?)"),
        ({"name": "bad"}, "names must not be bad"),
        ({"name": "x" * 100}, None),
    ],
)
def test_each_mistake_is_said_in_plain_words(data: dict[str, object], said: str | None) -> None:
    try:
        Policy.model_validate(data)
    except ValidationError as exc:
        [error] = exc.errors()
        assert plain_error(error) == said
        assert "Input should" not in plain_error(error)
    else:
        assert said is None
