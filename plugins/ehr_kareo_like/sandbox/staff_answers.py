"""What the sandbox EHR's staff API answers, as typed dicts: the JSON as it came, so the
``sandbox-ehr staff --json`` command line can print it unchanged and a caller still knows its
fields. Times are ISO 8601 strings with their offset."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "AppointmentDetail",
    "AppointmentPage",
    "AppointmentSummary",
    "AppointmentType",
    "Attendee",
    "Conflict",
    "Insurance",
    "NewWebhookSubscription",
    "Patient",
    "PatientRecord",
    "TimeBlock",
    "WebhookSubscription",
]

AppointmentType = Literal["In Person", "Telehealth"]


class Attendee(TypedDict):
    patient_id: str
    first_name: str
    last_name: str
    status: str
    """``Confirmed``, ``Checked In``, ``Checked Out`` or ``No Show`` (a single patient's is
    the appointment's)."""


class Conflict(TypedDict):
    kind: Literal["appointment", "time_block"]
    id: str
    start: str
    end: str
    status: str | None
    """The clashing appointment's status; ``None`` for a time block."""


class Insurance(TypedDict):
    carrier: str | None
    member_id: str | None
    group: str | None


class AppointmentSummary(TypedDict):
    id: str
    status: str
    provider_id: str
    location_id: str
    start: str
    end: str
    duration_minutes: int
    appointment_type: str
    group: bool
    patients: list[Attendee]
    has_conflicts: bool


class AppointmentDetail(AppointmentSummary):
    version: int
    visit_reason_id: int | None
    requested_reason: str | None
    patient_note: str
    telehealth_requested: bool
    insurance: Insurance | None
    intake_forms: list[str]
    staff_reason: str | None
    conflicts: list[Conflict]


class AppointmentPage(TypedDict):
    appointments: list[AppointmentSummary]
    next_cursor: str | None


class Patient(TypedDict):
    """A patient as staff entered them (``POST /staff/patients``)."""

    id: str
    first_name: str
    last_name: str
    date_of_birth: str
    sex: str | None
    email: str | None
    mobile_phone: str | None
    email_allowed: bool
    sms_allowed: bool


class PatientRecord(Patient):
    """A patient as ``GET /patients/{id}`` shows any of them, with their other phone."""

    phone: str | None


class TimeBlock(TypedDict):
    id: str
    provider_id: str
    start: str
    end: str
    note: str


class WebhookSubscription(TypedDict):
    id: str
    url: str
    created_at: NotRequired[str]


class NewWebhookSubscription(TypedDict):
    id: str
    url: str
    secret: str
    """The Standard Webhooks secret the EHR signs with, shown only in this answer."""
