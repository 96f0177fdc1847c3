"""``KareoLikeAdapter``: the ``EHRAdapter`` for the Kareo-like REST API, over httpx.

Timeouts on every call; quick retries for transient failures (connection errors, 5xx, 429)
within one delivery attempt — safe because every create carries its idempotency key; and
errors mapped onto :mod:`integration_core.errors` so the delivery runner knows what to retry.
Messages never include response bodies (they may hold patient data); a refusal's code is read
from the body's ``error.code`` only to choose one of our own fixed codes.

Staff decisions come back as the EHR's change records, from its feed (``GET /changes``) or in
its webhooks (Standard Webhooks, one change each, verified with the practice's webhook
secret); both read into the same :class:`~integration_core.api.EHRChange`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from integration_core.api import (
    AppointmentState,
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
    verify_standard_webhook,
)

__all__ = ["KareoLikeAdapter"]

STATES: dict[str, AppointmentState] = {
    "Tentative": "tentative",
    "Confirmed": "booked",
    "Declined": "declined",
    "Cancelled": "cancelled",
    "Checked In": "checked_in",
    "Checked Out": "checked_out",
    "No Show": "no_show",
}
"""The EHR's statuses (of an appointment, or of one patient of a group) in the core's words."""
CHANGE_PREFIX = "appointment."
"""A change's ``type`` is this and its kind (``appointment.confirmed``)."""
MESSAGE_TYPE = "appointment.changed"
"""The ``type`` of a webhook announcing a change; the EHR may add others, which carry none."""
REFUSALS = {
    "unknown_provider": "ehr_unknown_provider",
    "unknown_location": "ehr_unknown_location",
    "idempotency_key_reused": "ehr_idempotency_conflict",
}
"""The sandbox's error codes as our stable codes (any other refusal: ``ehr_rejected``; a
cursor its feed never gave is :class:`~integration_core.api.InvalidCursor`)."""


