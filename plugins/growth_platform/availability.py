"""Open slots: calendar ranges less time blocks, busy time and notice, sliced into slots.

Everything here is computed from three queries per request — calendars, time blocks,
appointments — whatever the number of providers, days or slots, and nothing is cached (a
cached answer could show a slot that was just taken).

Time zones: slots are laid out on the location's wall clock. A wall-clock time that does not
exist (the spring-forward gap) yields no slot; on the repeated hour (fall back) each
wall-clock slot is offered once, at its first occurrence. A slot lasts ``slot_minutes`` of
real time from its start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.records import ACTIVE_STATUSES, Appointment
from plugins.growth_platform.config import WEEKDAYS, clock_minutes
from plugins.growth_platform.tables import Calendar, TimeBlock

__all__ = ["BusyTimes", "Slot", "calendar_slots", "open_slots", "wall_clock_slots"]

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Slot:
    provider_id: str
    location_id: str
    start: datetime
    """UTC."""
    end: datetime
    local_start: datetime
    """The same instant on the location's wall clock."""


class BusyTimes:
    """Sorted, merged intervals answering "does [start, end) touch any of them?" in log time."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        index = bisect_right(self._starts, start) - 1
        if index >= 0 and self._ends[index] > start:
            return True
        following = index + 1
        return following < len(self._starts) and self._starts[following] < end


def wall_clock_slots(calendar: Calendar, zone: ZoneInfo, day: date) -> Iterator[Slot]:
    plan = calendar.days.get(WEEKDAYS[day.weekday()])
    if not plan or not plan.get("enabled", False):
        return
    day_start, day_end = clock_minutes(calendar.day_start), clock_minutes(calendar.day_end)
    ranges = plan.get("ranges") or [[calendar.day_start, calendar.day_end]]
    step = timedelta(minutes=calendar.slot_minutes)
    midnight = datetime.combine(day, datetime.min.time())
    for range_start, range_end in ranges:
        first = max(clock_minutes(range_start), day_start)
        last = min(clock_minutes(range_end), day_end)
        minute = first
        while minute + calendar.slot_minutes <= last:
            wall = midnight + timedelta(minutes=minute)
            minute += calendar.slot_minutes
            local = wall.replace(tzinfo=zone)  # fold=0: the first occurrence of a repeated time
            start = local.astimezone(UTC)
            if start.astimezone(zone).replace(tzinfo=None) != wall:
                continue  # skipped by the clocks going forward
            yield Slot(calendar.provider_id, calendar.location_id, start, start + step, local)


def calendar_slots(
    calendar: Calendar,
    zone: ZoneInfo,
    first_day: date,
    last_day: date,
    *,
    now: datetime,
    blocks: BusyTimes,
    busy: BusyTimes,
) -> Iterator[Slot]:
    """The open slots of one calendar on the local dates ``first_day``..``last_day``."""
    earliest = now + timedelta(minutes=calendar.min_notice_minutes)
    latest = now + timedelta(days=calendar.horizon_days)
    day = first_day
    while day <= last_day:
        for slot in wall_clock_slots(calendar, zone, day):
            if slot.start < earliest or slot.start > latest:
                continue
            if blocks.overlaps(slot.start, slot.end) or busy.overlaps(slot.start, slot.end):
                continue
            yield slot
        day += timedelta(days=1)


def open_slots(
    session: Session,
    *,
    practice_id: str,
    zones: dict[str, ZoneInfo],
    first_day: date,
    last_day: date,
    now: datetime,
    providers: Iterable[str] | None = None,
    locations: Iterable[str] | None = None,
) -> list[Slot]:
    """Open slots for the chosen providers/locations, sorted by start then provider."""
    query = select(Calendar).where(Calendar.practice_id == practice_id)
    if providers is not None:
        query = query.where(Calendar.provider_id.in_(list(providers)))
    if locations is not None:
        query = query.where(Calendar.location_id.in_(list(locations)))
    calendars = [c for c in session.scalars(query) if c.location_id in zones]
    if not calendars:
        return []
    provider_ids = sorted({c.provider_id for c in calendars})
    # Local dates span at most a day either side of UTC.
    window_start = datetime.combine(first_day - timedelta(days=1), datetime.min.time(), UTC)
    window_end = datetime.combine(last_day + timedelta(days=2), datetime.min.time(), UTC)

    blocks: dict[tuple[str, str], list[Interval]] = defaultdict(list)
    for block in session.execute(
        select(
            TimeBlock.provider_id, TimeBlock.location_id, TimeBlock.start_at, TimeBlock.end_at
        ).where(
            TimeBlock.practice_id == practice_id,
            TimeBlock.provider_id.in_(provider_ids),
            TimeBlock.start_at < window_end,
            TimeBlock.end_at > window_start,
        )
    ):
        blocks[(block.provider_id, block.location_id)].append((block.start_at, block.end_at))

    busy: dict[str, list[Interval]] = defaultdict(list)
    for appointment in session.execute(
        select(Appointment.provider_id, Appointment.start_at, Appointment.end_at).where(
            Appointment.practice_id == practice_id,
            Appointment.provider_id.in_(provider_ids),
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start_at < window_end,
            Appointment.end_at > window_start,
        )
    ):
        busy[appointment.provider_id].append((appointment.start_at, appointment.end_at))

    busy_by_provider = {provider: BusyTimes(busy[provider]) for provider in provider_ids}
    slots: list[Slot] = []
    for calendar in calendars:
        slots.extend(
            calendar_slots(
                calendar,
                zones[calendar.location_id],
                first_day,
                last_day,
                now=now,
                blocks=BusyTimes(blocks[(calendar.provider_id, calendar.location_id)]),
                busy=busy_by_provider[calendar.provider_id],
            )
        )
    slots.sort(key=lambda slot: (slot.start, slot.provider_id, slot.location_id))
    return slots
