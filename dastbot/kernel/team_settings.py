"""The ``people:`` section of bot.yaml: how the team's work is counted and looked after.

* ``credit``: shift credit per served slot, per level (OTP: 1.0 for a 1st-level shift, 0.5 for a
  trainee's);
* ``sustainable_shifts_per_4_weeks``: the load above which a person is flagged (the same rate
  three times over for the last 12 weeks);
* ``promotion``: what a trainee's record must reach before the coordinators are told that the
  trainee could be promoted;
* ``onboarding``: the checklist a zone's coordinator gets when a person joins the roster.

It lives in the kernel so that ``kernel.config`` does not depend on a feature; the rules that
use it are in ``dastbot.shifts``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_ONBOARDING = (
    "activate the talk nomination in GLANCE",
    "grant the channel permissions",
    "send the introductory guide link",
)
MAX_ONBOARDING_ITEMS = 10
MAX_ITEM_LENGTH = 200


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreditWeights(_Section):
    """Shift credit of one served slot: as 1st-level shifter, as trainee."""

    shifter: float = Field(default=1.0, ge=0.0, le=10.0)
    trainee: float = Field(default=0.5, ge=0.0, le=10.0)

    def of(self, level: str) -> float:
        if level not in ("shifter", "trainee"):
            raise ValueError(f"unknown level {level!r} (shifter or trainee)")
        return self.shifter if level == "shifter" else self.trainee


class PromotionThreshold(_Section):
    """A trainee is ready for promotion when both are reached."""

    shifts: int = Field(default=10, ge=1, le=1000)
    """Slots served as trainee."""
    threads: int = Field(default=5, ge=0, le=10_000)
    """Question threads handled (replied in or taken)."""


class TeamSettings(_Section):
    credit: CreditWeights = CreditWeights()
    sustainable_shifts_per_4_weeks: float = Field(default=2.0, gt=0.0, le=40.0)
    promotion: PromotionThreshold = PromotionThreshold()
    onboarding: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ONBOARDING), max_length=MAX_ONBOARDING_ITEMS
    )

    @field_validator("onboarding")
    @classmethod
    def _items(cls, value: list[str]) -> list[str]:
        items = [" ".join(item.split()) for item in value]
        for item in items:
            if not item:
                raise ValueError("an onboarding item cannot be empty")
            if len(item) > MAX_ITEM_LENGTH:
                raise ValueError(
                    f"onboarding item {item[:40]!r}… is longer than {MAX_ITEM_LENGTH} characters"
                )
        repeated = sorted({i for i in items if items.count(i) > 1})
        if repeated:
            raise ValueError(f"onboarding items are listed twice: {', '.join(repeated)}")
        return items

    @model_validator(mode="after")
    def _credit_order(self) -> TeamSettings:
        if self.credit.trainee > self.credit.shifter:
            raise ValueError(
                f"credit.trainee ({self.credit.trainee:g}) is more than credit.shifter "
                f"({self.credit.shifter:g}): a trainee's shift cannot earn more than a shifter's"
            )
        return self

    @property
    def sustainable_per_12_weeks(self) -> float:
        return 3 * self.sustainable_shifts_per_4_weeks
