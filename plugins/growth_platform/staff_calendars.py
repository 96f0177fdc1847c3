"""Staff API for calendars and time blocks (per-practice bearer tokens, audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.api import (
    ApiError,
    BoundedDate,
    BoundedDatetime,
    Engine,
    Identifier,
    PracticeSettings,
    Staff,
    get_engine,
    new_id,
)
from plugins.growth_platform.availability import wall_clock_slots
from plugins.growth_platform.calendars import CalendarBody, CalendarView, apply, view
from plugins.growth_platform.staff_audit import audit
from plugins.growth_platform.tables import Calendar, TimeBlock

__all__ = ["router"]

router = APIRouter(prefix="/v1/practices/{practice}/calendars", tags=["calendars"])

Provider = Annotated[Identifier, Path(description="provider slug")]
Location = Annotated[Identifier, Path(description="location slug")]


class CalendarList(BaseModel):
    items: list[CalendarView]


class BlockBody(BaseModel):
    start: BoundedDatetime


class BlockOut(BaseModel):
    id: str
    provider: str
    location: str
    start: datetime
    end: datetime
    time_zone: str


class BlockList(BaseModel):
    items: list[BlockOut]


def _settings(engine: Engine, staff: Staff) -> PracticeSettings:
    return engine.settings.practice(staff.practice_id)


def _check_pair(settings: PracticeSettings, provider: str, location: str) -> None:
    if provider not in settings.providers:
        raise ApiError(404, "not_found", "No such provider.")
    if location not in settings.locations:
        raise ApiError(404, "not_found", "No such location.")
    if location not in settings.providers[provider].locations:
        raise ApiError(404, "not_found", "The provider does not see patients at this location.")


def _calendar(session: Session, practice: str, provider: str, location: str) -> Calendar | None:
    return session.scalar(
        select(Calendar).where(
            Calendar.practice_id == practice,
            Calendar.provider_id == provider,
            Calendar.location_id == location,
        )
    )


@router.get("", response_model=CalendarList)
def list_calendars(request: Request, staff: Staff) -> CalendarList:
    engine = get_engine(request)
    settings = _settings(engine, staff)
    with engine.db.read() as session:
        rows = session.scalars(
            select(Calendar)
            .where(Calendar.practice_id == staff.practice_id)
            .order_by(Calendar.provider_id, Calendar.location_id)
        ).all()
    return CalendarList(
        items=[
            view(row, settings.locations[row.location_id].time_zone)
            for row in rows
            if row.location_id in settings.locations
        ]
    )


@router.get("/{provider}/{location}", response_model=CalendarView)
def get_calendar(
    provider: Provider, location: Location, request: Request, staff: Staff
) -> CalendarView:
    engine = get_engine(request)
    settings = _settings(engine, staff)
    _check_pair(settings, provider, location)
    with engine.db.read() as session:
        row = _calendar(session, staff.practice_id, provider, location)
    if row is None:
        raise ApiError(404, "not_found", "This provider has no calendar at this location yet.")
    return view(row, settings.locations[location].time_zone)


@router.put("/{provider}/{location}", response_model=CalendarView)
def put_calendar(
    provider: Provider, location: Location, body: CalendarBody, request: Request, staff: Staff
) -> CalendarView:
    """Create or replace the calendar; the widget shows the change at once."""
    engine = get_engine(request)
    settings = _settings(engine, staff)
    _check_pair(settings, provider, location)
    with engine.db.transaction() as session:
        row = apply(
            session,
            _calendar(session, staff.practice_id, provider, location),
            body,
            practice_id=staff.practice_id,
            provider_id=provider,
            location_id=location,
            actor=staff.token_name,
            now=engine.clock.now(),
        )
        audit(session, engine, staff, "update", "calendar", f"{provider}/{location}")
    return view(row, settings.locations[location].time_zone)


def _block_out(block: TimeBlock, settings: PracticeSettings) -> BlockOut:
    zone = settings.locations[block.location_id].zone
    return BlockOut(
        id=block.id,
        provider=block.provider_id,
        location=block.location_id,
        start=block.start_at.astimezone(zone),
        end=block.end_at.astimezone(zone),
        time_zone=zone.key,
    )


@router.get("/{provider}/{location}/blocks", response_model=BlockList)
def list_blocks(
    provider: Provider,
    location: Location,
    request: Request,
    staff: Staff,
    week: Annotated[BoundedDate, Query(description="first local date of the week shown")],
) -> BlockList:
    engine = get_engine(request)
    settings = _settings(engine, staff)
    _check_pair(settings, provider, location)
    zone = settings.locations[location].zone
    start = datetime.combine(week, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(week + timedelta(days=7), datetime.min.time(), zone).astimezone(UTC)
    with engine.db.read() as session:
        rows = session.scalars(
            select(TimeBlock)
            .where(
                TimeBlock.practice_id == staff.practice_id,
                TimeBlock.provider_id == provider,
                TimeBlock.location_id == location,
                TimeBlock.start_at >= start,
                TimeBlock.start_at < end,
            )
            .order_by(TimeBlock.start_at)
        ).all()
    return BlockList(items=[_block_out(row, settings) for row in rows])


@router.post(
    "/{provider}/{location}/blocks",
    response_model=BlockOut,
    status_code=201,
    responses={200: {"model": BlockOut, "description": "The slot was already blocked: that block"}},
)
def block_slot(
    provider: Provider,
    location: Location,
    body: BlockBody,
    request: Request,
    response: Response,
    staff: Staff,
) -> BlockOut:
    """Block one slot of the calendar (it disappears from the widget); blocking twice is a no-op."""
    engine = get_engine(request)
    settings = _settings(engine, staff)
    _check_pair(settings, provider, location)
    zone = settings.locations[location].zone
    start = body.start.astimezone(UTC)
    with engine.db.transaction() as session:
        calendar = _calendar(session, staff.practice_id, provider, location)
        if calendar is None:
            raise ApiError(404, "not_found", "This provider has no calendar at this location yet.")
        day = body.start.astimezone(zone).date()
        slot = next((s for s in wall_clock_slots(calendar, zone, day) if s.start == start), None)
        if slot is None:
            raise ApiError(
                422,
                "invalid_request",
                "Some fields are not valid.",
                fields={"start": "not the start of a slot of this calendar"},
            )
        existing = session.scalar(
            select(TimeBlock).where(
                TimeBlock.practice_id == staff.practice_id,
                TimeBlock.provider_id == provider,
                TimeBlock.location_id == location,
                TimeBlock.start_at == slot.start,
            )
        )
        if existing is not None:
            response.status_code = 200
            return _block_out(existing, settings)
        block = TimeBlock(
            id=new_id("blk_"),
            practice_id=staff.practice_id,
            provider_id=provider,
            location_id=location,
            start_at=slot.start,
            end_at=slot.end,
            created_at=engine.clock.now(),
            created_by=staff.token_name,
        )
        session.add(block)
        audit(session, engine, staff, "block", "time_block", block.id)
    return _block_out(block, settings)


@router.delete("/{provider}/{location}/blocks/{block_id}", status_code=204)
def unblock_slot(
    provider: Provider,
    location: Location,
    block_id: Annotated[Identifier, Path(description="the time block's id")],
    request: Request,
    staff: Staff,
) -> Response:
    """Make a blocked slot bookable again."""
    engine = get_engine(request)
    with engine.db.transaction() as session:
        block = session.get(TimeBlock, block_id)
        if (
            block is None
            or block.practice_id != staff.practice_id
            or (block.provider_id, block.location_id) != (provider, location)
        ):
            raise ApiError(404, "not_found", "No such time block.")
        session.delete(block)
        audit(session, engine, staff, "unblock", "time_block", block_id)
    return Response(status_code=204)
