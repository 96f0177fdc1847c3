"""What the EHR adds to a shared appointment: who attends it, and the intake forms asked for.

The core keeps both (``appointment_attendees``, ``ehr_appointments``) as ids, states and form
names, no patient data. The public API names no record class for them, so they are read here by
table name, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from integration_core.api import AppointmentStatus, Base

__all__ = ["AttendeeRow", "attendees", "intake_forms"]


@dataclass(frozen=True)
class AttendeeRow:
    ehr_patient_id: str
    patient_id: str | None
    """The booking platform's record of the patient, once it keeps one."""
    status: AppointmentStatus
    """The attendee's own state (a group's patients each have theirs)."""


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def attendees(session: Session, appointment_id: str) -> list[AttendeeRow]:
    """The appointment's patients, in a stable order (by EHR patient id)."""
    table = _table("appointment_attendees")
    rows = session.execute(
        select(table.c.ehr_patient_id, table.c.patient_id, table.c.status)
        .where(table.c.appointment_id == appointment_id)
        .order_by(table.c.ehr_patient_id)
    )
    return [AttendeeRow(*row) for row in rows]


def intake_forms(session: Session, appointment_id: str) -> list[str]:
    """The names of the forms the EHR asks the patient to fill in before the visit."""
    table = _table("ehr_appointments")
    forms = session.scalar(
        select(table.c.intake_forms).where(table.c.appointment_id == appointment_id)
    )
    return list(forms or [])