class KareoLikeAdapter:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_seconds: float = 10.0,
        transient_retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        webhook_secret: str | None = None,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"X-API-Key": api_key, "User-Agent": "practice-sync"},
            timeout=timeout_seconds,
            transport=transport,
        )
        self.transient_retries = transient_retries
        self.sleep = sleep
        self.webhook_secret = webhook_secret

    # -- the protocol ---------------------------------------------------------------------

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        body = self._call("POST", "/patients/search", json=query.model_dump(mode="json"))
        return [EHRPatient.model_validate(p) for p in body["patients"]]

    def create_patient(self, patient: NewPatient, *, idempotency_key: str) -> EHRPatient:
        body = self._call(
            "POST", "/patients", json=patient.model_dump(mode="json"), key=idempotency_key
        )
        return EHRPatient.model_validate(body)

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment:
        payload = self._appointment_payload(appointment)
        return self._appointment(
            self._call("POST", "/appointments", json=payload, key=idempotency_key)
        )

    def read_appointment(self, appointment_id: str) -> EHRAppointment:
        return self._appointment(self._call("GET", f"/appointments/{appointment_id}"))

    def read_practice_settings(self) -> EHRPracticeSettings:
        return EHRPracticeSettings.model_validate(self._call("GET", "/practice-settings"))

    def list_providers(self) -> list[EHRProvider]:
        body = self._call("GET", "/providers")
        return [
            EHRProvider(
                id=provider["id"],
                name=provider["name"],
                patient_communications_enabled=provider["patient_communications_enabled"],
            )
            for provider in body["providers"]
        ]

    def list_locations(self) -> list[EHRLocation]:
        body = self._call("GET", "/locations")
        return [
            EHRLocation(id=location["id"], name=location["name"]) for location in body["locations"]
        ]

    def list_visit_reasons(self) -> list[EHRVisitReason]:
        body = self._call("GET", "/visit-reasons")
        return [
            EHRVisitReason(
                id=str(reason["id"]),
                name=reason["name"],
                duration_minutes=reason["duration_minutes"],
            )
            for reason in body["visit_reasons"]
        ]

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["after"] = cursor
        body = self._call("GET", "/changes", params=params)
        try:
            changes = tuple(self._change(change) for change in body["changes"])
            following = body["next_cursor"]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ExternalRejected(
                "the EHR answered changes in a shape this adapter does not read",
                code="ehr_unreadable_answer",
            ) from None
        return ChangePage(changes=changes, cursor=following)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> WebhookChanges:
        named = {name.lower(): value for name, value in headers.items()}
        message_id, signed_at = self._verify(named, body, now)
        try:
            message = json.loads(body)
            changes = (self._change(message["data"]),) if message["type"] == MESSAGE_TYPE else ()
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            raise InvalidWebhook("the webhook's body is not a message this EHR sends") from None
        return WebhookChanges(message_id=message_id, signed_at=signed_at, changes=changes)

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        body = self._call("GET", f"/patients/{patient_id}")
        return EHRPatientContact(
            id=body["id"],
            first_name=body["first_name"],
            last_name=body["last_name"],
            date_of_birth=body["date_of_birth"],
            sex=body["sex"],
            email=body["email"],
            mobile_phone=body["mobile_phone"],
            email_allowed=body["email_allowed"],
            sms_allowed=body["sms_allowed"],
        )

    def close(self) -> None:
        self.client.close()

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _appointment_payload(appointment: NewAppointment) -> dict[str, Any]:
        return {
            "patient_id": appointment.patient_id,
            "provider_id": appointment.provider_id,
            "location_id": appointment.location_id,
            "start": appointment.start.isoformat(),
            "duration_minutes": appointment.duration_minutes,
            "appointment_type": "Telehealth" if appointment.telehealth else "In Person",
            "patient_note": appointment.patient_note,
            "requested_reason": appointment.requested_reason,
            "insurance_carrier": appointment.insurance_carrier,
            "insurance_member_id": appointment.insurance_member_id,
            "insurance_group": appointment.insurance_group,
        }

    @staticmethod
    def _appointment(body: dict[str, Any]) -> EHRAppointment:
        return EHRAppointment(
            id=body["id"],
            patient_id=body["patient_id"],
            provider_id=body["provider_id"],
            location_id=body["location_id"],
            start=body["start"],
            end=body["end"],
            state=STATES[body["status"]],
            telehealth=body["appointment_type"] == "Telehealth",
        )

    def _verify(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> tuple[str, datetime]:
        """The message id and signing time of a webhook signed with the practice's secret
        within the tolerance of ``now`` (``headers`` named in lower case); else
        ``InvalidWebhook``."""
        if not self.webhook_secret:
            raise InvalidWebhook(
                "no webhook secret is configured for this EHR", code="webhook_not_configured"
            )
        verified = verify_standard_webhook(self.webhook_secret, headers, body, now)
        if verified is None:
            raise InvalidWebhook(
                "the webhook's signature did not verify, or it was not signed close to now"
            )
        return verified

    @staticmethod
    def _change(body: dict[str, Any]) -> EHRChange:
        """A change record of the feed or a webhook (``ValueError`` — the protocol's bounds
        included —, ``KeyError``, ``TypeError`` or ``AttributeError`` when it is not one)."""
        appointment = body["appointment"]
        kind = body["type"]
        if not kind.startswith(CHANGE_PREFIX):
            raise ValueError("not an appointment's change")
        visit_reason = appointment["visit_reason_id"]
        if not isinstance(appointment["intake_forms"], list):  # a string would be its letters
            raise TypeError("intake forms are not a list")
        return EHRChange(
            change_id=body["id"],
            appointment_id=body["appointment_id"],
            version=body["version"],
            kind=kind.removeprefix(CHANGE_PREFIX),
            occurred_at=body["occurred_at"],
            patient_id=body["patient_id"],
            state=STATES[appointment["status"]],
            attendees=tuple(
                EHRAttendee(patient_id=attendee["patient_id"], state=STATES[attendee["status"]])
                for attendee in appointment["patients"]
            ),
            group=appointment["group"],
            provider_id=appointment["provider_id"],
            location_id=appointment["location_id"],
            start=appointment["start"],
            duration_minutes=appointment["duration_minutes"],
            telehealth=appointment["appointment_type"] == "Telehealth",
            visit_reason_id=None if visit_reason is None else str(visit_reason),
            intake_forms=tuple(appointment["intake_forms"]),
            staff_reason=appointment["staff_reason"],
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, path, json=json, headers=headers, params=params
                )
                failure = self._failure(response)
            except httpx.TimeoutException:
                failure = ExternalTimeout("the EHR did not answer in time")
            except httpx.TransportError:
                failure = ExternalUnavailable("the EHR could not be reached")
            if failure is None:
                result: dict[str, Any] = response.json()
                return result
            transient = isinstance(failure, ExternalTimeout | ExternalUnavailable | RateLimited)
            if not transient or attempt >= self.transient_retries:
                raise failure
            attempt += 1
            self.sleep(0.2 * 2 ** (attempt - 1))

    @staticmethod
    def _failure(response: httpx.Response) -> Exception | None:
        status = response.status_code
        if status < 400:
            return None
        if status == 429:
            return RateLimited("the EHR asked us to slow down")
        if status >= 500:
            return ExternalUnavailable(f"the EHR answered {status}", code="ehr_unavailable")
        if status == 404:
            return MissingRecord("the EHR has no such record", code="ehr_not_found")
        if status in (401, 403):
            return ExternalRejected("the EHR refused our credentials", code="ehr_unauthorized")
        try:  # only to choose a code: nothing of the body goes into the message
            kind = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            kind = None
        if status == 422 and kind == "invalid_cursor":
            return InvalidCursor("the EHR does not know the change-feed cursor it was given (422)")
        code = REFUSALS.get(kind, "ehr_rejected") if isinstance(kind, str) else "ehr_rejected"
        return ExternalRejected(f"the EHR refused the request ({status}, {code})", code=code)
