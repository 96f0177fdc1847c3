"""Calendar data: the shape staff edit, validation, and the one-time import of config seeds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.growth_platform.config import (
    CalendarPattern,
    DayPattern,
    GrowthSettings,
)
from plugins.growth_platform.tables import Calendar

__all__ = ["CalendarBody", "CalendarView", "apply", "seed_calendars", "view"]


class CalendarBody(CalendarPattern):
    """A calendar as staff send it: the rules of a configured seed (see
    :class:`~plugins.growth_platform.config.CalendarPattern`)."""


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
