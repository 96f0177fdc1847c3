"""The booking platform's settings, under ``plugins.config.growth_platform``.

Per practice: its own list of reasons for visit (not the EHR's, but each mapped to the EHR
visit reason it books), whether it separates new and returning patients, which system's intake
forms patients fill in, the widget's allowed website origins, the consent policy version, and
calendars to seed once into the database (after that, staff edit them through the API).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from integration_core.api import (
    ConfigError,
    ConfigSection,
    Settings,
    plugin_config,
    unknown_practices,
)

__all__ = [
    "WEEKDAYS",
    "CalendarPattern",
    "DayPattern",
    "GrowthSettings",
    "IntakeForms",
    "PracticeGrowthSettings",
    "ReasonSettings",
    "clock_minutes",
    "cross_check",
    "load",
]

PLUGIN = "growth_platform"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


CLOCK_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
"""``HH:MM``, 24-hour, ASCII digits; ``24:00`` is the end of the day."""
_CLOCK = re.compile(CLOCK_PATTERN)
_NOT_A_CLOCK = "not a time of day as HH:MM"


@lru_cache(maxsize=4096)
def clock_minutes(value: str) -> int:
    """Exactly ``"HH:MM"`` — nothing after it, not even a line break — as minutes after
    midnight; the error does not repeat the value."""
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise ValueError(_NOT_A_CLOCK)
    return int(value[:2]) * 60 + int(value[3:])


class ReasonSettings(ConfigSection):
    name: str
    providers: list[str] = Field(min_length=1, description="provider slugs offering it")
    locations: list[str] = Field(min_length=1, description="location slugs offering it")
    virtual: bool = Field(default=False, description="may be booked as a virtual visit")
    ehr_visit_reason: str | None = Field(
        default=None,
        min_length=1,
        description="the id of the EHR visit reason it books (one with a duration); "
        "`practice-sync check` requires it for a practice with an EHR",
    )


class DayPattern(ConfigSection):
    enabled: bool = Field(
        default=True, description="the weekday toggle: off removes the day from the widget"
    )
    ranges: list[tuple[str, str]] = Field(
        default=[],
        description='available ranges as [["09:00", "12:00"], …] (breaks between); none: all day',
    )


class CalendarPattern(ConfigSection):
    """When a provider takes online bookings at a location: the shape of a config seed and of
    the staff API alike, checked whichever fields are given (a day that ends before it starts
    is refused even without ``days``), with messages that never repeat what was given."""

    slot_minutes: int = Field(default=30, ge=5, le=240, description="length of one slot")
    day_start: str = Field(
        default="08:00",
        description="start of the provider's day, HH:MM",
        json_schema_extra={"pattern": CLOCK_PATTERN},
    )
    day_end: str = Field(
        default="17:00",
        description="end of the provider's day, HH:MM",
        json_schema_extra={"pattern": CLOCK_PATTERN},
    )
    min_notice_minutes: int = Field(default=120, ge=0, le=60 * 24 * 30)
    horizon_days: int = Field(default=60, ge=1, le=365)
    # Validated when left out too: the day's own bounds are checked there.
    days: dict[str, DayPattern] = Field(
        default={}, validate_default=True, description="mon … sun; a missing day is off"
    )

    @field_validator("day_start", "day_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _weekdays(cls, days: Any) -> Any:
        if isinstance(days, dict) and not set(days) <= set(WEEKDAYS):
            raise ValueError(f"days are named {', '.join(WEEKDAYS)}")
        return days

    @field_validator("days")
    @classmethod
    def _days_fit(cls, days: dict[str, DayPattern], info: ValidationInfo) -> dict[str, DayPattern]:
        if "day_start" not in info.data or "day_end" not in info.data:
            return days  # their own errors are reported
        start, end = clock_minutes(info.data["day_start"]), clock_minutes(info.data["day_end"])
        if start >= end:
            raise ValueError("day_end must be after day_start")
        for name, day in days.items():
            try:
                spans = sorted((clock_minutes(a), clock_minutes(b)) for a, b in day.ranges)
            except ValueError:
                raise ValueError(f"{name}: a range is {_NOT_A_CLOCK}") from None
            for index, (a, b) in enumerate(spans):
                if a >= b:
                    raise ValueError(f"{name}: a range ends before it starts")
                if a < start or b > end:
                    raise ValueError(f"{name}: ranges must lie within day_start..day_end")
                if index + 1 < len(spans) and spans[index + 1][0] < b:
                    raise ValueError(f"{name}: ranges overlap")
        return days


IntakeForms = Literal["ehr", "booking_platform"]


class PracticeGrowthSettings(ConfigSection):
    separate_new_returning: bool = True
    intake_forms: IntakeForms = Field(
        default="ehr",
        description='whose intake forms patients fill in: "ehr" (the default: the EHR\'s, so '
        'they land in the chart) or "booking_platform"; they must be on in that system only',
    )
    policy_version: str = Field(default="1", min_length=1, max_length=32)
    cors_origins: list[str] = []
    reasons: dict[str, ReasonSettings] = {}
    calendars: dict[str, dict[str, CalendarPattern]] = Field(
        default={}, description="seed calendars: calendars.<provider>.<location>"
    )


class GrowthSettings(ConfigSection):
    practices: dict[str, PracticeGrowthSettings] = {}

    @model_validator(mode="after")
    def _origins(self) -> GrowthSettings:
        for slug, practice in self.practices.items():
            for origin in practice.cors_origins:
                if not re.match(r"^https?://[^/\s]+$", origin):
                    raise ValueError(
                        f"practices.{slug}.cors_origins: {origin!r} is not an origin "
                        "(scheme://host[:port], no path)"
                    )
        return self


def load(settings: Settings) -> GrowthSettings:
    """Validated plugin settings (checked at start-up; see :func:`cross_check`)."""
    return plugin_config(settings, PLUGIN, GrowthSettings)


def cross_check(settings: Settings, config: GrowthSettings) -> None:
    """Every practice, provider and location named here exists in the core settings."""
    prefix = f"plugins.config.{PLUGIN}.practices"
    unknown = unknown_practices(settings, PLUGIN, config.practices)
    if unknown:
        raise ConfigError("\n".join(unknown))
    for slug, practice in config.practices.items():
        core = settings.practices[slug]
        for reason_slug, reason in practice.reasons.items():
            key = f"{prefix}.{slug}.reasons.{reason_slug}"
            for provider in reason.providers:
                if provider not in core.providers:
                    raise ConfigError(f"{key}.providers: unknown provider {provider!r}")
            for location in reason.locations:
                if location not in core.locations:
                    raise ConfigError(f"{key}.locations: unknown location {location!r}")
        for provider, by_location in practice.calendars.items():
            if provider not in core.providers:
                raise ConfigError(f"{prefix}.{slug}.calendars.{provider}: unknown provider")
            for location in by_location:
                if location not in core.providers[provider].locations:
                    raise ConfigError(
                        f"{prefix}.{slug}.calendars.{provider}.{location}: "
                        "the provider does not see patients there"
                    )
