"""An appointment as the sandbox EHR's staff see it: a line in a list (the summary) or on its
own (the detail), with its patients by name and what clashes with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.ehr_kareo_like.sandbox.conflicts import ConflictOut, appointment_conflicts
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment, SandboxPatient

__all__ = [
    "AppointmentDetail",
    "AppointmentPage",
    "AppointmentSummary",
    "appointment_detail",
    "appointment_summaries",
]


class PatientOfAppointment(BaseModel):
    patient_id: str
    first_name: str
    last_name: str
    status: str
    """This patient's own status (a group's patients come and go on their own)."""


class AppointmentSummary(BaseModel):
    id: str
    status: str
    provider_id: str
    location_id: str
    start: datetime
    end: datetime
    duration_minutes: int
    appointment_type: str
    group: bool
    patients: list[PatientOfAppointment]
    has_conflicts: bool


class Insurance(BaseModel):
    carrier: str | None
    member_id: str | None
    group: str | None


class AppointmentDetail(AppointmentSummary):
    version: int
    visit_reason_id: int | None
    requested_reason: str | None
    patient_note: str
    telehealth_requested: bool
    insurance: Insurance | None
    intake_forms: list[str]
    staff_reason: str | None
    conflicts: list[ConflictOut]


class AppointmentPage(BaseModel):
    appointments: list[AppointmentSummary]
    next_cursor: str | None


def _patients(session: Session, rows: Sequence[SandboxAppointment]) -> dict[str, SandboxPatient]:
    ids = {attendee.patient_id for row in rows for attendee in row.attendees}
    found = session.scalars(select(SandboxPatient).where(SandboxPatient.id.in_(ids)))
    return {patient.id: patient for patient in found}


def _summary_fields(
    row: SandboxAppointment, patients: dict[str, SandboxPatient], conflicts: list[ConflictOut]
) -> dict[str, object]:
    return {
        "id": row.id,
        "status": row.status,
        "provider_id": row.provider_id,
        "location_id": row.location_id,
        "start": row.start_at,
        "end": row.end_at,
        "duration_minutes": row.duration_minutes,
        "appointment_type": row.appointment_type,
        "group": row.group,
        "patients": [
            PatientOfAppointment(
                patient_id=attendee.patient_id,
                first_name=patients[attendee.patient_id].first_name,
                last_name=patients[attendee.patient_id].last_name,
                status=attendee.status,
            )
            for attendee in row.attendees
        ],
        "has_conflicts": bool(conflicts),
    }


def appointment_detail(session: Session, row: SandboxAppointment) -> AppointmentDetail:
    conflicts = appointment_conflicts(session, row)
    insured = (row.insurance_carrier, row.insurance_member_id, row.insurance_group)
    return AppointmentDetail.model_validate(
        {
            **_summary_fields(row, _patients(session, [row]), conflicts),
            "version": row.version,
            "visit_reason_id": row.visit_reason_id,
            "requested_reason": row.requested_reason,
            "patient_note": row.patient_note,
            "telehealth_requested": row.telehealth_requested,
            "insurance": Insurance(carrier=insured[0], member_id=insured[1], group=insured[2])
            if any(insured)
            else None,
            "intake_forms": list(row.intake_forms),
            "staff_reason": row.staff_reason,
            "conflicts": conflicts,
        }
    )


def appointment_summaries(
    session: Session, rows: Sequence[SandboxAppointment]
) -> list[AppointmentSummary]:
    patients = _patients(session, rows)
    return [
        AppointmentSummary.model_validate(
            _summary_fields(row, patients, appointment_conflicts(session, row))
        )
        for row in rows
    ]
