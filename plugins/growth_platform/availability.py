"""Open slots: calendar ranges less time blocks, busy time and notice, sliced into slots.

Everything here is computed from two statements per request — the calendars, then the time
blocks and appointments together — whatever the number of providers, days or slots. No
answer is cached (it could show a slot that was just taken); only what follows from a
calendar's pattern alone — its parsed plan and a day's grid of slot times — is kept, keyed by
the pattern's content. Taken time is subtracted by index arithmetic over runs of equally
spaced starts, not slot by slot.

Time zones: slots are laid out on the location's wall clock. A wall-clock time that does not
exist (the spring-forward gap) yields no slot; on the repeated hour (fall back) each
wall-clock slot is offered once, at its first occurrence. A slot lasts ``slot_minutes`` of
real time from its start.

Only local dates a bookable start can fall on — from the day before now to the day after the
horizon — are ever laid out, so any date (year 1, year 9999) is safe to ask about and costs
nothing. When a requested start is not offered, :func:`why_not_offered` says why, from the same
rules and the same grid that compute the slots.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from itertools import repeat
from operator import attrgetter
from typing import Any, NamedTuple, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Text, bindparam, null, select, union_all
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CompoundSelect

from integration_core.api import busy_time_query, epoch_seconds
from plugins.growth_platform.config import WEEKDAYS, clock_minutes
from plugins.growth_platform.tables import Calendar, TimeBlock

__all__ = [
    "CalendarData",
    "NotOffered",
    "Slot",
    "StartProblem",
    "Taken",
    "bookable_window",
    "calendar_slots",
    "find_slot",
    "is_blocked",
    "open_slots",
    "wall_clock_slots",
    "why_not_offered",
]

Interval = tuple[int, int]
"""[start, end) in POSIX seconds."""
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
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def free_spans(
        self, starts: range, length: int, earliest: int, latest: int
    ) -> Iterator[tuple[int, int]]:
        """Index spans [i, j) of ``starts`` whose slots of ``length`` seconds touch nothing
        taken and begin within [earliest, latest] — by index arithmetic, not slot by slot."""
        first, step = starts.start, starts.step
        i = max(0, -((first - earliest) // step))  # ceil((earliest - first) / step)
        stop = min(len(starts), (latest - first) // step + 1)
        k = bisect_right(self.ends, first + i * step)
        while i < stop and k < len(self.starts):
            allowed_until = min(stop, (self.starts[k] - length - first) // step + 1)
            if allowed_until > i:
                yield i, allowed_until
            i = max(i, -((first - self.ends[k]) // step))  # first start at or after the end
            k += 1
        if i < stop:
            yield i, stop


class CalendarData(Protocol):
    """What slot computation reads of a calendar: an ORM row or a plain result row."""

    @property
    def provider_id(self) -> str: ...
    @property
    def location_id(self) -> str: ...
    @property
    def slot_minutes(self) -> int: ...
    @property
    def day_start(self) -> str: ...
    @property
    def day_end(self) -> str: ...
    @property
    def min_notice_minutes(self) -> int: ...
    @property
    def horizon_days(self) -> int: ...
    @property
    def days_json(self) -> str: ...


class _Plan:
    """A calendar's weekly pattern as minutes after midnight."""

    def __init__(self, slot_minutes: int, day_start: str, day_end: str, days_json: str) -> None:
        self.key = (slot_minutes, day_start, day_end, days_json)
        self.step = slot_minutes
        first, last = clock_minutes(day_start), clock_minutes(day_end)
        days = json.loads(days_json)
        self.by_weekday: list[list[tuple[int, int]]] = []
        for name in WEEKDAYS:
            plan = days.get(name) or {}
            ranges = plan.get("ranges") or [[day_start, day_end]]
            self.by_weekday.append(
                sorted(
                    (max(clock_minutes(a), first), min(clock_minutes(b), last)) for a, b in ranges
                )
                if plan.get("enabled", False)
                else []
            )


