"""The public booking-widget API: options, open slots, booking requests.

Practice websites call these routes from the browser (per-practice CORS origins) and they are
rate limited per client and per practice. Nothing a patient submits is echoed back or logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy.exc import IntegrityError

from integration_core.api import (
    ApiError,
    Engine,
    PracticeSettings,
    SlotUnavailable,
    body_hash,
    get_engine,
    public_rate_limit,
    remember_idempotent,
    replay_idempotent,
    submit_request,
)
from plugins.growth_platform.availability import Slot, open_slots
from plugins.growth_platform.config import PracticeGrowthSettings
from plugins.growth_platform.forms import BookingBody, to_form
from plugins.growth_platform.state import growth_settings

__all__ = ["router"]

log = logging.getLogger(__name__)
MAX_RANGE_DAYS = 31
DATE_REACH_DAYS = 366
"""How far from today (UTC) the slots list may be asked about: a year, further than any
calendar's horizon (at most 365 days) reaches."""
router = APIRouter(
    prefix="/v1/practices/{practice}/widget",
    tags=["booking widget"],
    dependencies=[Depends(public_rate_limit)],
)


class NamedItem(BaseModel):
    id: str
    name: str


class ReasonOption(NamedItem):
    providers: list[str]
    locations: list[str]
    virtual_allowed: bool


class LocationOption(NamedItem):
    time_zone: str
    address: str


class ProviderOption(NamedItem):
    locations: list[str]
    telehealth: bool


class WidgetOptions(BaseModel):
    practice: NamedItem
    separates_new_and_returning: bool
    new_patient_default: bool
    reasons: list[ReasonOption]
    locations: list[LocationOption]
    providers: list[ProviderOption]


class SlotOut(BaseModel):
    provider: str
    location: str
    start: datetime
    end: datetime
    time_zone: str


class SlotList(BaseModel):
    slots: list[SlotOut]


class BookingAccepted(BaseModel):
    request_id: str
    appointment_id: str
    status: str
    provider: str
    location: str
    reason: str
    start: datetime
    end: datetime
    time_zone: str
    virtual: bool


def _practice(engine: Engine, slug: str) -> tuple[PracticeSettings, PracticeGrowthSettings]:
    practice = engine.settings.practices.get(slug)
    if practice is None:
        raise ApiError(404, "practice_not_found", "No such practice.")
    return practice, growth_settings(engine).practices.get(slug, PracticeGrowthSettings())


@router.get("/options", response_model=WidgetOptions)
def options(practice: str, request: Request) -> WidgetOptions:
    """What the widget offers: reasons for visit, locations, providers, new/returning."""
    settings, growth = _practice(get_engine(request), practice)
    return WidgetOptions(
        practice=NamedItem(id=practice, name=settings.name),
        separates_new_and_returning=growth.separate_new_returning,
        new_patient_default=True,
        reasons=[
            ReasonOption(
                id=slug,
                name=reason.name,
                providers=reason.providers,
                locations=reason.locations,
                virtual_allowed=reason.virtual,
            )
            for slug, reason in growth.reasons.items()
        ],
        locations=[
            LocationOption(id=slug, name=loc.name, time_zone=loc.time_zone, address=loc.address)
            for slug, loc in settings.locations.items()
        ],
        providers=[
            ProviderOption(id=slug, name=p.name, locations=p.locations, telehealth=p.telehealth)
            for slug, p in settings.providers.items()
        ],
    )


def _candidates(
    settings: PracticeSettings,
    growth: PracticeGrowthSettings,
    *,
    reason: str | None,
    location: str | None,
    provider: str | None,
    virtual: bool,
) -> tuple[set[str], set[str]] | dict[str, str]:
    """The providers and locations a filter allows, or field errors."""
    errors: dict[str, str] = {}
    providers = set(settings.providers)
    locations = set(settings.locations)
    if reason is not None:
        chosen = growth.reasons.get(reason)
        if chosen is None:
            errors["reason"] = "not a reason for visit this practice offers"
        else:
            providers &= set(chosen.providers)
            locations &= set(chosen.locations)
            if virtual and not chosen.virtual:
                errors["virtual"] = "this reason cannot be booked as a virtual visit"
    if location is not None:
        if location not in settings.locations:
            errors["location"] = "not a location of this practice"
        locations &= {location}
    if provider is not None:
        if provider not in settings.providers:
            errors["provider"] = "not a provider of this practice"
        providers &= {provider}
    if (
        provider in settings.providers
        and location in settings.locations
        and location not in settings.providers[provider].locations
    ):
        errors["location"] = "this provider does not see patients here"
    if virtual:
        providers = {p for p in providers if settings.providers[p].telehealth}
    if errors:
        return errors
    return providers, locations


def _slots(
    engine: Engine,
    practice: str,
    settings: PracticeSettings,
    providers: set[str],
    locations: set[str],
    first_day: date,
    last_day: date,
) -> list[Slot]:
    zones = {slug: settings.locations[slug].zone for slug in locations}
    with engine.db.read() as session:
        return open_slots(
            session,
            practice_id=practice,
            zones=zones,
            first_day=first_day,
            last_day=last_day,
            now=engine.clock.now(),
            providers=sorted(providers),
            locations=sorted(locations),
        )


