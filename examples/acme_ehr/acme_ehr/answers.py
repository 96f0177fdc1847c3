"""What the Acme EHR answers, as pydantic shapes, and each in practice-sync's words.

Acme has its own vocabulary, and this module is where it is translated: people and their
``messaging`` consents, visits and their ``phase``, journal entries and their ``action``.
pydantic checks every answer; its errors quote the values they refused (patient data), so
:func:`read` never passes them on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

from integration_core.api import (
    AppointmentState,
    ChangeKind,
    ChangePage,
    EHRAppointment,
    EHRAttendee,
    EHRChange,
    EHRLocation,
    EHRPatient,
    EHRPatientContact,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
    ExternalUnavailable,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

__all__ = [
    "ACTIONS",
    "JOURNAL_EVENT",
    "PHASES",
    "SEXES",
    "Clinicians",
    "JournalPage",
    "Person",
    "PersonContact",
    "Preferences",
    "SearchPage",
    "Sites",
    "Visit",
    "VisitTypes",
    "WebhookMessage",
    "bad_answer",
    "read",
]

PHASES: dict[str, AppointmentState] = {
    "pencilled": "tentative",
    "confirmed": "booked",
    "turned_down": "declined",
    "cancelled": "cancelled",
    "arrived": "checked_in",
    "completed": "checked_out",
    "did_not_attend": "no_show",
}
"""Acme's phases of a visit (and of each attendee) as the core's states."""

ACTIONS: dict[str, ChangeKind] = {
    "pencilled": "created",
    "booked": "created",
    "confirmed": "confirmed",
    "turned_down": "declined",
    "cancelled": "cancelled",
    "moved": "rescheduled",
    "arrived": "checked_in",
    "completed": "checked_out",
    "did_not_attend": "no_show",
}
"""Acme's journal actions as the core's kinds of change: a visit requested through the API
(``pencilled``) and one booked by staff are both ``created``."""

SEXES = {"F": "female", "M": "male", "O": "other"}
"""Acme's genders as the core's sexes (``U``, unknown, is none)."""

JOURNAL_EVENT = "journal.appended"
"""The webhook event that carries journal entries."""


def bad_answer() -> ExternalUnavailable:
    # Transient: a proxy's error page or a half-deployed EHR; if Acme really changed its API,
    # the delivery dead-letters after its retries, and a fixed adapter replays it.
    return ExternalUnavailable(
        "the Acme EHR answered something this adapter cannot read", code="ehr_bad_answer"
    )


class _AcmeShape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)


Shape = TypeVar("Shape", bound=_AcmeShape)
Ours = TypeVar("Ours")


def read(shape: type[Shape], answer: dict[str, Any], convert: Callable[[Shape], Ours]) -> Ours:
    """``answer`` checked as ``shape`` and converted; anything unreadable is :func:`bad_answer`
    (an unknown phase or action too: a ``KeyError`` of the tables above)."""
    try:
        return convert(shape.model_validate(answer))
    except (ValidationError, KeyError):
        raise bad_answer() from None


# -- people -------------------------------------------------------------------------------------


class _Name(_AcmeShape):
    given: str
    family: str


class Person(_AcmeShape):
    person_id: str
    name: _Name
    birth_date: date

    def as_patient(self) -> EHRPatient:
        return EHRPatient(
            id=self.person_id,
            first_name=self.name.given,
            last_name=self.name.family,
            date_of_birth=self.birth_date,
        )


class SearchPage(_AcmeShape):
    people: list[Person]
    next_page_token: str | None = None

    def as_page(self) -> tuple[list[EHRPatient], str | None]:
        return [person.as_patient() for person in self.people], self.next_page_token


class _Contact(_AcmeShape):
    email: str  # "" when Acme has none
    mobile: str


class _Messaging(_AcmeShape):
    by_email: bool
    by_text: bool


class PersonContact(Person):
    """A person as ``GET /people/{id}`` answers: with contact details and consents."""

    gender: str
    contact: _Contact
    messaging: _Messaging

    def as_contact(self) -> EHRPatientContact:
        return EHRPatientContact(
            **self.as_patient().model_dump(),
            sex=SEXES.get(self.gender),
            email=self.contact.email or None,
            mobile_phone=self.contact.mobile or None,
            email_allowed=self.messaging.by_email,
            sms_allowed=self.messaging.by_text,
        )


# -- visits and the journal ---------------------------------------------------------------------


class _Attendee(_AcmeShape):
    person_id: str
    phase: str


class Visit(_AcmeShape):
    visit_id: str
    format: Literal["individual", "group"]
    attendees: list[_Attendee] = Field(min_length=1)
    clinician_id: str
    site_id: str
    begins: AwareDatetime
    length_minutes: int
    mode: str
    phase: str
    visit_type_id: str | None
    forms: list[str]
    staff_note: str | None

    def as_appointment(self) -> EHRAppointment:
        return EHRAppointment(
            id=self.visit_id,
            patient_id=self.attendees[0].person_id,
            provider_id=self.clinician_id,
            location_id=self.site_id,
            start=self.begins,
            end=self.begins + timedelta(minutes=self.length_minutes),
            state=PHASES[self.phase],  # an unknown phase is an answer we cannot read
            telehealth=self.mode == "virtual",
        )


class _Entry(_AcmeShape):
    entry_id: str
    visit_id: str
    revision: int = Field(ge=1)
    action: str
    recorded_at: AwareDatetime
    person_id: str | None
    visit: Visit

    def as_change(self) -> EHRChange:
        visit = self.visit
        return EHRChange(
            change_id=self.entry_id,
            appointment_id=self.visit_id,
            version=self.revision,
            kind=ACTIONS[self.action],
            occurred_at=self.recorded_at,
            patient_id=self.person_id,
            state=PHASES[visit.phase],
            attendees=tuple(
                EHRAttendee(patient_id=attendee.person_id, state=PHASES[attendee.phase])
                for attendee in visit.attendees
            ),
            group=visit.format == "group",
            provider_id=visit.clinician_id,
            location_id=visit.site_id,
            start=visit.begins,
            duration_minutes=visit.length_minutes,
            telehealth=visit.mode == "virtual",
            visit_reason_id=visit.visit_type_id,
            intake_forms=tuple(visit.forms),
            staff_reason=visit.staff_note,
        )


class JournalPage(_AcmeShape):
    entries: list[_Entry]
    resume_after: str

    def as_change_page(self) -> ChangePage:
        return ChangePage(
            changes=tuple(entry.as_change() for entry in self.entries), cursor=self.resume_after
        )


class WebhookMessage(_AcmeShape):
    event: str
    entries: list[_Entry] = []

    def as_changes(self) -> tuple[EHRChange, ...]:
        # An event this adapter does not know carries no visit changes: it is acknowledged
        # with none, so Acme stops resending it, rather than refused for ever.
        if self.event != JOURNAL_EVENT:
            return ()
        return tuple(entry.as_change() for entry in self.entries)


# -- the practice and its directory -------------------------------------------------------------


class Preferences(_AcmeShape):
    patient_surveys: bool
    online_booking: bool
    clinician_profiles_public: bool
    web_presence: bool
    intake_forms: bool

    def as_settings(self) -> EHRPracticeSettings:
        return EHRPracticeSettings(
            surveys_enabled=self.patient_surveys,
            online_scheduler_enabled=self.online_booking,
            provider_profiles_published=self.clinician_profiles_public,
            online_presence_enabled=self.web_presence,
            intake_forms_enabled=self.intake_forms,
        )


class _Clinician(_AcmeShape):
    clinician_id: str
    display_name: str
    patient_messaging: bool


class Clinicians(_AcmeShape):
    clinicians: list[_Clinician]

    def as_providers(self) -> list[EHRProvider]:
        return [
            EHRProvider(
                id=clinician.clinician_id,
                name=clinician.display_name,
                patient_communications_enabled=clinician.patient_messaging,
            )
            for clinician in self.clinicians
        ]


class _Site(_AcmeShape):
    site_id: str
    label: str


class Sites(_AcmeShape):
    sites: list[_Site]

    def as_locations(self) -> list[EHRLocation]:
        return [EHRLocation(id=site.site_id, name=site.label) for site in self.sites]


class _VisitType(_AcmeShape):
    visit_type_id: str
    label: str
    default_length_minutes: int | None  # None: staff set the length per visit


class VisitTypes(_AcmeShape):
    visit_types: list[_VisitType]

    def as_visit_reasons(self) -> list[EHRVisitReason]:
        return [
            EHRVisitReason(
                id=kind.visit_type_id,
                name=kind.label,
                duration_minutes=kind.default_length_minutes,
            )
            for kind in self.visit_types
        ]
