"""``KareoLikeAdapter``: the ``EHRAdapter`` for the Kareo-like REST API, over httpx.

Timeouts on every call; quick retries for transient failures (connection errors, 5xx, 429)
within one delivery attempt — safe because every create carries its idempotency key; and
errors mapped onto :mod:`integration_core.errors` so the delivery runner knows what to retry.
Messages never include response bodies (they may hold patient data); a refusal's code is read
from the body's ``error.code`` only to choose one of our own fixed codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from integration_core.api import (
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
)

__all__ = ["KareoLikeAdapter"]

STATES = {
    "Tentative": "tentative",
    "Confirmed": "booked",
    "Checked In": "checked_in",
    "Checked Out": "checked_out",
    "Cancelled": "cancelled",
}
REFUSALS = {
    "unknown_provider": "ehr_unknown_provider",
    "unknown_location": "ehr_unknown_location",
    "idempotency_key_reused": "ehr_idempotency_conflict",
}
"""The sandbox's error codes as our stable codes (any other refusal: ``ehr_rejected``)."""


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
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"X-API-Key": api_key, "User-Agent": "practice-sync"},
            timeout=timeout_seconds,
            transport=transport,
        )
        self.transient_retries = transient_retries
        self.sleep = sleep

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

    def _call(
        self, method: str, path: str, *, json: Any = None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        attempt = 0
        while True:
            try:
                response = self.client.request(method, path, json=json, headers=headers)
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
        code = REFUSALS.get(kind, "ehr_rejected") if isinstance(kind, str) else "ehr_rejected"
        return ExternalRejected(f"the EHR refused the request ({status}, {code})", code=code)
