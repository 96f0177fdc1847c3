"""Staff API for the booking platform's patient records: list, correct contact details, archive.

One way only, as the product has it: nothing here changes the EHR's record, and records are
never merged. Corrected details stay in the booking platform — and the EHR being the source of
truth for them, its details replace these the next time it hands the patient over (an
appointment made there). A duplicate is archived instead of merged: it leaves the list and is
never matched again (a new request or an appointment made in the EHR gets another record), but
is kept, and messages about its appointments still go out. Every read and change is audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.api import (
    ApiError,
    Identifier,
    PageCursor,
    SingleLine,
    Staff,
    StaffPrincipal,
    get_engine,
    keyset_after,
    next_cursor,
)
from plugins.growth_platform.contact import normal_email, normal_phone
from plugins.growth_platform.staff_audit import audit, audit_read
from plugins.growth_platform.tables import Patient

__all__ = ["router"]

router = APIRouter(prefix="/v1/practices/{practice}/patients", tags=["patients"])

PatientId = Annotated[Identifier, Path(description="the patient record's id")]
NOT_IN_EHR = (
    "Changed in the booking platform only: the patient's record in the EHR is NOT changed. "
    "Update it there too; the EHR's details replace these when it next hands the patient over."
)
ARCHIVED = (
    "Archived in the booking platform only: the patient leaves the patient list and is never "
    "matched again, and messages about their appointments still go out. The patient's record "
    "in the EHR is NOT changed (deactivate it there if it is a duplicate too)."
)


class PatientOut(BaseModel):
    id: str
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    mobile_phone: str | None = Field(description="E.164")
    email_allowed: bool = Field(description="the patient agreed to messages by email")
    sms_allowed: bool = Field(description="the patient agreed to text messages")
    ehr_patient_id: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PatientPage(BaseModel):
    items: list[PatientOut]
    next_cursor: str | None


class ContactBody(BaseModel):
    """The contact details to correct; a field left out stays as it is, ``null`` removes it."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, SingleLine(max_length=254, not_blank=True)] | None = None
    mobile_phone: Annotated[str, SingleLine(max_length=32, not_blank=True)] | None = None


class PatientChanged(BaseModel):
    patient: PatientOut
    ehr_patient: Literal["not_changed"] = Field(
        description="always `not_changed`: the EHR's record of the patient is not touched"
    )
    message: str


@router.get("", response_model=PatientPage)
def list_patients(
    request: Request,
    staff: Staff,
    cursor: PageCursor | None = None,
    limit: int = Query(default=50, ge=1, le=200),
) -> PatientPage:
    """The practice's patient records not archived, oldest first."""
    engine = get_engine(request)
    query = (
        select(Patient)
        .where(Patient.practice_id == staff.practice_id, Patient.archived_at.is_(None))
        .order_by(Patient.created_at, Patient.id)
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(keyset_after(cursor, Patient.created_at, Patient.id))
    with engine.db.transaction() as session:
        rows = session.scalars(query).all()
        page = rows[:limit]
        audit_read(session, engine, staff, "patients", len(page))
        items = [_out(row) for row in page]
    last = page[-1] if page else None
    following = next_cursor(last.created_at, last.id, len(rows) > limit) if last else None
    return PatientPage(items=items, next_cursor=following)


@router.patch("/{patient_id}", response_model=PatientChanged)
def correct_contact(
    patient_id: PatientId, body: ContactBody, request: Request, staff: Staff
) -> PatientChanged:
    """Correct a patient's email or mobile phone in the booking platform only."""
    engine = get_engine(request)
    region = engine.settings.practice(staff.practice_id).phone_region
    errors: dict[str, str] = {}
    changes: dict[str, str | None] = {}
    if "email" in body.model_fields_set:
        changes["email"] = normal_email(body.email) if body.email else None
        if body.email and changes["email"] is None:
            errors["email"] = "not a valid email address"
    if "mobile_phone" in body.model_fields_set:
        changes["mobile_phone"] = (
            normal_phone(body.mobile_phone, region) if body.mobile_phone else None
        )
        if body.mobile_phone and changes["mobile_phone"] is None:
            errors["mobile_phone"] = f"not a valid phone number (region {region})"
    if errors:
        raise ApiError(422, "invalid_request", "Some fields are not valid.", fields=errors)
    with engine.db.transaction() as session:
        patient = _patient(session, staff, patient_id)
        if "email" in changes:
            patient.email = changes["email"]
            patient.email_allowed = patient.email_allowed and patient.email is not None
        if "mobile_phone" in changes:
            patient.mobile_phone = changes["mobile_phone"]
            patient.sms_allowed = patient.sms_allowed and patient.mobile_phone is not None
        if changes:
            patient.updated_at = engine.clock.now()
        audit(session, engine, staff, "update", "patient", patient.id)
        out = _out(patient)
    return PatientChanged(patient=out, ehr_patient="not_changed", message=NOT_IN_EHR)


@router.post("/{patient_id}/archive", response_model=PatientChanged)
def archive(patient_id: PatientId, request: Request, staff: Staff) -> PatientChanged:
    """Archive a patient record (a duplicate, say); archiving again answers the same."""
    engine = get_engine(request)
    with engine.db.transaction() as session:
        patient = _patient(session, staff, patient_id)
        if patient.archived_at is None:
            patient.archived_at = engine.clock.now()
            audit(session, engine, staff, "archive", "patient", patient.id)
        out = _out(patient)
    return PatientChanged(patient=out, ehr_patient="not_changed", message=ARCHIVED)


def _patient(session: Session, staff: StaffPrincipal, patient_id: str) -> Patient:
    patient = session.get(Patient, patient_id, with_for_update=True)
    if patient is None or patient.practice_id != staff.practice_id:
        raise ApiError(404, "not_found", "No such patient.")
    return patient


def _out(patient: Patient) -> PatientOut:
    return PatientOut.model_validate(patient, from_attributes=True)