@lru_cache(maxsize=1024)
def _plan(slot_minutes: int, day_start: str, day_end: str, days_json: str) -> _Plan:
    return _Plan(slot_minutes, day_start, day_end, days_json)


def plan_of(calendar: CalendarData) -> _Plan:
    return _plan(calendar.slot_minutes, calendar.day_start, calendar.day_end, calendar.days_json)


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


class _Run(NamedTuple):
    starts: range
    start_times: list[datetime]
    end_times: list[datetime]


_GRID_LIMIT = 20_000
_grids: dict[tuple[Any, ...], list[_Run]] = {}
_grids_lock = threading.Lock()


def _day_grid(plan: _Plan, zone: ZoneInfo, day: date) -> list[_Run]:
    """The slots ``plan`` lays out on ``day``, with their start and end datetimes.

    The grid follows from the calendar's pattern alone — never from appointments, blocks or
    the clock — so it is kept between requests, keyed by the pattern's content (an edited
    calendar has a new key). Taken time is always subtracted afresh.
    """
    key = (plan.key, zone.key, day)
    grid = _grids.get(key)
    if grid is None:
        length = plan.step * 60
        fromtimestamp = datetime.fromtimestamp
        grid = [
            _Run(
                run,
                [fromtimestamp(start, start_tz) for start in run],
                [fromtimestamp(start + length, end_tz) for start in run],
            )
            for run, start_tz, end_tz in _day_runs(plan, zone, day)
        ]
        with _grids_lock:
            if len(_grids) >= _GRID_LIMIT:
                _grids.clear()
            _grids[key] = grid
    return grid


def wall_clock_slots(calendar: CalendarData, zone: ZoneInfo, day: date) -> Iterator[Slot]:
    """Every slot the calendar lays out on ``day``, taken or not."""
    for run in _day_grid(plan_of(calendar), zone, day):
        for start, start_time, end_time in zip(
            run.starts, run.start_times, run.end_times, strict=True
        ):
            yield Slot(calendar.provider_id, calendar.location_id, start_time, end_time, start)


def bookable_window(calendar: CalendarData, now: datetime) -> tuple[int, int]:
    """The first and last slot start ``calendar`` takes at ``now`` (POSIX seconds, inclusive):
    after its minimum notice, within its horizon."""
    now_s = int(now.timestamp())
    return now_s + calendar.min_notice_minutes * 60, now_s + calendar.horizon_days * 86400


