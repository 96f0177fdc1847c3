"""``submit_request``: a booking request, its appointment and its event in one transaction.

No double booking, decided inside the database transaction rather than by a check-then-insert
race: the provider's lock row is taken (``FOR UPDATE`` on PostgreSQL; on SQLite the
transaction already holds the single write lock from ``BEGIN IMMEDIATE``), any active
appointment of the provider overlapping the new one — at *any* location, of any origin — is
refused, and only then are the rows inserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from integration_core.engine import EventSink
from integration_core.errors import MissingRecord
from integration_core.events import RequestEvent
from integration_core.records import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Origin,
    ProviderLock,
    SyncState,
)
from integration_core.store import new_id
from integration_core.store.sql import epoch_seconds

__all__ = [
    "BookingForm",
    "SlotUnavailable",
    "Submitted",
    "busy_time_query",
    "lock_provider",
    "overlapping",
    "set_sync_state",
    "submit_request",
]


class SlotUnavailable(Exception):
    """The provider already has an active appointment overlapping the requested time."""


@dataclass(frozen=True)
class BookingForm:
    """What the patient submitted, already validated and normalised (phone in E.164)."""

    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date
    sex: str
    new_patient: bool
    privacy_policy_version: str
    sms_consent: bool
    insurance_carrier: str | None = None
    insurance_member_id: str | None = None
    insurance_group: str | None = None
    notes: str | None = None
    referral_source: str | None = None


@dataclass(frozen=True)
class Submitted:
    request_id: str
    appointment_id: str
    event_id: str


def lock_provider(session: Session, practice_id: str, provider_id: str) -> None:
    """Serialise bookings for one provider until the transaction ends."""
    values = {"practice_id": practice_id, "provider_id": provider_id}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(ProviderLock).values(values).on_conflict_do_nothing())
        session.execute(
            select(ProviderLock)
            .where(ProviderLock.practice_id == practice_id, ProviderLock.provider_id == provider_id)
            .with_for_update()
        )
    else:
        session.execute(sqlite_insert(ProviderLock).values(values).on_conflict_do_nothing())


def overlapping(
    session: Session, practice_id: str, provider_id: str, start: datetime, end: datetime
) -> str | None:
    """The id of an active appointment of the provider overlapping [start, end), if any."""
    return session.scalar(
        select(Appointment.id)
        .where(
            Appointment.practice_id == practice_id,
            Appointment.provider_id == provider_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start_at < end,
            Appointment.end_at > start,
        )
        .limit(1)
    )


_BUSY_TIME = select(
    Appointment.provider_id,
    epoch_seconds(Appointment.start_at).label("start"),
    epoch_seconds(Appointment.end_at).label("end"),
).where(
    Appointment.practice_id == bindparam("practice"),
    Appointment.provider_id.in_(bindparam("providers", expanding=True)),
    Appointment.status.in_(ACTIVE_STATUSES),
    Appointment.start_at < bindparam("window_end"),
    Appointment.end_at > bindparam("window_start"),
)


def busy_time_query() -> Select[str, int, int]:
    """The time providers are taken: every active appointment (requested, tentative, booked,
    checked in or out; any origin, any location) overlapping a window.

    Columns ``provider_id, start, end`` (POSIX seconds); bind parameters ``practice``,
    ``providers`` (a list) and ``window_start`` / ``window_end`` (aware datetimes). One
    statement for any number of providers: run it alone, or ``union_all`` it with a query of
    your own (add columns to match) to keep a request's statement count fixed.
    """
    return _BUSY_TIME


def submit_request(
    session: Session,
    outbox: EventSink,
    *,
    practice_id: str,
    provider_id: str,
    location_id: str,
    reason_id: str,
    start: datetime,
    end: datetime,
    virtual: bool,
    form: BookingForm,
    now: datetime,
    reason_name: str | None = None,
) -> Submitted:
    """Store the request, its ``requested`` appointment and the ``request`` event, or raise
    :class:`SlotUnavailable`. Runs in the caller's transaction, which must commit it."""
    lock_provider(session, practice_id, provider_id)
    if overlapping(session, practice_id, provider_id, start, end) is not None:
        raise SlotUnavailable(provider_id)
    appointment_id = new_id("apt_")
    request_id = new_id("req_")
    session.add(
        Appointment(
            id=appointment_id,
            practice_id=practice_id,
            provider_id=provider_id,
            location_id=location_id,
            reason_id=reason_id,
            reason_name=reason_name,
            start_at=start,
            end_at=end,
            status=AppointmentStatus.REQUESTED,
            origin=Origin.WIDGET,
            virtual=virtual,
            request_id=request_id,
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    session.add(
        AppointmentRequest(
            id=request_id,
            practice_id=practice_id,
            appointment_id=appointment_id,
            first_name=form.first_name,
            last_name=form.last_name,
            email=form.email,
            phone=form.phone,
            date_of_birth=form.date_of_birth,
            sex=form.sex,
            new_patient=form.new_patient,
            insurance_carrier=form.insurance_carrier,
            insurance_member_id=form.insurance_member_id,
            insurance_group=form.insurance_group,
            notes=form.notes,
            referral_source=form.referral_source,
            privacy_consent_at=now,
            privacy_policy_version=form.privacy_policy_version,
            sms_consent_at=now if form.sms_consent else None,
            sms_policy_version=form.privacy_policy_version if form.sms_consent else None,
            sync_state=SyncState.PENDING,
            created_at=now,
        )
    )
    event_id = outbox.emit(
        session,
        RequestEvent(practice_id=practice_id, request_id=request_id, appointment_id=appointment_id),
    )
    return Submitted(request_id=request_id, appointment_id=appointment_id, event_id=event_id)


def set_sync_state(
    session: Session, request_id: str, state: SyncState, error_code: str | None = None
) -> None:
    """Move a request's sync state: pending → synced | sync_failed, sync_failed → synced."""
    request = session.get(AppointmentRequest, request_id, with_for_update=True)
    if request is None:
        raise MissingRecord(f"request {request_id} does not exist")
    allowed = {
        SyncState.PENDING: {SyncState.SYNCED, SyncState.SYNC_FAILED},
        SyncState.SYNC_FAILED: {SyncState.SYNCED, SyncState.SYNC_FAILED},
        SyncState.SYNCED: {SyncState.SYNCED},
    }
    if state not in allowed[request.sync_state]:
        raise ValueError(f"a {request.sync_state.value} request cannot become {state.value}")
    request.sync_state = state
    request.sync_error_code = error_code if state is SyncState.SYNC_FAILED else None
