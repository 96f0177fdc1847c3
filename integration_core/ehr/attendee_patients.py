"""The patients of appointments made in the EHR, kept by the booking platform.

When an appointment made in the EHR is mirrored (``appointment_synced``), each of its
attendees the core has no patient record for is read from the EHR with ``read_patient`` and
handed to the plugin that keeps patient records (``keep_ehr_patient``: the booking platform),
whose record id the attendee row then carries, linked to the EHR patient id. A patient seen
before (another appointment) is read again: the EHR is the source of truth for their details.
An appointment from the widget needs none of this: its patient came with the request.
"""

from __future__ import annotations

from sqlalchemy import select

from integration_core import hookimpl, links
from integration_core.context import HookContext
from integration_core.ehr.change_tables import Attendee
from integration_core.errors import MissingRecord
from integration_core.events import AppointmentSyncedEvent
from integration_core.records import Appointment, Origin

__all__ = ["on_appointment_synced"]


@hookimpl
def on_appointment_synced(event: AppointmentSyncedEvent, ctx: HookContext) -> None:
    session = ctx.session
    appointment = session.get(Appointment, event.appointment_id)
    if appointment is None:
        raise MissingRecord("the appointment is gone")
    if appointment.origin is not Origin.EHR:
        return
    unknown = session.scalars(
        select(Attendee).where(
            Attendee.appointment_id == appointment.id, Attendee.patient_id.is_(None)
        )
    ).all()
    if not unknown:
        return
    adapter = ctx.ehr.for_practice(ctx.practice_id)
    for attendee in unknown:
        patient = adapter.read_patient(attendee.ehr_patient_id)
        kept = ctx.outbox.pm.hook.keep_ehr_patient(patient=patient, ctx=ctx)
        if kept is None:
            return  # no plugin keeps patient records: nothing to link
        attendee.patient_id = kept
        links.link(
            session,
            practice_id=ctx.practice_id,
            entity="patient",
            local=kept,
            system=links.EHR_SYSTEM,
            external=attendee.ehr_patient_id,
            now=ctx.clock.now(),
        )
