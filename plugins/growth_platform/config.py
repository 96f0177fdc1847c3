"""The booking platform's settings, under ``plugins.config.growth_platform``.

Per practice: its own list of reasons for visit (not the EHR's), whether it separates new and
returning patients, the widget's allowed website origins, the consent policy version, and
calendars to seed once into the database (after that, staff edit them through the API).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from integration_core.errors import ConfigError
from integration_core.settings import Settings, plugin_config

__all__ = [
    "WEEKDAYS",
    "CalendarSeed",
    "DaySeed",
    "GrowthSettings",
    "PracticeGrowthSettings",
    "ReasonSettings",
    "clock_minutes",
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


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonSettings(_Section):
    name: str
    providers: list[str] = Field(min_length=1, description="provider slugs offering it")
    locations: list[str] = Field(min_length=1, description="location slugs offering it")
    virtual: bool = Field(default=False, description="may be booked as a virtual visit")


class DaySeed(_Section):
    enabled: bool = True
    ranges: list[tuple[str, str]] = Field(default=[], description="[[start, end], …] as HH:MM")

    @field_validator("ranges")
    @classmethod
    def _times(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for start, end in value:
            if clock_minutes(start) >= clock_minutes(end):
                raise ValueError(f"range {start}-{end} ends before it starts")
        return value


class CalendarSeed(_Section):
    slot_minutes: int = Field(default=30, ge=5, le=240)
    day_start: str = "08:00"
    day_end: str = "17:00"
    min_notice_minutes: int = Field(default=120, ge=0, le=60 * 24 * 30)
    horizon_days: int = Field(default=60, ge=1, le=365)
    days: dict[str, DaySeed] = {}

    @field_validator("day_start", "day_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: dict[str, DaySeed]) -> dict[str, DaySeed]:
        unknown = set(value) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        return value


class PracticeGrowthSettings(_Section):
    separate_new_returning: bool = True
    policy_version: str = Field(default="1", min_length=1, max_length=32)
    cors_origins: list[str] = []
    reasons: dict[str, ReasonSettings] = {}
    calendars: dict[str, dict[str, CalendarSeed]] = Field(
        default={}, description="seed calendars: calendars.<provider>.<location>"
    )


class GrowthSettings(_Section):
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
    """Validated plugin settings, cross-checked against the practices' providers/locations."""
    config = plugin_config(settings, PLUGIN, GrowthSettings)
    prefix = f"plugins.config.{PLUGIN}.practices"
    for slug, practice in config.practices.items():
        if slug not in settings.practices:
            raise ConfigError(f"{prefix}.{slug}: no such practice in practices.{slug}")
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
    return config
