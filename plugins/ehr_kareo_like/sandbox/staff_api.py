"""The staff's side of the sandbox EHR (``/staff/appointments``, ``/staff/group-appointments``):
what a practice's front desk does in a real EHR's screens, as an API.

Staff list and open appointments (with what clashes with each), decide on practice-sync's
tentative requests (confirm, decline), move and cancel appointments, check patients in and
out, and book appointments directly, for one patient or a group. Each decision is one change
(:mod:`plugins.ehr_kareo_like.sandbox.appointments`); a refused one changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field, StrictBool
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.api import (
    ApiError,
    BoundedDatetime,
    Identifier,
    MultiLine,
    PageCursor,
    SingleLine,
    keyset_after,
    next_cursor,
)
from plugins.ehr_kareo_like.sandbox import appointments
from plugins.ehr_kareo_like.sandbox.appointment_detail import (
    AppointmentDetail,
    AppointmentPage,
    appointment_detail,
    appointment_summaries,
)
from plugins.ehr_kareo_like.sandbox.conflicts import CONFLICT_RESPONSES
from plugins.ehr_kareo_like.sandbox.idempotency import IdempotencyKey, earlier_resource, remember
from plugins.ehr_kareo_like.sandbox.store import (
    AppointmentStatus,
    AppointmentType,
    SandboxAppointment,
    SandboxStore,
)

__all__ = ["staff_router"]

Minutes = Annotated[int, Field(ge=5, le=480)]
ReasonId = Annotated[int, Field(ge=1, le=2**31 - 1)]
StaffReason = Annotated[str, MultiLine(max_length=500, not_blank=True)]

T = TypeVar("T")


def _each_once(items: list[T]) -> list[T]:
    if len(set(items)) != len(items):
        raise ValueError("each item at most once")
    return items


IntakeForms = Annotated[
    list[Annotated[str, SingleLine(max_length=100, not_blank=True)]],
    Field(max_length=10),
    AfterValidator(_each_once),
]
"""Forms the patient is asked to fill in: the EHR's standard ones (``Patient Registration``,
``Medical History``, ``HIPAA Acknowledgement``, ``Insurance Information``) or the practice's
own, by name."""


class ConfirmIn(BaseModel):
    visit_reason_id: ReasonId
    appointment_type: AppointmentType | None = None
    """Default: the one requested."""
    start: BoundedDatetime | None = None
    """Move the appointment as it is confirmed."""
    duration_minutes: Minutes | None = None
    """Only for a visit reason without a length of its own."""
    intake_forms: IntakeForms = []


class ReasonIn(BaseModel):
    reason: StaffReason | None = None
    """What staff tell the patient."""


class RescheduleIn(BaseModel):
    start: BoundedDatetime
    duration_minutes: Minutes | None = None
    """Default: as long as it was."""


class AttendeeIn(BaseModel):
    patient_id: Identifier | None = None
    """Which patient of a group (a single-patient appointment needs none)."""


class _Booking(BaseModel):
    provider_id: Identifier
    location_id: Identifier
    start: BoundedDatetime
    visit_reason_id: ReasonId
    duration_minutes: Minutes | None = None
    """Only for a visit reason without a length of its own."""
    appointment_type: AppointmentType = "In Person"
    intake_forms: IntakeForms = []
    allow_double_booking: StrictBool = False
    """Book even over a confirmed appointment or a time block."""


class BookingIn(_Booking):
    patient_id: Identifier


class GroupBookingIn(_Booking):
    patient_ids: Annotated[
        list[Identifier], Field(min_length=2, max_length=20), AfterValidator(_each_once)
    ]


def _appointment(session: Session, appointment_id: str) -> SandboxAppointment:
    row = session.get(SandboxAppointment, appointment_id)
    if row is None:
        raise ApiError(404, "not_found", "No such appointment.")
    return row


def staff_router(store: SandboxStore) -> APIRouter:
    """The staff's appointment routes over ``store`` (the app puts them under its prefix and
    API key)."""
    router = APIRouter(prefix="/staff", tags=["staff"])

    def act(
        appointment_id: str, action: Callable[[Session, SandboxAppointment], None]
    ) -> AppointmentDetail:
        with store.transaction() as session:
            row = _appointment(session, appointment_id)
            action(session, row)
            return appointment_detail(session, row)

    def book(
        endpoint: str, key: str | None, body: _Booking, patient_ids: list[str]
    ) -> AppointmentDetail | JSONResponse:
        with store.transaction() as session:
            earlier = earlier_resource(session, endpoint, key, body)
            if earlier is not None:
                detail = appointment_detail(session, _appointment(session, earlier))
                return JSONResponse(detail.model_dump(mode="json"))
            visit = appointments.NewVisit(
                patient_ids=patient_ids,
                provider_id=body.provider_id,
                location_id=body.location_id,
                start=body.start,
                duration_minutes=appointments.visit_length(
                    session, body.visit_reason_id, body.duration_minutes
                ),
                appointment_type=body.appointment_type,
                visit_reason_id=body.visit_reason_id,
                intake_forms=body.intake_forms,
            )
            row = appointments.create(
                session, visit, tentative=False, allow_double_booking=body.allow_double_booking
            )
            remember(session, endpoint, key, body, row.id)
            return appointment_detail(session, row)

    @router.get("/appointments", response_model=AppointmentPage)
    def list_appointments(
        status: Annotated[AppointmentStatus | None, Query()] = None,
        provider_id: Annotated[Identifier | None, Query()] = None,
        location_id: Annotated[Identifier | None, Query()] = None,
        starts_from: Annotated[BoundedDatetime | None, Query(alias="from")] = None,
        starts_before: Annotated[BoundedDatetime | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        after: Annotated[PageCursor | None, Query()] = None,
    ) -> AppointmentPage:
        """Appointments by start (``from`` ≤ start < ``to``), a page at a time."""
        query = (
            select(SandboxAppointment)
            .order_by(SandboxAppointment.start_at, SandboxAppointment.id)
            .limit(limit + 1)
        )
        for column, value in (
            (SandboxAppointment.status, status),
            (SandboxAppointment.provider_id, provider_id),
            (SandboxAppointment.location_id, location_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if starts_from is not None:
            query = query.where(SandboxAppointment.start_at >= starts_from)
        if starts_before is not None:
            query = query.where(SandboxAppointment.start_at < starts_before)
        if after is not None:
            query = query.where(
                keyset_after(after, SandboxAppointment.start_at, SandboxAppointment.id)
            )
        with store.read() as session:
            rows = session.scalars(query).all()
            page = rows[:limit]
            summaries = appointment_summaries(session, page)
        last = page[-1] if page else None
        following = next_cursor(last.start_at, last.id, len(rows) > limit) if last else None
        return AppointmentPage(appointments=summaries, next_cursor=following)

    @router.get("/appointments/{appointment_id}", response_model=AppointmentDetail)
    def show_appointment(appointment_id: Identifier) -> AppointmentDetail:
        with store.read() as session:
            return appointment_detail(session, _appointment(session, appointment_id))

    @router.post(
        "/appointments/{appointment_id}/confirm",
        response_model=AppointmentDetail,
        responses=CONFLICT_RESPONSES,
    )
    def confirm(appointment_id: Identifier, body: ConfirmIn) -> AppointmentDetail:
        return act(
            appointment_id,
            lambda session, row: appointments.confirm(
                session,
                row,
                visit_reason_id=body.visit_reason_id,
                appointment_type=body.appointment_type,
                start=body.start,
                duration_minutes=body.duration_minutes,
                intake_forms=body.intake_forms,
            ),
        )

    @router.post("/appointments/{appointment_id}/decline", response_model=AppointmentDetail)
    def decline(
        appointment_id: Identifier, body: Annotated[ReasonIn | None, Body()] = None
    ) -> AppointmentDetail:
        reason = body.reason if body else None
        return act(
            appointment_id,
            lambda session, row: appointments.decline(session, row, reason=reason),
        )

    @router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentDetail)
    def cancel(
        appointment_id: Identifier, body: Annotated[ReasonIn | None, Body()] = None
    ) -> AppointmentDetail:
        reason = body.reason if body else None
        return act(
            appointment_id,
            lambda session, row: appointments.cancel(session, row, reason=reason),
        )

    @router.post(
        "/appointments/{appointment_id}/reschedule",
        response_model=AppointmentDetail,
        responses=CONFLICT_RESPONSES,
    )
    def reschedule(appointment_id: Identifier, body: RescheduleIn) -> AppointmentDetail:
        return act(
            appointment_id,
            lambda session, row: appointments.reschedule(
                session, row, start=body.start, duration_minutes=body.duration_minutes
            ),
        )

    def attend(
        appointment_id: str, action: appointments.AttendeeAction, body: AttendeeIn | None
    ) -> AppointmentDetail:
        patient_id = body.patient_id if body else None
        return act(
            appointment_id,
            lambda session, row: appointments.attend(session, row, action, patient_id=patient_id),
        )

    @router.post("/appointments/{appointment_id}/check-in", response_model=AppointmentDetail)
    def check_in(
        appointment_id: Identifier, body: Annotated[AttendeeIn | None, Body()] = None
    ) -> AppointmentDetail:
        return attend(appointment_id, "checked_in", body)

    @router.post("/appointments/{appointment_id}/check-out", response_model=AppointmentDetail)
    def check_out(
        appointment_id: Identifier, body: Annotated[AttendeeIn | None, Body()] = None
    ) -> AppointmentDetail:
        return attend(appointment_id, "checked_out", body)

    @router.post("/appointments/{appointment_id}/no-show", response_model=AppointmentDetail)
    def no_show(
        appointment_id: Identifier, body: Annotated[AttendeeIn | None, Body()] = None
    ) -> AppointmentDetail:
        return attend(appointment_id, "no_show", body)

    @router.post(
        "/appointments",
        response_model=AppointmentDetail,
        status_code=201,
        responses=CONFLICT_RESPONSES,
    )
    def book_appointment(
        body: BookingIn, key: IdempotencyKey = None
    ) -> AppointmentDetail | JSONResponse:
        """A confirmed appointment, booked directly (``Idempotency-Key`` honoured)."""
        return book("staff/appointments", key, body, [body.patient_id])

    @router.post(
        "/group-appointments",
        response_model=AppointmentDetail,
        status_code=201,
        responses=CONFLICT_RESPONSES,
    )
    def book_group(
        body: GroupBookingIn, key: IdempotencyKey = None
    ) -> AppointmentDetail | JSONResponse:
        """One confirmed appointment for several patients (``Idempotency-Key`` honoured)."""
        return book("staff/group-appointments", key, body, list(body.patient_ids))

    return router
