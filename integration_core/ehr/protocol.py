"""``EHRAdapter``: what the core needs from an EHR, and the shapes it exchanges.

A new EHR is one class implementing this protocol, registered through
``register_ehr_adapters`` and proven by :class:`integration_core.testing.EHRAdapterContract`.
The workflow around it (matching, idempotency keys, id links, events) is the core's, and so
are the go-live checks (``practice-sync check``), which read the EHR's directory (providers,
locations, visit reasons) and practice settings through the same protocol.

Adapters raise :mod:`integration_core.errors` types: ``ExternalUnavailable`` or
``ExternalTimeout`` when the EHR cannot be reached or did not answer (retried),
``ExternalRejected`` when it refused the data (not retried), ``InvalidWebhook`` when a webhook
does not verify. Every create takes an idempotency key that the adapter must pass on so the
EHR returns the same resource for a retry.

The EHR's decisions come back as :class:`EHRChange` records, one per thing staff did to an
appointment, read two ways: a change feed from a cursor (:meth:`EHRAdapter.read_changes`) and
signed webhooks (:meth:`EHRAdapter.parse_webhook`). Both give the same shape, so the core applies
a change once whichever way it came (keyed by ``change_id``) and in order (by ``version``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from integration_core.http.fields import BoundedDatetime, Identifier, MultiLine, SingleLine

__all__ = [
    "AppointmentState",
    "ChangeKind",
    "ChangePage",
    "EHRAdapter",
    "EHRAppointment",
    "EHRAttendee",
    "EHRChange",
    "EHRLocation",
    "EHRPatient",
    "EHRPatientContact",
    "EHRPracticeSettings",
    "EHRProvider",
    "EHRVisitReason",
    "NewAppointment",
    "NewPatient",
    "PatientQuery",
    "WebhookChanges",
]

AppointmentState = Literal[
    "tentative", "booked", "checked_in", "checked_out", "cancelled", "declined", "no_show"
]
"""An appointment's (or one group attendee's) state, in the core's words: an adapter maps its
EHR's statuses onto these."""

ChangeKind = Literal[
    "created",
    "confirmed",
    "declined",
    "cancelled",
    "rescheduled",
    "checked_in",
    "checked_out",
    "no_show",
]
"""What staff (or an API client) did. ``created`` is any new appointment, tentative (requested
through the API) or booked (made by staff); ``confirmed`` may also move the start and set
another duration (reschedule on confirm)."""


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
    requested_reason: str | None = None
    """The visit reason the patient chose on the booking platform (its id there), which staff
    turn into one of the EHR's visit reasons when they confirm."""
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


class EHRPatientContact(_Shape):
    """A patient as the EHR keeps them, with how they may be reached: what the core needs to
    remind and survey a patient whom staff booked in the EHR."""

    id: str
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str | None
    email: str | None
    mobile_phone: str | None
    email_allowed: bool
    """The patient agreed to messages by email."""
    sms_allowed: bool
    """The patient agreed to text messages on ``mobile_phone``."""


Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]
FormName = Annotated[str, SingleLine(max_length=200, not_blank=True)]
StaffReason = Annotated[str, MultiLine(max_length=4000)]


class EHRAttendee(_Shape):
    """One patient of an appointment, with their own state (a group's patients each check in
    and out on their own; a single-patient appointment has one, in the appointment's state)."""

    patient_id: Identifier
    state: AppointmentState


class EHRChange(_Shape):
    """One change to one appointment, and the appointment as it stood right after it. Its
    fields are bounded as the API's are (ids, dates with an offset between 1900 and 2999,
    lengths): what an EHR sends outside them is refused by the adapter, never stored."""

    change_id: Identifier
    """Unique in this EHR: the core applies a change once, however often it arrives."""
    appointment_id: Identifier
    version: Version
    """1 for the appointment's first change, one more for each change after: a change with a
    lower version than one already seen is stale."""
    kind: ChangeKind
    occurred_at: BoundedDatetime
    patient_id: Identifier | None
    """The attendee this change is about when it concerns one patient of a group (a group
    check-in); ``None`` when it concerns the whole appointment."""
    state: AppointmentState
    """The appointment's state; a group stays ``booked`` while its attendees come and go."""
    attendees: tuple[EHRAttendee, ...]
    """Every patient, each once; one for a single-patient appointment."""
    group: StrictBool
    provider_id: Identifier
    """The provider's id in the EHR."""
    location_id: Identifier
    """The location's id in the EHR."""
    start: BoundedDatetime
    duration_minutes: Minutes
    telehealth: bool
    visit_reason_id: Identifier | None
    """The EHR's visit reason (set when staff confirm or book), whose length ``duration_minutes``
    then is."""
    intake_forms: Annotated[tuple[FormName, ...], Field(max_length=50)]
    """Forms staff asked the patient to fill in, by name (standard or the practice's own)."""
    staff_reason: StaffReason | None
    """What staff wrote when declining or cancelling: free text, handled as patient data."""


class ChangePage(_Shape):
    """Changes after a cursor, oldest first, and the cursor to read on from."""

    changes: tuple[EHRChange, ...]
    cursor: str
    """Where this page ended: reading from it gives the changes after this page, never one of
    these again. When ``changes`` is empty, the cursor given."""


class WebhookChanges(_Shape):
    """A webhook that verified: the EHR's id for the message (the key against replays), when it
    was signed, and the changes it announced."""

    message_id: str
    signed_at: datetime
    changes: tuple[EHRChange, ...]


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

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        """Up to ``limit`` changes after ``cursor`` (``None``: from the EHR's first), oldest
        first, each once across pages, with the cursor to read on from."""
        ...

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> WebhookChanges:
        """Verify a webhook the EHR sent (its signature, and that it was signed close enough to
        ``now``) and read its changes; ``InvalidWebhook`` when it does not verify or parse."""
        ...

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        """A patient's demographics, contact details and communication preferences;
        ``MissingRecord`` for an id the EHR does not know."""
        ...

    def close(self) -> None:
        """Release connections; called once when the engine stops. No call follows it."""
        ...
