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
* Acme announces what staff do to visits in its journal (read from a cursor) and in webhooks
  signed with Standard Webhooks; both carry the same entries, translated by
  :mod:`acme_ehr.answers` into the core's changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from integration_core.api import (
    ChangePage,
    EHRAppointment,
    EHRLocation,
    EHRPatient,
    EHRPatientContact,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
    ExternalRejected,
    ExternalTimeout,
    ExternalUnavailable,
    InvalidCursor,
    InvalidWebhook,
    MissingRecord,
    NewAppointment,
    NewPatient,
    PatientQuery,
    RateLimited,
    WebhookChanges,
    same_name,
    verify_standard_webhook,
)
from pydantic import ValidationError

from acme_ehr.answers import (
    Clinicians,
    JournalPage,
    Person,
    PersonContact,
    Preferences,
    SearchPage,
    Sites,
    Visit,
    VisitTypes,
    WebhookMessage,
    bad_answer,
    read,
)

__all__ = ["AcmeEHRAdapter"]

GENDERS = {"female": "F", "male": "M", "other": "O"}
MAX_SEARCH_PAGES = 20
"""A search past this many pages is refused rather than followed for ever."""
MAX_JOURNAL_PAGE = 200
"""The most entries Acme answers in one journal page."""

REJECTIONS = {
    "idempotency_token_reused": "ehr_idempotency_conflict",
    "unknown_reference": "ehr_unknown_reference",
    "invalid_body": "ehr_invalid_request",
    "invalid_header": "ehr_invalid_request",
    "invalid_query": "ehr_invalid_request",
}
"""Acme's fault kinds as our stable error codes (any other kind: ``ehr_rejected``;
``invalid_cursor`` is ``InvalidCursor``)."""


class AcmeEHRAdapter:
    """The Acme EHR at ``base_url`` (its ``/v2`` API lives under it), authenticated by
    ``api_key``; its webhooks are signed with ``webhook_secret`` (none: every webhook is
    refused). ``transport`` is the test seam (``httpx.MockTransport``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        webhook_secret: str | None = None,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._webhook_secret = webhook_secret
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
            patients, next_page = read(SearchPage, answer, SearchPage.as_page)
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
        return read(Person, answer, Person.as_patient)

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
            "requestedReason": appointment.requested_reason,
            "coverage": {
                "payer": appointment.insurance_carrier,
                "memberNumber": appointment.insurance_member_id,
                "groupNumber": appointment.insurance_group,
            },
        }
        answer = self._call("POST", "/visits", json=payload, idempotency_key=idempotency_key)
        return read(Visit, answer, Visit.as_appointment)

    def read_appointment(self, appointment_id: str) -> EHRAppointment:
        answer = self._call("GET", f"/visits/{quote(appointment_id, safe='')}")
        return read(Visit, answer, Visit.as_appointment)

    def read_practice_settings(self) -> EHRPracticeSettings:
        answer = self._call("GET", "/practice/preferences")
        return read(Preferences, answer, Preferences.as_settings)

    def list_providers(self) -> list[EHRProvider]:
        # Acme calls them clinicians; "patient messaging" is its patient communications switch.
        answer = self._call("GET", "/clinicians")
        return read(Clinicians, answer, Clinicians.as_providers)

    def list_locations(self) -> list[EHRLocation]:
        answer = self._call("GET", "/sites")
        return read(Sites, answer, Sites.as_locations)

    def list_visit_reasons(self) -> list[EHRVisitReason]:
        answer = self._call("GET", "/visit-types")
        return read(VisitTypes, answer, VisitTypes.as_visit_reasons)

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        # Acme's journal is the change feed: its entries are our changes, in the order they
        # happened, and its resumeAfter token our cursor, passed back as it came.
        params: dict[str, Any] = {"pageSize": min(max(limit, 1), MAX_JOURNAL_PAGE)}
        if cursor is not None:
            params["after"] = cursor
        answer = self._call("GET", "/journal", params=params)
        return read(JournalPage, answer, JournalPage.as_change_page)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> WebhookChanges:
        if not self._webhook_secret:
            raise InvalidWebhook(
                "no Acme webhook secret is configured for this practice",
                code="webhook_not_configured",
            )
        # Verify the bytes as they came, before parsing them, against the caller's clock.
        lowered = {name.lower(): value for name, value in headers.items()}
        verified = verify_standard_webhook(self._webhook_secret, lowered, body, now)
        if verified is None:
            raise InvalidWebhook(
                "the Acme webhook's signature did not verify, or it was not signed within "
                "five minutes of now",
                code="webhook_signature_invalid",
            )
        message_id, signed_at = verified
        try:
            changes = WebhookMessage.model_validate_json(body).as_changes()
        except (ValidationError, KeyError):
            raise InvalidWebhook(
                "the Acme webhook verified, but its body cannot be read",
                code="webhook_unreadable",
            ) from None
        return WebhookChanges(message_id=message_id, signed_at=signed_at, changes=changes)

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        answer = self._call("GET", f"/people/{quote(patient_id, safe='')}")
        return read(PersonContact, answer, PersonContact.as_contact)

    def close(self) -> None:
        """Close the connection pool (the core calls this when it shuts down)."""
        self._client.close()

    # -- plumbing -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Token": idempotency_key} if idempotency_key else {}
        try:
            response = self._client.request(method, path, json=json, params=params, headers=headers)
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
            raise bad_answer()
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
    if kind == "invalid_cursor":  # a token the journal never gave: read from its start instead
        raise InvalidCursor(f"the Acme EHR does not know the journal cursor ({status})")
    code = REJECTIONS.get(kind, "ehr_rejected") if isinstance(kind, str) else "ehr_rejected"
    raise ExternalRejected(f"the Acme EHR refused the request ({status}, {code})", code=code)
