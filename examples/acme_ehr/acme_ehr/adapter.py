"""``AcmeEHRAdapter``: practice-sync's ``EHRAdapter`` for the Acme EHR's REST API, over httpx.

* One adapter serves one practice and is shared by the delivery worker threads: it keeps no
  per-call state, and its ``httpx.Client`` (a connection pool) is safe to share.
* Every call has a timeout. Failures become the core's error types, which decide what the
  delivery runner does: ``ExternalUnavailable`` / ``ExternalTimeout`` / ``RateLimited`` are
  retried later, ``ExternalRejected`` / ``MissingRecord`` dead-letter at once. No retries here:
  a delivery attempt is cheap, and its backoff is the runner's.
* Creates pass the core's idempotency key on as Acme's ``Idempotency-Token``, so a retry after
  a lost answer gets the same person or visit back.
* Error messages carry the HTTP status and a fixed code, never a response body: Acme's answers
  hold patient data, and messages are stored and shown to staff.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from integration_core.api import (
    AppointmentState,
    EHRAppointment,
    EHRLocation,
    EHRPatient,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
    ExternalRejected,
    ExternalTimeout,
    ExternalUnavailable,
    MissingRecord,
    NewAppointment,
    NewPatient,
    PatientQuery,
    RateLimited,
    same_name,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

__all__ = ["AcmeEHRAdapter"]

PHASES: dict[str, AppointmentState] = {
    "pencilled": "tentative",
    "confirmed": "booked",
    "arrived": "checked_in",
    "completed": "checked_out",
    "cancelled": "cancelled",
}
GENDERS = {"female": "F", "male": "M", "other": "O"}
MAX_SEARCH_PAGES = 20
"""A search past this many pages is refused rather than followed for ever."""

REJECTIONS = {
    "idempotency_token_reused": "ehr_idempotency_conflict",
    "unknown_reference": "ehr_unknown_reference",
    "invalid_body": "ehr_invalid_request",
    "invalid_header": "ehr_invalid_request",
}
"""Acme's fault kinds as our stable error codes (any other kind: ``ehr_rejected``)."""