def _reachable_days(first_day: date, last_day: date, earliest: int, latest: int) -> Iterator[date]:
    """The local dates of ``first_day``..``last_day`` on which a start in [earliest, latest]
    can fall, whatever the zone (UTC offsets are under a day): nothing is laid out, and no
    date arithmetic done, outside them."""
    first = max(first_day.toordinal(), _EPOCH + earliest // 86400 - 1)
    last = min(last_day.toordinal(), _EPOCH + latest // 86400 + 1)
    return map(date.fromordinal, range(first, last + 1))


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
    plan = plan_of(calendar)
    length = plan.step * 60
    earliest, latest = bookable_window(calendar, now)
    provider, location = calendar.provider_id, calendar.location_id
    slots: list[Slot] = []
    for day in _reachable_days(first_day, last_day, earliest, latest):
        for run in _day_grid(plan, zone, day):
            for i, j in taken.free_spans(run.starts, length, earliest, latest):
                slots.extend(
                    map(
                        Slot,
                        repeat(provider, j - i),
                        repeat(location, j - i),
                        run.start_times[i:j],
                        run.end_times[i:j],
                        run.starts[i:j],
                    )
                )
    return slots


class StartProblem(StrEnum):
    """Why a requested start is not an open slot, in the order :func:`why_not_offered` checks
    them: whether the calendar takes bookings that far ahead at all, then the shape of its
    days, then whether the slot is free. The values are the widget's stable error codes."""

    START_IN_PAST = "start_in_past"
    TOO_SHORT_NOTICE = "too_short_notice"
    BEYOND_BOOKING_HORIZON = "beyond_booking_horizon"
    OUTSIDE_CALENDAR_HOURS = "outside_calendar_hours"
    """On a day the calendar is off, or at a time of day outside its ranges (breaks too)."""
    OFF_SLOT_GRID = "off_slot_grid"
    """Within the calendar's hours, but not the start of one of its slots."""
    TAKEN = "slot_unavailable"
    """A slot of the calendar, taken by an appointment of the provider (at any location, of
    any origin) or by a time block."""


class NotOffered(NamedTuple):
    problem: StartProblem
    hint: str
    """What is wrong with the start and what would do, for the patient; never the value sent."""


def _posix(moment: datetime) -> tuple[int, bool]:
    """An aware datetime as whole POSIX seconds (floored), and whether it had no fraction —
    exact, and safe for any year: aware subtraction never leaves the calendar."""
    since = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return since.days * 86400 + since.seconds, since.microseconds == 0


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def why_not_offered(
    calendar: CalendarData, zone: ZoneInfo, start: datetime, *, now: datetime
) -> NotOffered:
    """Why ``start`` (aware) is not among ``calendar``'s open slots at ``now``.

    Ask only about a start that is not offered: this checks the calendar's rules, in the
    order a patient can act on — past, notice, horizon, the calendar's days and hours, its slot
    grid — and a start that passes every rule is a slot that is taken
    (:attr:`StartProblem.TAKEN`). No database access; safe for any datetime.
    """
    at, whole_second = _posix(start)
    earliest, latest = bookable_window(calendar, now)
    if at < int(now.timestamp()):
        return NotOffered(StartProblem.START_IN_PAST, "this time has passed; choose a later slot")
    if at < earliest:
        return NotOffered(
            StartProblem.TOO_SHORT_NOTICE,
            f"bookings need {calendar.min_notice_minutes} minutes' notice; choose a later slot",
        )
    if at > latest:
        return NotOffered(
            StartProblem.BEYOND_BOOKING_HORIZON,
            f"bookings open at most {calendar.horizon_days} days ahead; choose an earlier slot",
        )
    local = start.astimezone(zone)  # within the horizon: a date near today
    plan = plan_of(calendar)
    ranges = plan.by_weekday[local.weekday()]
    if not ranges:
        return NotOffered(
            StartProblem.OUTSIDE_CALENDAR_HOURS,
            f"no bookings on {_DAY_NAMES[local.weekday()]}s here; choose another day",
        )
    minute = local.hour * 60 + local.minute
    if not any(first <= minute < last for first, last in ranges):
        hours = ", ".join(f"{_clock(first)}–{_clock(last)}" for first, last in ranges)
        return NotOffered(
            StartProblem.OUTSIDE_CALENDAR_HOURS,
            f"outside the hours on {_DAY_NAMES[local.weekday()]}s here ({hours}); "
            "choose a time within them",
        )
    grid = _day_grid(plan, zone, local.date())
    if not whole_second or not any(at in run.starts for run in grid):
        return NotOffered(
            StartProblem.OFF_SLOT_GRID,
            f"not the start of a slot (slots are {plan.step} minutes long); "
            "choose a start the slots list offers",
        )
    return NotOffered(StartProblem.TAKEN, "this time is taken; choose another slot")


_CALENDARS = select(
    Calendar.provider_id,
    Calendar.location_id,
    Calendar.slot_minutes,
    Calendar.day_start,
    Calendar.day_end,
    Calendar.min_notice_minutes,
    Calendar.horizon_days,
    sql_cast(Calendar.days, Text).label("days_json"),  # text: parsed only when not yet known
).where(
    Calendar.practice_id == bindparam("practice"),
    Calendar.provider_id.in_(bindparam("providers", expanding=True)),
    Calendar.location_id.in_(bindparam("locations", expanding=True)),
)
# A calendar's own blocks, and its provider's busy time at every location (no location).
_TAKEN: CompoundSelect[Any] = union_all(
    select(
        TimeBlock.provider_id,
        epoch_seconds(TimeBlock.start_at).label("start"),
        epoch_seconds(TimeBlock.end_at).label("end"),
        TimeBlock.location_id,
    ).where(
        TimeBlock.practice_id == bindparam("practice"),
        TimeBlock.provider_id.in_(bindparam("providers", expanding=True)),
        TimeBlock.start_at < bindparam("window_end"),
        TimeBlock.end_at > bindparam("window_start"),
    ),
    busy_time_query().add_columns(null().label("location_id")),
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

    Two statements, built once at import: the calendars, then what is taken (time blocks
    and the core's busy time together).
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
    # Busy time is read for the local dates some calendar can offer a slot on (a local date
    # spans at most a day either side of UTC).
    reachable = list(
        _reachable_days(
            first_day,
            last_day,
            int(now.timestamp()),
            max(bookable_window(c, now)[1] for c in calendars),
        )
    )
    if not reachable:
        return []
    window = {
        "window_start": datetime.combine(
            reachable[0] - timedelta(days=1), datetime.min.time(), UTC
        ),
        "window_end": datetime.combine(reachable[-1] + timedelta(days=2), datetime.min.time(), UTC),
    }
    chosen["providers"] = sorted({c.provider_id for c in calendars})
    blocks: dict[tuple[str, str], list[Interval]] = defaultdict(list)
    busy: dict[str, list[Interval]] = defaultdict(list)
    for provider_id, start, end, location_id in connection.execute(
        _TAKEN, {**chosen, **window}
    ).all():
        if location_id is None:
            busy[provider_id].append((start, end))
        else:
            blocks[(provider_id, location_id)].append((start, end))

    slots: list[Slot] = []
    calendars.sort(key=lambda c: (c.provider_id, c.location_id))
    for calendar in calendars:
        taken = Taken(
            busy[calendar.provider_id] + blocks[(calendar.provider_id, calendar.location_id)]
        )
        slots.extend(
            calendar_slots(
                calendar,
                zones[calendar.location_id],
                reachable[0],
                reachable[-1],
                now=now,
                taken=taken,
            )
        )
    slots.sort(key=attrgetter("at"))  # stable: ties keep provider, location order
    return slots


def find_slot(
    session: Session,
    *,
    practice_id: str,
    provider_id: str,
    location_id: str,
    zone: ZoneInfo,
    start: datetime,
    now: datetime,
) -> Slot | NotOffered | None:
    """The open slot of the provider's calendar at the location starting at ``start``
    (aware, any offset), why it is not offered, or None when there is no such calendar.

    The slot is looked up the way the slots list computes it (two statements); only a start
    that is not offered reads the calendar again to be diagnosed (:func:`why_not_offered`).
    """
    try:
        day: date | None = start.astimezone(zone).date()
    except OverflowError:  # year 1 or 9999 in another offset: never bookable
        day = None
    if day is not None:
        at, whole_second = _posix(start)
        for slot in open_slots(
            session,
            practice_id=practice_id,
            zones={location_id: zone},
            first_day=day,
            last_day=day,
            now=now,
            providers=[provider_id],
            locations=[location_id],
        ):
            if slot.at == at and whole_second:
                return slot
    row = (
        session.connection()
        .execute(
            _CALENDARS,
            {"practice": practice_id, "providers": [provider_id], "locations": [location_id]},
        )
        .first()
    )
    if row is None:
        return None
    return why_not_offered(cast(CalendarData, row), zone, start, now=now)


def is_blocked(
    session: Session,
    *,
    practice_id: str,
    provider_id: str,
    location_id: str,
    start: datetime,
    end: datetime,
) -> bool:
    """Whether a time block of the calendar overlaps [start, end) — to be asked inside the
    booking's transaction, after the slot was found open."""
    return (
        session.scalar(
            select(TimeBlock.id)
            .where(
                TimeBlock.practice_id == practice_id,
                TimeBlock.provider_id == provider_id,
                TimeBlock.location_id == location_id,
                TimeBlock.start_at < end,
                TimeBlock.end_at > start,
            )
            .limit(1)
        )
        is not None
    )
