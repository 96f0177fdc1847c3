"""The booking platform's settings, under ``plugins.config.growth_platform``.

Per practice: its own list of reasons for visit (not the EHR's, but each mapped to the EHR
visit reason it books), whether it separates new and returning patients, which system's intake
forms patients fill in, the widget's allowed website origins, the consent policy version, and
calendars to seed once into the database (after that, staff edit them through the API).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

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
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


@lru_cache(maxsize=4096)
def clock_minutes(value: str) -> int:
    """``"HH:MM"`` (24-hour; ``"24:00"`` is the end of the day) as minutes after midnight."""
    match = _CLOCK.match(value)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"{value!r} is not a time of day as HH:MM")
    return int(match.group(1)) * 60 + int(match.group(2))


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
    the staff API alike."""

    slot_minutes: int = Field(default=30, ge=5, le=240, description="length of one slot")
    day_start: str = Field(default="08:00", description="start of the provider's day, HH:MM")
    day_end: str = Field(default="17:00", description="end of the provider's day, HH:MM")
    min_notice_minutes: int = Field(default=120, ge=0, le=60 * 24 * 30)
    horizon_days: int = Field(default=60, ge=1, le=365)
    days: dict[str, DayPattern] = Field(default={}, description="mon … sun; a missing day is off")

    @field_validator("day_start", "day_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @field_validator("days")
    @classmethod
    def _days_fit(cls, days: dict[str, DayPattern], info: ValidationInfo) -> dict[str, DayPattern]:
        if "day_start" not in info.data or "day_end" not in info.data:
            return days  # their own errors are reported
        start, end = clock_minutes(info.data["day_start"]), clock_minutes(info.data["day_end"])
        if start >= end:
            raise ValueError("day_end must be after day_start")
        unknown = set(days) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        for name, day in days.items():
            spans = sorted((clock_minutes(a), clock_minutes(b)) for a, b in day.ranges)
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
