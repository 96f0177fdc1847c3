"""The EHR sync: a booking request becomes a tentative appointment in the practice's EHR.

A built-in plugin (``ehr_sync``) implementing ``on_request``:

1. read the request and its appointment;
2. find candidates in the EHR (first name + last name + date of birth) and apply the matching
   policy — then **store the decision in its own transaction**, so a retry never re-decides
   (a second search after the patient was created would find them and change the answer);
3. create the patient when the decision says so, and the tentative appointment — each write
   with its own idempotency key (event, plugin, step), so a retry after a lost response gets
   the same patient and appointment back;
4. in the delivery's transaction: link the ids, make the appointment tentative, emit
   ``request_synced``, and apply any change the EHR announced for the new appointment before
   it was linked (:func:`~integration_core.ehr.changes.apply_deferred`).

When its delivery goes dead, ``on_delivery_dead`` turns that into ``request_sync_failed``
with the reason code and the dead delivery's id, so staff see it in Action Required (with the
id to replay) and the practice is alerted; a replay of the dead delivery picks up where it
stopped.

The same plugin reads the patients of appointments made in the EHR for the booking platform
(:mod:`integration_core.ehr.attendee_patients`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, select, update
from sqlalchemy.orm import Mapped, mapped_column

from integration_core import hookimpl, links
from integration_core.context import HookContext
from integration_core.ehr.attendee_patients import on_appointment_synced
from integration_core.ehr.changes import apply_deferred
from integration_core.ehr.matching import Match, decide
from integration_core.ehr.protocol import NewAppointment, NewPatient, PatientQuery
from integration_core.errors import MissingRecord
from integration_core.events import (
    DeliveryDeadEvent,
    RequestEvent,
    RequestSyncedEvent,
    RequestSyncFailedEvent,
)
from integration_core.records import Appointment, AppointmentRequest, AppointmentStatus
from integration_core.store import Base, Delivery, Event

__all__ = ["PLUGIN", "SyncDecision", "on_appointment_synced"]

PLUGIN = "ehr_sync"


class SyncDecision(Base):
    """How a request's patient was matched in the EHR, decided once."""

    __tablename__ = "ehr_sync_decisions"

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    ehr_patient_id: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime]


_MAKE_TENTATIVE = (
    update(Appointment)
    .where(
        Appointment.id == bindparam("appointment_id"),
        Appointment.status == AppointmentStatus.REQUESTED,  # staff may have moved it on already
    )
    .values(status=AppointmentStatus.TENTATIVE, updated_at=bindparam("now"))
)


def _decide(ctx: HookContext, request: AppointmentRequest) -> SyncDecision:
    """Search the EHR, apply the matching policy and store the outcome in its own commit."""
    query = PatientQuery(
        first_name=request.first_name,
        last_name=request.last_name,
        date_of_birth=request.date_of_birth,
    )
    outcome, patient = decide(query, ctx.ehr.for_practice(ctx.practice_id).find_patients(query))
    decision = SyncDecision(
        practice_id=ctx.practice_id,
        request_id=request.id,
        outcome=outcome.value,
        ehr_patient_id=patient.id if patient else None,
        decided_at=ctx.clock.now(),
    )
    with ctx.db.transaction() as session:
        existing = session.get(SyncDecision, (ctx.practice_id, request.id))
        if existing is not None:  # decided meanwhile by a run whose claim expired
            return existing
        session.add(decision)
    return decision


def _note(request: AppointmentRequest, reason: str) -> str:
    parts = [f"Reason for visit: {reason}"]
    if request.notes:
        parts.append(f"Patient notes: {request.notes}")
    return "\n".join(parts)


@hookimpl
def on_request(event: RequestEvent, ctx: HookContext) -> None:
    if ctx.practice.ehr_adapter is None:
        return  # a practice without an EHR keeps its requests on the booking platform only
    adapter = ctx.ehr.for_practice(ctx.practice_id)  # a configuration fault shows first
    with ctx.db.read() as session:
        request = session.get(AppointmentRequest, event.request_id)
        appointment = session.get(Appointment, event.appointment_id)
        decision = session.get(SyncDecision, (ctx.practice_id, event.request_id))
    if request is None or appointment is None:
        raise MissingRecord("the request or its appointment is gone")
    if appointment.status is AppointmentStatus.CANCELLED:
        return  # staff released its slot (its sync had failed): a replay writes nothing
    practice = ctx.practice
    if decision is None:
        decision = _decide(ctx, request)

    patient_id = decision.ehr_patient_id
    if patient_id is None:
        patient_id = adapter.create_patient(
            NewPatient(
                first_name=request.first_name,
                last_name=request.last_name,
                date_of_birth=request.date_of_birth,
                sex=request.sex,
                email=request.email,
                phone=request.phone,
            ),
            idempotency_key=ctx.idempotency_key("create_patient"),
        ).id
    location = practice.locations[appointment.location_id]
    ehr_appointment = adapter.create_tentative_appointment(
        NewAppointment(
            patient_id=patient_id,
            provider_id=practice.providers[appointment.provider_id].ehr_id,
            location_id=location.ehr_id or appointment.location_id,
            start=appointment.start_at,
            duration_minutes=int((appointment.end_at - appointment.start_at).total_seconds() // 60),
            telehealth=appointment.virtual,
            patient_note=_note(request, appointment.reason_id or ""),
            requested_reason=appointment.reason_id,
            insurance_carrier=request.insurance_carrier,
            insurance_member_id=request.insurance_member_id,
            insurance_group=request.insurance_group,
        ),
        idempotency_key=ctx.idempotency_key("create_appointment"),
    )

    now = ctx.clock.now()
    session = ctx.session
    links.link(
        session,
        practice_id=ctx.practice_id,
        entity="request_patient",
        local=request.id,
        system=links.EHR_SYSTEM,
        external=patient_id,
        now=now,
    )
    links.link(
        session,
        practice_id=ctx.practice_id,
        entity="appointment",
        local=appointment.id,
        system=links.EHR_SYSTEM,
        external=ehr_appointment.id,
        now=now,
    )
    session.connection().execute(_MAKE_TENTATIVE, {"appointment_id": appointment.id, "now": now})
    ctx.emit(
        RequestSyncedEvent(
            practice_id=ctx.practice_id,
            request_id=request.id,
            appointment_id=appointment.id,
            match=Match(decision.outcome).value,
        )
    )
    apply_deferred(
        session,
        practice_id=ctx.practice_id,
        practice=ctx.practice,
        outbox=ctx.outbox,
        ehr_appointment_id=ehr_appointment.id,
        now=now,
    )


@hookimpl
def on_delivery_dead(event: DeliveryDeadEvent, ctx: HookContext) -> None:
    if event.plugin != PLUGIN or event.event_kind != RequestEvent.kind:
        return
    failed = ctx.session.get(Event, event.event_id)
    if failed is None:
        raise MissingRecord("the failed event is gone")
    dead = ctx.session.scalar(
        select(Delivery.id).where(Delivery.event_id == event.event_id, Delivery.plugin == PLUGIN)
    )
    ctx.emit(
        RequestSyncFailedEvent(
            practice_id=ctx.practice_id,
            request_id=failed.payload["request_id"],
            appointment_id=failed.payload["appointment_id"],
            reason_code=event.reason_code,
            delivery_id=dead,
        )
    )
