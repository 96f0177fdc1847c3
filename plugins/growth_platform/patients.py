"""The booking platform follows the EHR: its own patient records and request states.

After a request is synced, the platform attaches it to one of its patient records by the EHR
patient the sync wrote it for: the record in use for that EHR patient (the EHR had exactly one
match, or staff already booked the new EHR patient themselves), a new record otherwise (no
match, or several — records are never merged). A failed sync is shown to staff in Action
Required with its reason and the dead delivery to replay; a later successful replay clears
both.

The patients of appointments staff made in the EHR are kept too (``keep_ehr_patient``): the
record in use for that EHR patient, its details brought to the EHR's (the source of truth for
them), or a new one. An archived record is never matched again, by either way in; it still
answers ``patient_contact``, so messages about its appointments reach the patient.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.api import (
    EHR_SYSTEM,
    AppointmentRequest,
    EHRPatientContact,
    HookContext,
    MissingRecord,
    PatientContact,
    RequestSyncedEvent,
    RequestSyncFailedEvent,
    SyncState,
    external_id,
    hookimpl,
    link,
    new_id,
    set_sync_state,
)
from plugins.growth_platform.contact import normal_email, normal_phone
from plugins.growth_platform.tables import Patient, SyncFailure

__all__ = [
    "SYSTEM",
    "in_use_for",
    "keep_ehr_patient",
    "on_request_sync_failed",
    "on_request_synced",
    "patient_contact",
]

SYSTEM = "growth_platform"


@hookimpl
def on_request_synced(event: RequestSyncedEvent, ctx: HookContext) -> None:
    session = ctx.session
    request = session.get(AppointmentRequest, event.request_id)
    if request is None:
        raise MissingRecord("the request is gone")
    linked = external_id(
        session,
        practice_id=ctx.practice_id,
        entity="request_patient",
        local=request.id,
        system=SYSTEM,
    )
    if linked is None:
        ehr_patient = external_id(
            session,
            practice_id=ctx.practice_id,
            entity="request_patient",
            local=request.id,
            system=EHR_SYSTEM,
        )
        patient = in_use_for(session, ctx.practice_id, ehr_patient) if ehr_patient else None
        if patient is None:
            now = ctx.clock.now()
            patient = Patient(
                id=new_id("pat_"),
                practice_id=ctx.practice_id,
                first_name=request.first_name,
                last_name=request.last_name,
                date_of_birth=request.date_of_birth,
                email=request.email,
                mobile_phone=request.phone,
                email_allowed=True,  # the request came with it; every email can opt out
                sms_allowed=request.sms_consent_at is not None,
                ehr_patient_id=ehr_patient,
                excluded_from_surveys=False,
                created_at=now,
                updated_at=now,
            )
            session.add(patient)
        link(
            session,
            practice_id=ctx.practice_id,
            entity="request_patient",
            local=request.id,
            system=SYSTEM,
            external=patient.id,
            now=ctx.clock.now(),
        )
    set_sync_state(session, request.id, SyncState.SYNCED)
    failure = session.get(SyncFailure, request.id)
    if failure is not None:
        session.delete(failure)


@hookimpl
def on_request_sync_failed(event: RequestSyncFailedEvent, ctx: HookContext) -> None:
    session = ctx.session
    set_sync_state(session, event.request_id, SyncState.SYNC_FAILED, event.reason_code)
    failure = session.get(SyncFailure, event.request_id)  # failed before, and replayed
    if failure is None:
        failure = SyncFailure(request_id=event.request_id, practice_id=ctx.practice_id)
        session.add(failure)
    failure.delivery_id = event.delivery_id


def in_use_for(session: Session, practice_id: str, ehr_patient_id: str) -> Patient | None:
    """The record in use (not archived) for an EHR patient, locked for the caller's
    transaction; there is at most one."""
    return session.scalars(
        select(Patient)
        .where(
            Patient.practice_id == practice_id,
            Patient.ehr_patient_id == ehr_patient_id,
            Patient.archived_at.is_(None),
        )
        .with_for_update()
    ).first()


@hookimpl
def keep_ehr_patient(patient: EHRPatientContact, ctx: HookContext) -> str:
    """Two deliveries keeping the same new patient at once: the second insert breaks the
    unique index, its delivery is retried and then finds the first's record."""
    session = ctx.session
    now = ctx.clock.now()
    record = in_use_for(session, ctx.practice_id, patient.id)
    if record is None:
        record = Patient(
            id=new_id("pat_"),
            practice_id=ctx.practice_id,
            ehr_patient_id=patient.id,
            excluded_from_surveys=False,
            created_at=now,
        )
        session.add(record)
    _copy_details(record, patient, ctx.practice.phone_region, now)
    session.flush()
    return record.id


def _copy_details(record: Patient, patient: EHRPatientContact, region: str, now: datetime) -> None:
    """The EHR's details onto the record. A value that does not fit the record (no email
    address, no valid phone number) is kept as unknown rather than refused: the appointment
    is still mirrored, and that channel stays closed."""
    record.first_name = patient.first_name[:100]
    record.last_name = patient.last_name[:100]
    record.date_of_birth = patient.date_of_birth
    record.email = normal_email(patient.email) if patient.email else None
    record.mobile_phone = (
        normal_phone(patient.mobile_phone, region) if patient.mobile_phone else None
    )
    record.email_allowed = patient.email_allowed and record.email is not None
    record.sms_allowed = patient.sms_allowed and record.mobile_phone is not None
    record.updated_at = now


@hookimpl
def patient_contact(practice_id: str, patient_id: str, session: Session) -> PatientContact | None:
    record = session.get(Patient, patient_id)
    if record is None or record.practice_id != practice_id:
        return None
    return PatientContact(
        patient_id=record.id,
        first_name=record.first_name,
        last_name=record.last_name,
        email=record.email,
        mobile_phone=record.mobile_phone,
        email_allowed=record.email_allowed,
        sms_allowed=record.sms_allowed,
    )
