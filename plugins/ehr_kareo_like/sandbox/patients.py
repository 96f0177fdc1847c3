"""Patients as the sandbox EHR shows them, and as its staff enter them.

A patient has how they may be reached (``email``, ``mobile_phone``) and which messages they
agreed to (``email_allowed``, ``sms_allowed``). Staff record both when they enter a patient
(``POST /staff/patients``); a patient practice-sync creates has its phone as mobile number,
email allowed and texts not, until staff record the patient's agreement.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StrictBool, model_validator

from integration_core.api import BoundedDate, SingleLine
from plugins.ehr_kareo_like.sandbox.idempotency import IdempotencyKey, earlier_resource, remember
from plugins.ehr_kareo_like.sandbox.store import SandboxPatient, SandboxStore, new_sandbox_id, now

__all__ = ["Name", "PatientOut", "StaffPatientIn", "patient_out", "staff_patients_router"]

Name = Annotated[str, SingleLine(max_length=100, not_blank=True)]


class PatientOut(BaseModel):
    id: str
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str | None
    email: str | None
    phone: str | None
    mobile_phone: str | None
    email_allowed: bool
    """The patient agreed to messages by email."""
    sms_allowed: bool
    """The patient agreed to text messages on ``mobile_phone``."""


def patient_out(row: SandboxPatient) -> PatientOut:
    return PatientOut(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        date_of_birth=row.date_of_birth,
        sex=row.sex,
        email=row.email,
        phone=row.phone,
        mobile_phone=row.mobile_phone,
        email_allowed=row.email_allowed,
        sms_allowed=row.sms_allowed,
    )


class StaffPatientIn(BaseModel):
    first_name: Name
    last_name: Name
    date_of_birth: BoundedDate
    sex: Annotated[str, SingleLine(max_length=16, not_blank=True)] | None = None
    email: Annotated[str, SingleLine(max_length=254, not_blank=True)] | None = None
    mobile_phone: Annotated[str, SingleLine(max_length=20, not_blank=True)] | None = None
    email_allowed: StrictBool = False
    """JSON ``true`` or ``false`` only: a consent is never read into ``"yes"`` or ``1``."""
    sms_allowed: StrictBool = False

    @model_validator(mode="after")
    def _reachable(self) -> StaffPatientIn:
        """Agreeing to a kind of message needs somewhere to send it."""
        if self.email_allowed and self.email is None:
            raise ValueError("email_allowed needs an email address")
        if self.sms_allowed and self.mobile_phone is None:
            raise ValueError("sms_allowed needs a mobile phone number")
        return self


def staff_patients_router(store: SandboxStore) -> APIRouter:
    """``POST /staff/patients``: a patient entered by staff (``Idempotency-Key`` honoured)."""
    router = APIRouter(prefix="/staff", tags=["staff"])

    @router.post("/patients", response_model=PatientOut, status_code=201)
    def add_patient(body: StaffPatientIn, key: IdempotencyKey = None) -> PatientOut | JSONResponse:
        with store.transaction() as session:
            earlier = earlier_resource(session, "staff/patients", key, body)
            if earlier is not None:
                row = session.get_one(SandboxPatient, earlier)
                return JSONResponse(patient_out(row).model_dump(mode="json"))
            row = SandboxPatient(
                id=new_sandbox_id("PAT"),
                first_name=body.first_name,
                last_name=body.last_name,
                date_of_birth=body.date_of_birth,
                sex=body.sex,
                email=body.email,
                phone=body.mobile_phone,
                mobile_phone=body.mobile_phone,
                email_allowed=body.email_allowed,
                sms_allowed=body.sms_allowed,
                created_at=now(),
            )
            session.add(row)
            remember(session, "staff/patients", key, body, row.id)
            return patient_out(row)

    return router
