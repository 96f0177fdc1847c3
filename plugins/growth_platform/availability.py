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
from datetime import UTC, date, datetime, timedelta, timezone
from operator import attrgetter
from typing import Any, NamedTuple, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from integration_core.records import ACTIVE_STATUSES, Appointment
from plugins.growth_platform.config import WEEKDAYS, clock_minutes
from plugins.growth_platform.tables import Calendar, TimeBlock

__all__ = ["CalendarData", "Slot", "Taken", "calendar_slots", "open_slots", "wall_clock_slots"]

Interval = tuple[datetime, datetime]
_EPOCH = date(1970, 1, 1).toordinal()
_FIXED_ZONES: dict[int, timezone] = {}


def _fixed(offset_seconds: int) -> timezone:
    zone = _FIXED_ZONES.get(offset_seconds)
    if zone is None:
        zone = _FIXED_ZONES.setdefault(offset_seconds, timezone(timedelta(seconds=offset_seconds)))
    return zone


class Slot(NamedTuple):
    """One open slot (a named tuple: hundreds are made per request, and cheaply)."""

    provider_id: str
    location_id: str
    start: datetime
    """Aware, in the location's UTC offset at that instant (compares equal to the UTC time)."""
    end: datetime
    at: int
    """``start`` in POSIX seconds, for cheap ordering."""


class Taken:
    """Merged, sorted busy intervals in POSIX seconds (a calendar's blocks + its provider's
    appointments at every location)."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted((int(a.timestamp()), int(b.timestamp())) for a, b in intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def free_runs(self, starts: range, length: int, earliest: int, latest: int) -> Iterator[range]:
        """The parts of ``starts`` whose slots of ``length`` seconds touch nothing taken and
        begin within [earliest, latest] — found by index arithmetic, not slot by slot."""
        first, step = starts.start, starts.step
        i = max(0, -((first - earliest) // step))  # ceil((earliest - first) / step)
        stop = min(len(starts), (latest - first) // step + 1)
        k = bisect_right(self.ends, first + i * step)
        while i < stop and k < len(self.starts):
            allowed_until = min(stop, (self.starts[k] - length - first) // step + 1)
            if allowed_until > i:
                yield starts[i:allowed_until]
            i = max(i, -((first - self.ends[k]) // step))  # first start at or after the end
            k += 1
        if i < stop:
            yield starts[i:stop]


class CalendarData(Protocol):
    """What slot computation reads of a calendar: an ORM row or a plain result row."""

    provider_id: str
    location_id: str
    slot_minutes: int
    day_start: str
    day_end: str
    min_notice_minutes: int
    horizon_days: int
    days: dict[str, Any]


class _Plan:
    """A calendar's weekly pattern as minutes after midnight, parsed once per request."""

    def __init__(self, calendar: CalendarData) -> None:
        day_start, day_end = clock_minutes(calendar.day_start), clock_minutes(calendar.day_end)
        self.step = calendar.slot_minutes
        self.by_weekday: list[list[tuple[int, int]]] = []
        for name in WEEKDAYS:
            plan = calendar.days.get(name) or {}
            ranges = plan.get("ranges") or [[calendar.day_start, calendar.day_end]]
            self.by_weekday.append(
                sorted(
                    (max(clock_minutes(a), day_start), min(clock_minutes(b), day_end))
                    for a, b in ranges
                )
                if plan.get("enabled", False)
                else []
            )


def _offset_of(moment: datetime) -> timezone:
    shift = moment.utcoffset()
    return _fixed(int(shift.total_seconds()) if shift else 0)


def _day_runs(plan: _Plan, zone: ZoneInfo, day: date) -> Iterator[tuple[range, timezone, timezone]]:
    """Runs of slot starts (POSIX seconds) laid out on ``day``, with the wall clock's offset
    at their starts and at their ends."""
    ranges = plan.by_weekday[day.weekday()]
    if not ranges:
        return
    step = plan.step * 60
    midnight = datetime(day.year, day.month, day.day)
    offset = zone.utcoffset(midnight)
    if offset == zone.utcoffset(midnight + timedelta(hours=23, minutes=59)):
        # No clock change today: each range is one arithmetic run.
        shift = int(offset.total_seconds()) if offset else 0
        base = (day.toordinal() - _EPOCH) * 86400 - shift
        fixed = _fixed(shift)
        for first, last in ranges:
            yield range(base + first * 60, base + last * 60 - step + 1, step), fixed, fixed
        return
    for first, last in ranges:
        for minute in range(first, last - plan.step + 1, plan.step):
            wall = midnight + timedelta(minutes=minute)
            local = wall.replace(tzinfo=zone)  # fold=0: the first occurrence of a repeated time
            if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
                continue  # skipped by the clocks going forward
            start = int(local.timestamp())
            end = datetime.fromtimestamp(start + step, UTC).astimezone(zone)
            yield range(start, start + 1), _offset_of(local), _offset_of(end)


