"""The staff portal's "Action Required" list: what waits on the practice.

A request waits while its appointment is requested or tentative (shown as a pending request),
or when its EHR sync failed (shown with the reason code so staff know what to fix, and the
dead delivery that retries it once fixed) until it is retried or its slot released. An
appointment in the EHR the core could not mirror waits for its provider or location to be
configured (:mod:`plugins.growth_platform.unmapped_changes`). Both kinds come in one list,
oldest first. Reading it shows patient details, so every read is audited under the staff
token's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from integration_core.api import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    PageCursor,
    PracticeSettings,
    Staff,
    SyncState,
    get_engine,
    keyset_after,
    next_cursor,
)
from plugins.growth_platform.config import PracticeGrowthSettings
from plugins.growth_platform.staff_audit import audit_read
from plugins.growth_platform.state import growth_settings
from plugins.growth_platform.tables import SyncFailure, UnmappedChange
from plugins.growth_platform.unmapped_changes import UnmappedChangeItem, item, still_unmapped

__all__ = ["Named", "router"]

router = APIRouter(prefix="/v1/practices/{practice}/portal", tags=["staff portal"])
WAITING = (AppointmentStatus.REQUESTED, AppointmentStatus.TENTATIVE)


class Named(BaseModel):
    id: str
    name: str


class PatientDetails(BaseModel):
    first_name: str
    last_name: str
    email: str
    phone: str


class ActionRequiredItem(BaseModel):
    kind: Literal["request"] = "request"
    request_id: str
    appointment_id: str
    requested_start: datetime
    time_zone: str
    provider: Named
    location: Named
    reason: Named
    requested_at: datetime
    patient_type: str
    status: str = Field(description="`pending_request`, or `sync_failed`: the EHR sync failed")
    sync_error_code: str | None = Field(
        description="For `sync_failed`: why the EHR sync failed (a stable code); else null"
    )
    delivery_id: str | None = Field(
        description=(
            "For `sync_failed`: the dead delivery that retries the EHR sync once the cause is "
            "fixed (`practice-sync dead-letters replay <delivery_id>`, or `POST "
            "/v1/practices/{practice}/deliveries/{delivery_id}/replay`); a successful replay "
            "makes the item a pending request again. Null otherwise, and for a failure whose "
            "delivery is not known"
        )
    )
    patient: PatientDetails
    origin: str
    virtual: bool


class ActionRequiredPage(BaseModel):
    items: list[Annotated[ActionRequiredItem | UnmappedChangeItem, Field(discriminator="kind")]] = (
        Field(
            description=(
                "`request`: a booking request waiting on staff; `ehr_change`: an appointment in "
                "the EHR not mirrored, with the configuration to set"
            )
        )
    )
    next_cursor: str | None


@router.get("/action-required", response_model=ActionRequiredPage)
def action_required(
    request: Request,
    staff: Staff,
    cursor: PageCursor | None = None,
    limit: int = Query(default=50, ge=1, le=200),
) -> ActionRequiredPage:
    """Pending and failed requests, and EHR appointments not mirrored, oldest first."""
    engine = get_engine(request)
    settings = engine.settings.practice(staff.practice_id)
    reasons = growth_settings(engine).practices.get(staff.practice_id)
    requests = (
        select(AppointmentRequest, Appointment, SyncFailure.delivery_id)
        .join(Appointment, Appointment.id == AppointmentRequest.appointment_id)
        .outerjoin(SyncFailure, SyncFailure.request_id == AppointmentRequest.id)
        .where(
            AppointmentRequest.practice_id == staff.practice_id,
            or_(
                Appointment.status.in_(WAITING),
                and_(  # a released slot's request waits no more
                    AppointmentRequest.sync_state == SyncState.SYNC_FAILED,
                    Appointment.status.in_(ACTIVE_STATUSES),
                ),
            ),
        )
        .order_by(AppointmentRequest.created_at, AppointmentRequest.id)
        .limit(limit + 1)
    )
    unmapped = (
        still_unmapped(staff.practice_id, settings)
        .order_by(UnmappedChange.first_seen_at, UnmappedChange.id)
        .limit(limit + 1)
    )
    if cursor:
        requests = requests.where(
            keyset_after(cursor, AppointmentRequest.created_at, AppointmentRequest.id)
        )
        unmapped = unmapped.where(
            keyset_after(cursor, UnmappedChange.first_seen_at, UnmappedChange.id)
        )
    with engine.db.transaction() as session:
        rows: list[tuple[datetime, str, ActionRequiredItem | UnmappedChangeItem]] = []
        for req, appointment, delivery_id in session.execute(requests).all():
            rows.append(
                (
                    req.created_at,
                    req.id,
                    _request_item(req, appointment, delivery_id, settings, reasons),
                )
            )
        rows += [
            (row.first_seen_at, row.id, item(row, staff.practice_id))
            for row in session.scalars(unmapped)
        ]
        rows.sort(key=lambda row: (row[0], row[1]))
        audit_read(session, engine, staff, "action_required", min(len(rows), limit))
    page = rows[:limit]
    last = page[-1] if page else None
    following = next_cursor(last[0], last[1], len(rows) > limit) if last else None
    return ActionRequiredPage(items=[entry for _, _, entry in page], next_cursor=following)


def _request_item(
    req: AppointmentRequest,
    appointment: Appointment,
    delivery_id: str | None,
    settings: PracticeSettings,
    reasons: PracticeGrowthSettings | None,
) -> ActionRequiredItem:
    location = settings.locations.get(appointment.location_id)
    provider = settings.providers.get(appointment.provider_id)
    zone = location.zone if location else None
    reason_name = (
        reasons.reasons[appointment.reason_id].name
        if reasons and appointment.reason_id in reasons.reasons
        else appointment.reason_id or ""
    )
    failed = req.sync_state is SyncState.SYNC_FAILED
    return ActionRequiredItem(
        request_id=req.id,
        appointment_id=appointment.id,
        requested_start=appointment.start_at.astimezone(zone) if zone else appointment.start_at,
        time_zone=zone.key if zone else "UTC",
        provider=Named(id=appointment.provider_id, name=provider.name if provider else ""),
        location=Named(id=appointment.location_id, name=location.name if location else ""),
        reason=Named(id=appointment.reason_id or "", name=reason_name),
        requested_at=req.created_at,
        patient_type="new" if req.new_patient else "returning",
        status="sync_failed" if failed else "pending_request",
        sync_error_code=req.sync_error_code if failed else None,
        delivery_id=delivery_id if failed else None,
        patient=PatientDetails(
            first_name=req.first_name,
            last_name=req.last_name,
            email=req.email,
            phone=req.phone,
        ),
        origin=appointment.origin.value,
        virtual=appointment.virtual,
    )
