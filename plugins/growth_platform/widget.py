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
    BoundedDate,
    Engine,
    ErrorBody,
    PracticeSettings,
    SlotUnavailable,
    body_hash,
    get_engine,
    public_rate_limit,
    remember_idempotent,
    replay_idempotent,
    submit_request,
)
from plugins.growth_platform.availability import (
    NotOffered,
    Slot,
    StartProblem,
    find_slot,
    is_blocked,
    open_slots,
)
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
    start: Annotated[BoundedDate, Query(description="first local date")],
    end: Annotated[BoundedDate, Query(description="last local date (inclusive)")],
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


_UNAVAILABLE = "That time is taken; choose another slot."
_NOT_OFFERED = {
    StartProblem.START_IN_PAST: "That time has passed; choose one of the open slots.",
    StartProblem.TOO_SHORT_NOTICE: "That time is too soon to book online; choose a later slot.",
    StartProblem.BEYOND_BOOKING_HORIZON: (
        "That time is further ahead than online booking allows; choose an earlier slot."
    ),
    StartProblem.OUTSIDE_CALENDAR_HOURS: (
        "The provider does not see patients at that time here; choose one of the open slots."
    ),
    StartProblem.OFF_SLOT_GRID: "That is not the start of a slot; choose one of the open slots.",
}


def _refuse_taken(
    engine: Engine, practice: str, route: str, key: str | None, digest: str
) -> JSONResponse:
    """Answer a taken slot: with a key, the first answer if a concurrent retry of this very
    request took it; otherwise 409 ``slot_unavailable``."""
    if key is not None:
        with engine.db.read() as session:
            earlier = replay_idempotent(
                session, practice_id=practice, route=route, key=key, digest=digest
            )
        if earlier is not None:
            return earlier
    raise ApiError(
        409, "slot_unavailable", _UNAVAILABLE, fields={"start": "taken; choose another slot"}
    )


@router.post(
    "/requests",
    response_model=BookingAccepted,
    status_code=201,
    responses={
        409: {
            "model": ErrorBody,
            "description": "`slot_unavailable`: the slot is taken (see the description)",
        },
        422: {
            "model": ErrorBody,
            "description": ", ".join(
                f"`{code}`" for code in [*_NOT_OFFERED, "invalid_request", "idempotency_key_reused"]
            )
            + " (see the description)",
        },
    },
)
def create_request(
    practice: str,
    body: BookingBody,
    request: Request,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> BookingAccepted | JSONResponse:
    """Request an appointment in an open slot; it waits for the practice to confirm.

    With an `Idempotency-Key` a retry returns the first answer and books nothing new.

    Errors, each `{"error": {"code": …, "message": …, "fields": {…}}}`; clients branch on
    the code:

    - `409 slot_unavailable`: the slot is taken — by an appointment of the provider at any
      location and of any origin, or by a time block — whether that is found before booking
      or while booking (another patient was faster), and whatever else the request has
      wrong. Choose another slot.
    - `422`, the start is not a slot anyone can book; `fields.start` says what to change.
      Checked in this order:
      - `start_in_past`: the start has passed;
      - `too_short_notice`: it is within the calendar's minimum notice;
      - `beyond_booking_horizon`: it is further ahead than the calendar takes bookings;
      - `outside_calendar_hours`: the calendar is off that day, or the time is outside its
        hours that day (breaks included);
      - `off_slot_grid`: within the hours, but not the start of one of its slots.

      Other fields' problems, if any, are in `fields` too.
    - `422 invalid_request`: any other problem, each under its field's name in `fields` — a
      start without a UTC offset, or a provider who takes no online bookings at the location,
      among them.
    - `422 idempotency_key_reused`: the `Idempotency-Key` was used with another body.
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
    found: Slot | NotOffered | None = None
    if isinstance(allowed, tuple):
        providers, locations = allowed
        if body.provider not in providers or body.location not in locations:
            errors["provider"] = "does not offer this reason at this location"
        else:
            with engine.db.read() as session:
                found = find_slot(
                    session,
                    practice_id=practice,
                    provider_id=body.provider,
                    location_id=body.location,
                    zone=zone,
                    start=body.start,
                    now=now,
                )
            if found is None:
                errors["location"] = "this provider takes no online bookings here"
    if isinstance(found, NotOffered):
        if found.problem is StartProblem.TAKEN:
            return _refuse_taken(engine, practice, route, key, digest)
        errors["start"] = found.hint
    try:
        form = to_form(body, settings, growth, today, errors)
    except ApiError as invalid:
        if isinstance(found, NotOffered):  # the start's problem names the answer
            raise ApiError(
                422, found.problem.value, _NOT_OFFERED[found.problem], fields=invalid.fields
            ) from None
        raise
    assert isinstance(found, Slot)
    slot = found
    try:
        with engine.db.transaction() as session:
            if key is not None:
                earlier = replay_idempotent(
                    session, practice_id=practice, route=route, key=key, digest=digest
                )
                if earlier is not None:
                    return earlier
            # A block added since the slot was found (bookings are checked in submit_request).
            if is_blocked(
                session,
                practice_id=practice,
                provider_id=slot.provider_id,
                location_id=slot.location_id,
                start=slot.start,
                end=slot.end,
            ):
                raise SlotUnavailable(slot.provider_id)
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
        # Taken while booking; a concurrent retry with the same key may be who took it.
        return _refuse_taken(engine, practice, route, key, digest)
    log.info(
        "booking request accepted",
        extra={"request_id": submitted.request_id, "practice_id": practice},
    )
    return accepted
