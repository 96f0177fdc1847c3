"""Stand-ins for the two systems around the notifications: an EHR that takes requests and
answers who its patients are, and a booking platform that keeps those patients and says how to
reach them (``keep_ehr_patient``, ``patient_contact``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from integration_core.api import (
    EHRAppointment,
    EHRPatient,
    EHRPatientContact,
    ExternalUnavailable,
    HookContext,
    MissingRecord,
    NewAppointment,
    NewPatient,
    PatientContact,
    PatientQuery,
    hookimpl,
)

REQUEST_PATIENT = "PAT-REQ"
REQUEST_APPOINTMENT = "APT-REQ"


def ehr_patient(
    patient_id: str,
    first_name: str,
    *,
    email: str | None = None,
    mobile: str | None = None,
    email_allowed: bool = True,
    sms_allowed: bool = False,
) -> EHRPatientContact:
    return EHRPatientContact(
        id=patient_id,
        first_name=first_name,
        last_name="Attendee",
        date_of_birth=date(1990, 1, 1),
        sex=None,
        email=email,
        mobile_phone=mobile,
        email_allowed=email_allowed,
        sms_allowed=sms_allowed,
    )


class StubEHR:
    """Takes every request as a new patient's tentative appointment; ``read_patient`` answers
    from ``patients``, or fails as an unreachable EHR while ``down``."""

    def __init__(self) -> None:
        self.patients: dict[str, EHRPatientContact] = {}
        self.down = False

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        return []

    def create_patient(self, patient: NewPatient, *, idempotency_key: str) -> EHRPatient:
        return EHRPatient(
            id=REQUEST_PATIENT,
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
        )

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment:
        return EHRAppointment(
            id=REQUEST_APPOINTMENT,
            patient_id=appointment.patient_id,
            provider_id=appointment.provider_id,
            location_id=appointment.location_id,
            start=appointment.start,
            end=appointment.start + timedelta(minutes=appointment.duration_minutes),
            state="tentative",
            telehealth=appointment.telehealth,
        )

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        if self.down:
            raise ExternalUnavailable("the EHR is unavailable", code="ehr_unavailable")
        if patient_id not in self.patients:
            raise MissingRecord("no such patient")
        return self.patients[patient_id]

    def close(self) -> None:
        pass


class StandIns:
    """A plugin: registers ``stub_ehr`` and keeps the EHR's patients as the booking platform
    would, answering ``patient_contact`` for them."""

    def __init__(self) -> None:
        self.ehr = StubEHR()
        self.kept: dict[str, EHRPatientContact] = {}

    @hookimpl
    def register_ehr_adapters(self, registry: Any, settings: Any) -> None:
        registry.add("stub_ehr", lambda practice_id, settings: self.ehr)

    @hookimpl
    def keep_ehr_patient(self, patient: EHRPatientContact, ctx: HookContext) -> str:
        record_id = f"pt-{patient.id}"
        self.kept[record_id] = patient
        return record_id

    @hookimpl
    def patient_contact(
        self, practice_id: str, patient_id: str, session: Any
    ) -> PatientContact | None:
        patient = self.kept.get(patient_id)
        if patient is None:
            return None
        return PatientContact(
            patient_id=patient_id,
            first_name=patient.first_name,
            last_name=patient.last_name,
            email=patient.email,
            mobile_phone=patient.mobile_phone,
            email_allowed=patient.email_allowed,
            sms_allowed=patient.sms_allowed,
        )