class AcmeEHRAdapter:
    """The Acme EHR at ``base_url`` (its ``/v2`` API lives under it), authenticated by
    ``api_key``. ``transport`` is the test seam (``httpx.MockTransport``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/v2",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "acme-ehr-practice-sync"},
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
            transport=transport,
        )

    # -- the EHRAdapter protocol ----------------------------------------------------------

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        # Acme searches by birth date only, and its names are stored as typed: compare them
        # here as the core does (case, Unicode form and spacing do not matter).
        found: list[EHRPatient] = []
        body: dict[str, Any] = {"birthDate": query.date_of_birth.isoformat()}
        for _page in range(MAX_SEARCH_PAGES):
            answer = self._call("POST", "/people:search", json=body)
            patients, next_page = _read(_SearchPage, answer, _SearchPage.as_page)
            found.extend(
                patient
                for patient in patients
                if same_name(patient.first_name, query.first_name)
                and same_name(patient.last_name, query.last_name)
            )
            if not next_page:
                return found
            body["pageToken"] = next_page
        raise ExternalRejected(
            f"the Acme EHR's search went past {MAX_SEARCH_PAGES} pages", code="ehr_search_too_long"
        )

    def create_patient(self, patient: NewPatient, *, idempotency_key: str) -> EHRPatient:
        payload = {
            "name": {"given": patient.first_name, "family": patient.last_name},
            "birthDate": patient.date_of_birth.isoformat(),
            "gender": GENDERS.get(patient.sex, "U"),
            "contact": {"email": patient.email, "mobile": patient.phone},
        }
        answer = self._call("POST", "/people", json=payload, idempotency_key=idempotency_key)
        return _read(_Person, answer, _Person.as_patient)

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment:
        payload = {
            "personId": appointment.patient_id,
            "clinicianId": appointment.provider_id,
            "siteId": appointment.location_id,
            "begins": appointment.start.astimezone(UTC).isoformat(),
            "lengthMinutes": appointment.duration_minutes,
            "mode": "virtual" if appointment.telehealth else "in_person",
            "memo": appointment.patient_note,
            "coverage": {
                "payer": appointment.insurance_carrier,
                "memberNumber": appointment.insurance_member_id,
                "groupNumber": appointment.insurance_group,
            },
        }
        answer = self._call("POST", "/visits", json=payload, idempotency_key=idempotency_key)
        return _read(_Visit, answer, _Visit.as_appointment)

    def read_appointment(self, appointment_id: str) -> EHRAppointment:
        answer = self._call("GET", f"/visits/{quote(appointment_id, safe='')}")
        return _read(_Visit, answer, _Visit.as_appointment)

    def read_practice_settings(self) -> EHRPracticeSettings:
        answer = self._call("GET", "/practice/preferences")
        return _read(_Preferences, answer, _Preferences.as_settings)

    def list_providers(self) -> list[EHRProvider]:
        # Acme calls them clinicians; "patient messaging" is its patient communications switch.
        answer = self._call("GET", "/clinicians")
        return _read(_Clinicians, answer, _Clinicians.as_providers)

    def list_locations(self) -> list[EHRLocation]:
        answer = self._call("GET", "/sites")
        return _read(_Sites, answer, _Sites.as_locations)

    def list_visit_reasons(self) -> list[EHRVisitReason]:
        answer = self._call("GET", "/visit-types")
        return _read(_VisitTypes, answer, _VisitTypes.as_visit_reasons)

    def close(self) -> None:
        """Close the connection pool (the core calls this when it shuts down)."""
        self._client.close()

    # -- plumbing -------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, json: Any = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Token": idempotency_key} if idempotency_key else {}
        try:
            response = self._client.request(method, path, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise ExternalTimeout(
                f"the Acme EHR did not answer in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise ExternalUnavailable(
                f"the Acme EHR could not be reached ({type(exc).__name__})"
            ) from None
        _raise_for_status(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise _bad_answer()
        return answer


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raise RateLimited("the Acme EHR asked us to slow down (429)")
    if status >= 500:
        raise ExternalUnavailable(f"the Acme EHR answered {status}", code="ehr_unavailable")
    if status in (401, 403):
        raise ExternalRejected(
            f"the Acme EHR refused our credentials ({status})", code="ehr_unauthorized"
        )
    try:  # only to choose a code: nothing of the body goes into the message
        kind = response.json()["fault"]["kind"]
    except (ValueError, KeyError, TypeError):
        kind = None
    if status == 404 and kind == "not_found":
        raise MissingRecord("the Acme EHR has no such record (404)", code="ehr_not_found")
    if status == 404:  # not Acme's answer: a wrong base_url, or a proxy in the way
        raise ExternalRejected(
            "the Acme EHR has no such route (404): check its base_url", code="ehr_no_such_route"
        )
    code = REJECTIONS.get(kind, "ehr_rejected") if isinstance(kind, str) else "ehr_rejected"
    raise ExternalRejected(f"the Acme EHR refused the request ({status}, {code})", code=code)


def _bad_answer() -> ExternalUnavailable:
    # Transient: a proxy's error page or a half-deployed EHR; if Acme really changed its API,
    # the delivery dead-letters after its retries, and a fixed adapter replays it.
    return ExternalUnavailable(
        "the Acme EHR answered something this adapter cannot read", code="ehr_bad_answer"
    )


# -- Acme's shapes (pydantic checks them; its errors quote values, so they are not passed on) --


class _AcmeShape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)


Shape = TypeVar("Shape", bound=_AcmeShape)
Ours = TypeVar("Ours")


def _read(shape: type[Shape], answer: dict[str, Any], convert: Callable[[Shape], Ours]) -> Ours:
    try:
        return convert(shape.model_validate(answer))
    except (ValidationError, KeyError):
        raise _bad_answer() from None


class _Name(_AcmeShape):
    given: str
    family: str


class _Person(_AcmeShape):
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


class _SearchPage(_AcmeShape):
    people: list[_Person]
    next_page_token: str | None = None

    def as_page(self) -> tuple[list[EHRPatient], str | None]:
        return [person.as_patient() for person in self.people], self.next_page_token


class _Visit(_AcmeShape):
    visit_id: str
    person_id: str
    clinician_id: str
    site_id: str
    begins: AwareDatetime
    length_minutes: int
    mode: str
    phase: str

    def as_appointment(self) -> EHRAppointment:
        return EHRAppointment(
            id=self.visit_id,
            patient_id=self.person_id,
            provider_id=self.clinician_id,
            location_id=self.site_id,
            start=self.begins,
            end=self.begins + timedelta(minutes=self.length_minutes),
            state=PHASES[self.phase],  # an unknown phase is an answer we cannot read
            telehealth=self.mode == "virtual",
        )


class _Preferences(_AcmeShape):
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


class _Clinicians(_AcmeShape):
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


class _Sites(_AcmeShape):
    sites: list[_Site]

    def as_locations(self) -> list[EHRLocation]:
        return [EHRLocation(id=site.site_id, name=site.label) for site in self.sites]


class _VisitType(_AcmeShape):
    visit_type_id: str
    label: str
    default_length_minutes: int | None  # None: staff set the length per visit


class _VisitTypes(_AcmeShape):
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
