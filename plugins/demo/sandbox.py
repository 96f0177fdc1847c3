"""The sandbox EHR as the demo sees it: its REST API, as anyone at the practice could call it.

The demo runs the bundled Kareo-like sandbox as its own server (``practice-sync sandbox-ehr``)
and reaches it over HTTP, never through the EHR adapter's code: patients already on file are
entered there, what the sync wrote is read back from there, and so is the change feed, to know
when practice-sync has heard of every change. The staff act through the sandbox's own staff
client (``StaffClient``), over HTTP too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import click
import httpx
from pydantic import BaseModel

from integration_core.api import EHRPatient

__all__ = ["SandboxAppointment", "SandboxEHR", "VisitReason"]

FEED_PAGE = 500


class SandboxAppointment(BaseModel):
    id: str
    patient_id: str
    provider_id: str
    location_id: str
    start: datetime
    status: str


class VisitReason(BaseModel):
    id: int
    name: str
    duration_minutes: int | None


class SandboxEHR:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.client = httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=10)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, f"/api/v1{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def enter_patient(self, first: str, last: str, born: date, *, key: str) -> None:
        """A patient on file, as the practice's staff would have entered them."""
        body = {
            "first_name": first,
            "last_name": last,
            "date_of_birth": born.isoformat(),
            "sex": "unknown",
            "email": f"{first.lower()}.on-file@example.com",
            "phone": "+16175550101",
        }
        self._call("POST", "/patients", json=body, headers={"Idempotency-Key": key})

    def patients(self, first: str, last: str, born: date) -> list[EHRPatient]:
        """Everyone the EHR holds with this birth date (the name is compared by the caller)."""
        body = {"first_name": first, "last_name": last, "date_of_birth": born.isoformat()}
        found = self._call("POST", "/patients/search", json=body)["patients"]
        return [EHRPatient.model_validate(patient, strict=False) for patient in found]

    def appointment(self, appointment_id: str) -> SandboxAppointment:
        return SandboxAppointment.model_validate(
            self._call("GET", f"/appointments/{quote(appointment_id, safe='')}")
        )

    def visit_reason(self, reason_id: int) -> VisitReason:
        for reason in self._call("GET", "/visit-reasons")["visit_reasons"]:
            if reason["id"] == reason_id:
                return VisitReason.model_validate(reason)
        raise click.ClickException(f"the sandbox EHR has no visit reason {reason_id}")

    def change_count(self) -> int:
        """How many changes the EHR has made to appointments, read from its feed."""
        count, cursor = 0, None
        while True:
            params = {"limit": FEED_PAGE} | ({} if cursor is None else {"after": cursor})
            page = self._call("GET", "/changes", params=params)
            if not page["changes"]:
                return count
            count, cursor = count + len(page["changes"]), page["next_cursor"]

    def close(self) -> None:
        self.client.close()
