"""The staff portal's "All Appointments" list: every appointment of the practice, whatever its
origin — requested through the widget or made by staff in the EHR.

Each shows its time on its location's clock, provider and location, the reason the patient
chose in the widget (an appointment made in the EHR has none here), when the request was
sent and whether the patient said they were new, its status in the product's words
(:mod:`plugins.growth_platform.statuses`), and its patients: a widget request's as the request
gave them; an appointment made in the EHR's as the booking platform keeps them, a group's each
in their own status. Ordered by start time; filtered by status, provider, location and the
local dates of the start. Reading it shows patient details, so every read is audited under
the staff token's name, as Action Required's are.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from integration_core.api import (
    ApiError,
    Appointment,
    AppointmentRequest,
    Attendee,
    BoundedDate,
    EHRAppointmentState,
    Identifier,
    Origin,
    PageCursor,
    PracticeSettings,
    Staff,
    get_engine,
    keyset_after,
    next_cursor,
)
from plugins.growth_platform.cancellations import cancelled_here
from plugins.growth_platform.config import PracticeGrowthSettings
from plugins.growth_platform.portal import Named
from plugins.growth_platform.staff_audit import audit_read
from plugins.growth_platform.state import growth_settings
from plugins.growth_platform.statuses import (
    CORE_STATUSES,
    LABELS,
    Cancellation,
    ShownStatus,
    cancellation,
    shown,
)
from plugins.growth_platform.tables import LocalCancellation, Patient

__all__ = ["router"]

router = APIRouter(prefix="/v1/practices/{practice}", tags=["staff portal"])


class PatientOnAppointment(BaseModel):
    patient_id: str | None = Field(
        description=(
            "The booking platform's patient record of an appointment made in the EHR; null "
            "for a widget request's patient (shown as the request gave them), and for an "
            "attendee not read from the EHR yet"
        )
    )
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None = Field(description="E.164")
    date_of_birth: date | None
    status: ShownStatus = Field(description="this patient's own; a group's attendees each")


class AppointmentItem(BaseModel):
    appointment_id: str
    request_id: str | None = Field(description="the widget request's; null when made in the EHR")
    start: datetime = Field(description="on the location's clock")
    end: datetime
    time_zone: str
    provider: Named
    location: Named
    reason: Named | None = Field(
        description="the reason for visit chosen in the widget; null when made in the EHR"
    )
    requested_at: datetime | None = Field(
        description="when the patient sent the request; null when made in the EHR"
    )
    patient_type: Literal["new", "returning"] | None = Field(
        description="what a widget request said; null when made in the EHR"
    )
    status: ShownStatus
    status_label: str = Field(description="the status in the product's words")
    cancellation: Cancellation | None = Field(
        description=(
            "How a `cancelled` appointment ended: `declined` (the request was declined in the "
            "EHR), `cancelled_in_ehr`, `cancelled_here` (in the booking platform only: the "
            "EHR's appointment is NOT cancelled) or `released` (the slot of a request whose "
            "EHR sync failed); null otherwise"
        )
    )
    patients: list[PatientOnAppointment]
    origin: Literal["widget", "ehr", "other"]
    group: bool
    virtual: bool


class AppointmentPage(BaseModel):
    items: list[AppointmentItem]
    next_cursor: str | None


@router.get("/appointments", response_model=AppointmentPage)
def all_appointments(
    request: Request,
    staff: Staff,
    status: Annotated[ShownStatus | None, Query(description="only this status")] = None,
    provider: Annotated[Identifier | None, Query(description="provider slug")] = None,
    location: Annotated[Identifier | None, Query(description="location slug")] = None,
    start: Annotated[
        BoundedDate | None,
        Query(description="first local date of the appointments' starts (at their location)"),
    ] = None,
    end: Annotated[
        BoundedDate | None,
        Query(description="last local date of the appointments' starts (at their location)"),
    ] = None,
    cursor: PageCursor | None = None,
    limit: int = Query(default=50, ge=1, le=200),
) -> AppointmentPage:
    """Every appointment of the practice, by start time."""
    engine = get_engine(request)
    practice = engine.settings.practice(staff.practice_id)
    errors = {}
    if provider is not None and provider not in practice.providers:
        errors["provider"] = "not a provider of this practice"
    if location is not None and location not in practice.locations:
        errors["location"] = "not a location of this practice"
    if start is not None and end is not None and end < start:
        errors["end"] = "must not be before start"
    if errors:
        raise ApiError(422, "invalid_request", "Some fields are not valid.", fields=errors)

    query = (
        select(Appointment, AppointmentRequest, EHRAppointmentState.is_group, LocalCancellation)
        .outerjoin(AppointmentRequest, AppointmentRequest.id == Appointment.request_id)
        .outerjoin(EHRAppointmentState, EHRAppointmentState.appointment_id == Appointment.id)
        .outerjoin(LocalCancellation, LocalCancellation.appointment_id == Appointment.id)
        .where(Appointment.practice_id == staff.practice_id)
        .order_by(Appointment.start_at, Appointment.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(Appointment.status.in_(CORE_STATUSES[status]))
    if provider is not None:
        query = query.where(Appointment.provider_id == provider)
    if location is not None:
        query = query.where(Appointment.location_id == location)
    if start is not None or end is not None:
        query = query.where(_local_dates(practice, location, start, end))
    if cursor:
        query = query.where(keyset_after(cursor, Appointment.start_at, Appointment.id))
    with engine.db.transaction() as session:
        rows = session.execute(query).all()
        page = rows[:limit]
        attendees = defaultdict(list)
        for attendee, patient in session.execute(
            _attendees([row[0].id for row in page if row[0].origin is not Origin.WIDGET])
        ):
            attendees[attendee.appointment_id].append(_attendee(attendee, patient))
        audit_read(session, engine, staff, "all_appointments", len(page))
    reasons = growth_settings(engine).practices.get(staff.practice_id)
    items = [
        _item(
            practice,
            appointment,
            booked,
            _reason(appointment, reasons),
            bool(group),
            cancelled_here(appointment, local),
            attendees[appointment.id],
        )
        for appointment, booked, group, local in page
    ]
    last = page[-1][0] if page else None
    following = next_cursor(last.start_at, last.id, len(rows) > limit) if last else None
    return AppointmentPage(items=items, next_cursor=following)


def _local_dates(
    practice: PracticeSettings, location: str | None, first: date | None, last: date | None
) -> ColumnElement[bool]:
    """Starts on the local dates ``first``..``last`` (either may be open) at each location's
    own clock."""
    places = [location] if location is not None else list(practice.locations)
    clauses = []
    for slug in places:
        zone = practice.locations[slug].zone
        clause = [Appointment.location_id == slug]
        if first is not None:
            clause.append(Appointment.start_at >= _midnight(first, zone))
        if last is not None:
            clause.append(Appointment.start_at < _midnight(last + timedelta(days=1), zone))
        clauses.append(and_(*clause))
    return or_(false(), *clauses)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def _reason(appointment: Appointment, reasons: PracticeGrowthSettings | None) -> Named | None:
    """The reason chosen in the widget, by the name the patient saw."""
    if appointment.origin is not Origin.WIDGET or appointment.reason_id is None:
        return None
    configured = reasons.reasons.get(appointment.reason_id) if reasons else None
    name = appointment.reason_name or (configured.name if configured else appointment.reason_id)
    return Named(id=appointment.reason_id, name=name)


def _attendees(appointment_ids: list[str]) -> Select[Attendee, Patient]:
    return (
        select(Attendee, Patient)
        .outerjoin(Patient, Patient.id == Attendee.patient_id)
        .where(Attendee.appointment_id.in_(appointment_ids))
        .order_by(Attendee.appointment_id, Attendee.ehr_patient_id)
    )


def _attendee(attendee: Attendee, patient: Patient | None) -> PatientOnAppointment:
    return PatientOnAppointment(
        patient_id=patient.id if patient else None,
        first_name=patient.first_name if patient else None,
        last_name=patient.last_name if patient else None,
        email=patient.email if patient else None,
        phone=patient.mobile_phone if patient else None,
        date_of_birth=patient.date_of_birth if patient else None,
        status=shown(attendee.status),
    )


def _item(
    practice: PracticeSettings,
    appointment: Appointment,
    booked: AppointmentRequest | None,
    reason: Named | None,
    group: bool,
    here: str | None,
    attendees: list[PatientOnAppointment],
) -> AppointmentItem:
    location = practice.locations.get(appointment.location_id)
    provider = practice.providers.get(appointment.provider_id)
    zone = location.zone if location else UTC
    status = shown(appointment.status)
    if booked is not None:
        attendees = [
            PatientOnAppointment(
                patient_id=None,
                first_name=booked.first_name,
                last_name=booked.last_name,
                email=booked.email,
                phone=booked.phone,
                date_of_birth=booked.date_of_birth,
                status=status,
            )
        ]
    return AppointmentItem.model_validate(
        {
            "appointment_id": appointment.id,
            "request_id": appointment.request_id,
            "start": appointment.start_at.astimezone(zone),
            "end": appointment.end_at.astimezone(zone),
            "time_zone": location.time_zone if location else "UTC",
            "provider": Named(id=appointment.provider_id, name=provider.name if provider else ""),
            "location": Named(id=appointment.location_id, name=location.name if location else ""),
            "reason": reason,
            "requested_at": booked.created_at if booked else None,
            "patient_type": ("new" if booked.new_patient else "returning") if booked else None,
            "status": status,
            "status_label": LABELS[status],
            "cancellation": cancellation(appointment.status, here),
            "patients": attendees,
            "origin": appointment.origin.value,
            "group": group,
            "virtual": appointment.virtual,
        }
    )
