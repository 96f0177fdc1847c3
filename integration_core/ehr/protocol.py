"""``EHRAdapter``: what the core needs from an EHR, and the shapes it exchanges.

A new EHR is one class implementing this protocol, registered through
``register_ehr_adapters`` and proven by :class:`integration_core.testing.EHRAdapterContract`.
The workflow around it (matching, idempotency keys, id links, events) is the core's, and so
are the go-live checks (``practice-sync check``), which read the EHR's directory (providers,
locations, visit reasons) and practice settings through the same protocol.

Adapters raise :mod:`integration_core.errors` types: ``ExternalUnavailable`` or
``ExternalTimeout`` when the EHR cannot be reached or did not answer (retried),
``ExternalRejected`` when it refused the data (not retried). Every create takes an
idempotency key that the adapter must pass on so the EHR returns the same resource for a retry.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

__all__ = [
    "EHRAdapter",
    "EHRAppointment",
    "EHRLocation",
    "EHRPatient",
    "EHRPracticeSettings",
    "EHRProvider",
    "EHRVisitReason",
    "NewAppointment",
    "NewPatient",
    "PatientQuery",
]

AppointmentState = Literal["tentative", "booked", "checked_in", "checked_out", "cancelled"]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True)


class PatientQuery(_Shape):
    first_name: str
    last_name: str
    date_of_birth: date


class EHRPatient(_Shape):
    id: str
    first_name: str
    last_name: str
    date_of_birth: date


class NewPatient(_Shape):
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str
    email: str
    phone: str


class NewAppointment(_Shape):
    patient_id: str
    provider_id: str
    """The provider's id in the EHR."""
    location_id: str
    """The location's id in the EHR."""
    start: datetime
    duration_minutes: int
    telehealth: bool
    patient_note: str
    """The reason the patient gave and their notes, as the EHR shows staff."""
    insurance_carrier: str | None = None
    insurance_member_id: str | None = None
    insurance_group: str | None = None


class EHRAppointment(_Shape):
    id: str
    patient_id: str
    provider_id: str
    """The provider's id in the EHR."""
    location_id: str
    """The location's id in the EHR."""
    start: datetime
    end: datetime
    state: AppointmentState
    telehealth: bool


class EHRPracticeSettings(_Shape):
    """What a go-live preflight checks: the EHR must leave surveys, online scheduling and the
    online presence to the booking platform."""

    surveys_enabled: bool
    online_scheduler_enabled: bool
    provider_profiles_published: bool
    online_presence_enabled: bool
    intake_forms_enabled: bool


class EHRProvider(_Shape):
    """A provider in the EHR's directory."""

    id: str
    """The provider's id in the EHR (what ``practices.<p>.providers.<x>.ehr_id`` names)."""
    name: str
    patient_communications_enabled: bool
    """Whether the EHR sends this provider's patients their messages (reminders and the like);
    go-live needs it on for every configured provider."""


class EHRLocation(_Shape):
    """A location (office, site) in the EHR's directory."""

    id: str
    """The location's id in the EHR (what ``practices.<p>.locations.<y>.ehr_id`` names)."""
    name: str


class EHRVisitReason(_Shape):
    """A visit reason (appointment type) the EHR books."""

    id: str
    name: str
    duration_minutes: int | None
    """Its default length; ``None`` when the EHR sets none (never 0 for "none")."""


class EHRAdapter(Protocol):
    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        """Candidates for first name + last name + date of birth (the core decides the match)."""
        ...

    def create_patient(self, patient: NewPatient, *, idempotency_key: str) -> EHRPatient: ...

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment: ...

    def read_appointment(self, appointment_id: str) -> EHRAppointment: ...

    def read_practice_settings(self) -> EHRPracticeSettings: ...

    def list_providers(self) -> list[EHRProvider]:
        """Every provider in the EHR's directory."""
        ...

    def list_locations(self) -> list[EHRLocation]:
        """Every location in the EHR's directory."""
        ...

    def list_visit_reasons(self) -> list[EHRVisitReason]:
        """Every visit reason the EHR books, with its default duration."""
        ...

    def close(self) -> None:
        """Release connections; called once when the engine stops. No call follows it."""
        ...