@router.get("/slots", response_model=SlotList)
def slots(
    practice: str,
    request: Request,
    start: Annotated[date, Query(description="first local date")],
    end: Annotated[date, Query(description="last local date (inclusive)")],
    reason: str | None = None,
    location: str | None = None,
    provider: str | None = None,
    virtual: bool = False,
) -> Response:
    """Open slots between two local dates — at most 31 days apart, within a year of today —
    filtered like the widget filters."""
    engine = get_engine(request)
    settings, growth = _practice(engine, practice)
    today = engine.clock.now().astimezone(UTC).date()
    out_of_reach = {
        name: f"must be within {DATE_REACH_DAYS} days of today"
        for name, value in (("start", start), ("end", end))
        if abs(value.toordinal() - today.toordinal()) > DATE_REACH_DAYS
    }
    if out_of_reach:
        raise ApiError(422, "invalid_request", "Some fields are not valid.", fields=out_of_reach)
    if end < start:
        raise ApiError(
            422,
            "invalid_request",
            "Some fields are not valid.",
            fields={"end": "must not be before start"},
        )
    if (end - start).days >= MAX_RANGE_DAYS:
        raise ApiError(
            422,
            "invalid_request",
            "Some fields are not valid.",
            fields={"end": f"at most {MAX_RANGE_DAYS} days after start"},
        )
    allowed = _candidates(
        settings, growth, reason=reason, location=location, provider=provider, virtual=virtual
    )
    if isinstance(allowed, dict):
        raise ApiError(422, "invalid_request", "Some fields are not valid.", fields=allowed)
    providers, locations = allowed
    found = _slots(engine, practice, settings, providers, locations, start, end)
    zone_names = {slug: settings.locations[slug].time_zone for slug in locations}
    # Serialised straight from plain values in pydantic-core: the values are computed here,
    # and SlotList (the documented response model) is what they are — a test holds us to it.
    body = {
        "slots": [
            {
                "provider": slot.provider_id,
                "location": slot.location_id,
                "start": slot.start,
                "end": slot.end,
                "time_zone": zone_names[slot.location_id],
            }
            for slot in found
        ]
    }
    return Response(to_json(body), media_type="application/json")


@router.post(
    "/requests",
    response_model=BookingAccepted,
    status_code=201,
    responses={409: {"description": "slot_unavailable"}},
)
def create_request(
    practice: str,
    body: BookingBody,
    request: Request,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> BookingAccepted | JSONResponse:
    """Request an appointment in an open slot; it waits for the practice to confirm.

    With an ``Idempotency-Key`` a retry returns the first answer and books nothing new.
    """
    engine = get_engine(request)
    digest = body_hash(body.model_dump_json().encode())
    settings, growth = _practice(engine, practice)
    route = "widget.requests"
    if key is not None:
        with engine.db.read() as session:
            earlier = replay_idempotent(
                session, practice_id=practice, route=route, key=key, digest=digest
            )
        if earlier is not None:
            return earlier

    now = engine.clock.now()
    allowed = _candidates(
        settings,
        growth,
        reason=body.reason,
        location=body.location,
        provider=body.provider,
        virtual=body.virtual,
    )
    errors = allowed if isinstance(allowed, dict) else {}
    zone_location = (
        body.location if body.location in settings.locations else next(iter(settings.locations))
    )
    zone = settings.locations[zone_location].zone
    today = now.astimezone(zone).date()
    slot: Slot | None = None
    if isinstance(allowed, tuple):
        providers, locations = allowed
        if body.provider not in providers or body.location not in locations:
            errors["provider"] = "does not offer this reason at this location"
        else:
            day = body.start.astimezone(zone).date()
            start = body.start.astimezone(UTC)
            offered = _slots(engine, practice, settings, {body.provider}, {body.location}, day, day)
            slot = next((s for s in offered if s.start == start), None)
            if slot is None:
                errors["start"] = "this time is not available; choose another slot"
    form = to_form(body, settings, growth, today, errors)
    assert slot is not None
    try:
        with engine.db.transaction() as session:
            if key is not None:
                earlier = replay_idempotent(
                    session, practice_id=practice, route=route, key=key, digest=digest
                )
                if earlier is not None:
                    return earlier
            submitted = submit_request(
                session,
                engine.outbox,
                practice_id=practice,
                provider_id=slot.provider_id,
                location_id=slot.location_id,
                reason_id=body.reason,
                reason_name=growth.reasons[body.reason].name,
                start=slot.start,
                end=slot.end,
                virtual=body.virtual,
                form=form,
                now=now,
            )
            accepted = BookingAccepted(
                request_id=submitted.request_id,
                appointment_id=submitted.appointment_id,
                status="requested",
                provider=slot.provider_id,
                location=slot.location_id,
                reason=body.reason,
                start=slot.start,
                end=slot.end,
                time_zone=zone.key,
                virtual=body.virtual,
            )
            if key is not None:
                remember_idempotent(
                    session,
                    practice_id=practice,
                    route=route,
                    key=key,
                    digest=digest,
                    status_code=201,
                    response=accepted.model_dump(mode="json"),
                    now=now,
                )
    except (SlotUnavailable, IntegrityError):
        # A concurrent retry with the same key may have won: give its answer if so.
        if key is not None:
            with engine.db.read() as session:
                earlier = replay_idempotent(
                    session, practice_id=practice, route=route, key=key, digest=digest
                )
            if earlier is not None:
                return earlier
        raise ApiError(
            409, "slot_unavailable", "That time was just taken; choose another slot."
        ) from None
    log.info(
        "booking request accepted",
        extra={"request_id": submitted.request_id, "practice_id": practice},
    )
    return accepted
