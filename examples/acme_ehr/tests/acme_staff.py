"""Staff at the fake Acme EHR's front desk, over its API, as a practice's staff would work: the
conformance kit's ``EHRStaff`` for Acme, and the hands of this example's own tests.

It speaks Acme (visits are confirmed with a visit type, turned down, moved, arrived …) and
takes the kit's words for it; an action Acme refuses raises ``httpx.HTTPStatusError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx
from integration_core.testing import NewPatientContact, SentWebhook

from acme_ehr.adapter import GENDERS
from acme_ehr.fake_server import FakeAcmeEHR

__all__ = ["AcmeStaff"]


class AcmeStaff:
    """The front desk of ``server``, signed in with ``api_key``; :meth:`close` when done."""

    def __init__(self, server: FakeAcmeEHR, api_key: str) -> None:
        self._server = server
        self._client = httpx.Client(
            base_url=f"{server.base_url}/v2",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=5,
        )

    def close(self) -> None:
        self._client.close()

    def confirm(
        self,
        appointment_id: str,
        *,
        visit_reason_id: str,
        start: datetime | None = None,
        intake_forms: Sequence[str] = (),
    ) -> None:
        body: dict[str, Any] = {"visitTypeId": visit_reason_id, "forms": list(intake_forms)}
        if start is not None:
            body["begins"] = start.isoformat()
        self._act(appointment_id, "confirm", body)

    def decline(self, appointment_id: str, *, reason: str) -> None:
        self._act(appointment_id, "turnDown", {"note": reason})

    def cancel(self, appointment_id: str, *, reason: str) -> None:
        self._act(appointment_id, "cancel", {"note": reason})

    def reschedule(self, appointment_id: str, *, start: datetime) -> None:
        self._act(appointment_id, "move", {"begins": start.isoformat()})

    def check_in(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        self._act(appointment_id, "arrive", {"personId": patient_id})

    def check_out(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        self._act(appointment_id, "complete", {"personId": patient_id})

    def no_show(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        self._act(appointment_id, "markDidNotAttend", {"personId": patient_id})

    def add_patient(self, patient: NewPatientContact) -> str:
        body = {
            "name": {"given": patient.first_name, "family": patient.last_name},
            "birthDate": patient.date_of_birth.isoformat(),
            "gender": GENDERS.get(patient.sex or "", "U"),
            "contact": {"email": patient.email or "", "mobile": patient.mobile_phone or ""},
            "messaging": {"byEmail": patient.email_allowed, "byText": patient.sms_allowed},
        }
        token = {"Idempotency-Token": uuid4().hex}
        return str(self._post("/people", body, headers=token)["personId"])

    def book(
        self,
        *,
        patient_id: str,
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: str,
        telehealth: bool = False,
    ) -> str:
        return self._book(
            [patient_id], provider_id, location_id, start, visit_reason_id, telehealth
        )

    def book_group(
        self,
        *,
        patient_ids: Sequence[str],
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: str,
    ) -> str:
        return self._book(
            list(patient_ids), provider_id, location_id, start, visit_reason_id, False
        )

    def webhooks_sent(self) -> list[SentWebhook]:
        # The fake signs a message as it journals each change, so all are there already.
        return [SentWebhook(sent.headers, sent.body) for sent in self._server.webhooks]

    def _book(
        self,
        people: list[str],
        clinician: str,
        site: str,
        start: datetime,
        visit_type: str,
        virtual: bool,
    ) -> str:
        body = {
            "personIds": people,
            "clinicianId": clinician,
            "siteId": site,
            "begins": start.isoformat(),
            "visitTypeId": visit_type,
            "mode": "virtual" if virtual else "in_person",
        }
        return str(self._post("/visits:book", body)["visitId"])

    def _act(self, visit_id: str, verb: str, body: dict[str, Any]) -> None:
        self._post(f"/visits/{quote(visit_id, safe='')}:{verb}", body)

    def _post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = self._client.post(path, json=body, headers=headers)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer
