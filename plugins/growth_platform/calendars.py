"""Calendar data: the shape staff edit, validation, and the one-time import of config seeds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.growth_platform.config import WEEKDAYS, CalendarSeed, GrowthSettings, clock_minutes
from plugins.growth_platform.tables import Calendar

__all__ = ["CalendarBody", "CalendarView", "apply", "seed_calendars", "view"]


class DayBody(BaseModel):
    enabled: bool = Field(description="the weekday toggle: off removes the day from the widget")
    ranges: list[tuple[str, str]] = Field(
        default=[], description='available ranges as [["09:00", "12:00"], …]; breaks between'
    )


class CalendarBody(BaseModel):
    slot_minutes: int = Field(ge=5, le=240, description="length of one bookable slot")
    day_start: str = Field(description="start of the provider's day, HH:MM")
    day_end: str = Field(description="end of the provider's day, HH:MM")
    min_notice_minutes: int = Field(default=120, ge=0, le=60 * 24 * 30)
    horizon_days: int = Field(default=60, ge=1, le=365)
    days: dict[str, DayBody] = Field(description="mon … sun; a missing day is off")

    @field_validator("day_start", "day_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @field_validator("days")
    @classmethod
    def _days_fit(cls, days: dict[str, DayBody], info: ValidationInfo) -> dict[str, DayBody]:
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


class CalendarView(CalendarBody):
    provider: str
    location: str
    time_zone: str
    updated_at: datetime
    updated_by: str


def _days(body: CalendarBody | CalendarSeed) -> dict[str, Any]:
    return {
        name: {"enabled": day.enabled, "ranges": [list(pair) for pair in day.ranges]}
        for name, day in body.days.items()
    }


def apply(
    session: Session,
    row: Calendar | None,
    body: CalendarBody | CalendarSeed,
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
        days={name: DayBody(**day) for name, day in row.days.items()},
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
