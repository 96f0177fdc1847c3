"""Calendar data: the shape staff edit, validation, and the one-time import of config seeds."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.growth_platform.config import (
    WEEKDAYS,
    CalendarPattern,
    DayPattern,
    GrowthSettings,
    clock_minutes,
)
from plugins.growth_platform.tables import Calendar

__all__ = ["CalendarBody", "CalendarView", "apply", "seed_calendars", "view"]

CLOCK_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_NOT_A_CLOCK = "not a time of day as HH:MM"


def _minutes(value: str) -> int:
    """:func:`clock_minutes` of exactly ``HH:MM`` in ASCII digits — nothing after it, not even
    a line break — with a message that does not repeat the value."""
    if not isinstance(value, str) or not re.fullmatch(CLOCK_PATTERN, value):
        raise ValueError(_NOT_A_CLOCK)
    return clock_minutes(value)


class CalendarBody(CalendarPattern):
    """A calendar as staff send it: the same rules as a configured seed, checked whichever
    fields are sent (a day that ends before it starts is refused even without ``days``), with
    messages that name the rule and never repeat what was sent."""

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
    # Validated when left out too: the day's own bounds are checked there.
    days: dict[str, DayPattern] = Field(
        default={},
        validate_default=True,
        description="mon … sun; a missing day is off",
    )

    @field_validator("day_start", "day_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        _minutes(value)
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
        start, end = _minutes(info.data["day_start"]), _minutes(info.data["day_end"])
        if start >= end:
            raise ValueError("day_end must be after day_start")
        for name, day in days.items():
            try:
                spans = sorted((_minutes(a), _minutes(b)) for a, b in day.ranges)
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


class CalendarView(CalendarPattern):
    provider: str
    location: str
    time_zone: str
    updated_at: datetime
    updated_by: str


def _days(body: CalendarPattern) -> dict[str, Any]:
    return {
        name: {"enabled": day.enabled, "ranges": [list(pair) for pair in day.ranges]}
        for name, day in body.days.items()
    }


def apply(
    session: Session,
    row: Calendar | None,
    body: CalendarPattern,
    *,
    practice_id: str,
    provider_id: str,
    location_id: str,
    actor: str,
    now: datetime,
) -> Calendar:
    """Create or replace a calendar from a validated body."""
    if row is None:
        row = Calendar(practice_id=practice_id, provider_id=provider_id, location_id=location_id)
        session.add(row)
    row.slot_minutes = body.slot_minutes
    row.day_start = body.day_start
    row.day_end = body.day_end
    row.min_notice_minutes = body.min_notice_minutes
    row.horizon_days = body.horizon_days
    row.days = _days(body)
    row.updated_at = now
    row.updated_by = actor
    return row


def view(row: Calendar, time_zone: str) -> CalendarView:
    return CalendarView(
        provider=row.provider_id,
        location=row.location_id,
        time_zone=time_zone,
        slot_minutes=row.slot_minutes,
        day_start=row.day_start,
        day_end=row.day_end,
        min_notice_minutes=row.min_notice_minutes,
        horizon_days=row.horizon_days,
        days={name: DayPattern(**day) for name, day in row.days.items()},
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def seed_calendars(session: Session, config: GrowthSettings, now: datetime) -> int:
    """Import configured calendars that have no row yet; returns how many were created.

    Seeds are imported once: a calendar staff have since edited is never overwritten.
    """
    existing = {
        (row.practice_id, row.provider_id, row.location_id)
        for row in session.execute(
            select(Calendar.practice_id, Calendar.provider_id, Calendar.location_id)
        )
    }
    created = 0
    for practice_id, practice in config.practices.items():
        for provider_id, by_location in practice.calendars.items():
            for location_id, seed in by_location.items():
                if (practice_id, provider_id, location_id) in existing:
                    continue
                apply(
                    session,
                    None,
                    seed,
                    practice_id=practice_id,
                    provider_id=provider_id,
                    location_id=location_id,
                    actor="config-seed",
                    now=now,
                )
                created += 1
    return created
