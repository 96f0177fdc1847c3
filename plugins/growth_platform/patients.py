"""The booking platform follows the EHR sync: its own patient records and request states.

After a request is synced, the platform attaches it to one of its patient records: the record
already linked to the EHR patient when the EHR had exactly one match, a new record otherwise
(no match, or several — records are never merged). A failed sync is shown to staff in Action
Required with its reason and the dead delivery to replay; a later successful replay clears
both.
"""

from __future__ import annotations

from sqlalchemy import select

from integration_core.api import (
    EHR_SYSTEM,
    AppointmentRequest,
    HookContext,
    MissingRecord,
    RequestSyncedEvent,
    RequestSyncFailedEvent,
    SyncState,
    external_id,
    hookimpl,
    link,
    new_id,
    set_sync_state,
)
from plugins.growth_platform.tables import Patient, SyncFailure

__all__ = ["SYSTEM", "on_request_sync_failed", "on_request_synced"]

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
        patient = None
        if event.match == "attached" and ehr_patient is not None:
            patient = session.scalars(
                select(Patient).where(
                    Patient.practice_id == ctx.practice_id, Patient.ehr_patient_id == ehr_patient
                )
            ).first()
        if patient is None:
            patient = Patient(
                id=new_id("pat_"),
                practice_id=ctx.practice_id,
                first_name=request.first_name,
                last_name=request.last_name,
                date_of_birth=request.date_of_birth,
                email=request.email,
                phone=request.phone,
                ehr_patient_id=ehr_patient,
                excluded_from_surveys=False,
                created_at=ctx.clock.now(),
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