def wall_clock_slots(calendar: CalendarData, zone: ZoneInfo, day: date) -> Iterator[Slot]:
    """Every slot the calendar lays out on ``day``, taken or not."""
    plan = _Plan(calendar)
    length = plan.step * 60
    for run, start_tz, end_tz in _day_runs(plan, zone, day):
        for start in run:
            yield Slot(
                calendar.provider_id,
                calendar.location_id,
                datetime.fromtimestamp(start, start_tz),
                datetime.fromtimestamp(start + length, end_tz),
                start,
            )


def calendar_slots(
    calendar: CalendarData,
    zone: ZoneInfo,
    first_day: date,
    last_day: date,
    *,
    now: datetime,
    taken: Taken,
) -> list[Slot]:
    """The open slots of one calendar on the local dates ``first_day``..``last_day``."""
    plan = _Plan(calendar)
    length = plan.step * 60
    now_s = int(now.timestamp())
    earliest = now_s + calendar.min_notice_minutes * 60
    latest = now_s + calendar.horizon_days * 86400
    provider, location = calendar.provider_id, calendar.location_id
    fromtimestamp = datetime.fromtimestamp
    slots: list[Slot] = []
    day = first_day
    while day <= last_day:
        for run, start_tz, end_tz in _day_runs(plan, zone, day):
            for free in taken.free_runs(run, length, earliest, latest):
                slots.extend(
                    Slot(
                        provider,
                        location,
                        fromtimestamp(start, start_tz),
                        fromtimestamp(start + length, end_tz),
                        start,
                    )
                    for start in free
                )
        day += timedelta(days=1)
    return slots


_CALENDARS = select(*Calendar.__table__.c).where(
    Calendar.practice_id == bindparam("practice"),
    Calendar.provider_id.in_(bindparam("providers", expanding=True)),
    Calendar.location_id.in_(bindparam("locations", expanding=True)),
)
_BLOCKS = select(
    TimeBlock.provider_id, TimeBlock.location_id, TimeBlock.start_at, TimeBlock.end_at
).where(
    TimeBlock.practice_id == bindparam("practice"),
    TimeBlock.provider_id.in_(bindparam("providers", expanding=True)),
    TimeBlock.start_at < bindparam("window_end"),
    TimeBlock.end_at > bindparam("window_start"),
)
_BUSY = select(Appointment.provider_id, Appointment.start_at, Appointment.end_at).where(
    Appointment.practice_id == bindparam("practice"),
    Appointment.provider_id.in_(bindparam("providers", expanding=True)),
    Appointment.status.in_(ACTIVE_STATUSES),
    Appointment.start_at < bindparam("window_end"),
    Appointment.end_at > bindparam("window_start"),
)


def open_slots(
    session: Session,
    *,
    practice_id: str,
    zones: dict[str, ZoneInfo],
    first_day: date,
    last_day: date,
    now: datetime,
    providers: Iterable[str],
    locations: Iterable[str],
) -> list[Slot]:
    """Open slots for the chosen providers at the chosen locations, by start then provider.

    Three statements, built once at import: calendars, time blocks, appointments.
    """
    connection = session.connection()  # plain rows: no identity map needed for a read
    chosen = {"practice": practice_id, "providers": list(providers)}
    calendars = [
        cast(CalendarData, c)
        for c in connection.execute(_CALENDARS, {**chosen, "locations": list(locations)})
        if c.location_id in zones
    ]
    if not calendars:
        return []
    # Local dates span at most a day either side of UTC.
    window = {
        "window_start": datetime.combine(first_day - timedelta(days=1), datetime.min.time(), UTC),
        "window_end": datetime.combine(last_day + timedelta(days=2), datetime.min.time(), UTC),
    }
    chosen["providers"] = sorted({c.provider_id for c in calendars})
    blocks: dict[tuple[str, str], list[Interval]] = defaultdict(list)
    for block in connection.execute(_BLOCKS, {**chosen, **window}):
        blocks[(block.provider_id, block.location_id)].append((block.start_at, block.end_at))
    busy: dict[str, list[Interval]] = defaultdict(list)
    for appointment in connection.execute(_BUSY, {**chosen, **window}):
        busy[appointment.provider_id].append((appointment.start_at, appointment.end_at))

    slots: list[Slot] = []
    calendars.sort(key=lambda c: (c.provider_id, c.location_id))
    for calendar in calendars:
        taken = Taken(
            busy[calendar.provider_id] + blocks[(calendar.provider_id, calendar.location_id)]
        )
        slots.extend(
            calendar_slots(
                calendar, zones[calendar.location_id], first_day, last_day, now=now, taken=taken
            )
        )
    slots.sort(key=attrgetter("at"))  # stable: ties keep provider, location order
    return slots
