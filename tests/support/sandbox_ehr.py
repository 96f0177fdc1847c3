"""The in-process Kareo-like sandbox EHR as tests use it: its API key, a faulty network in front
of it, an adapter that refuses appointments until told not to, patients already on file, and
the booking practice syncing to it."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from integration_core.api import EHRAppointment, ExternalRejected, NewAppointment
from integration_core.runtime import Runtime
from integration_core.settings import RetrySettings
from integration_core.testing import drain
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.store import SandboxPatient, SandboxStore, now
from tests.support.booking import booking, booking_overrides

API_KEY = "sandbox-key"


class FaultyNetwork(httpx.BaseTransport):
    """Between the adapter and the EHR: can be down, or lose a response after the EHR acted."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.lose_responses: list[str] = []
        self.calls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.down:
            raise httpx.ConnectError("connection refused")
        response = self.inner.handle_request(request)
        path = request.url.path
        if path in self.lose_responses:
            self.lose_responses.remove(path)
            raise httpx.ReadTimeout("the response never arrived")
        return response


class RefusesAppointments(KareoLikeAdapter):
    """The Kareo-like adapter, but the EHR refuses every new appointment while ``refusing``:
    a permanent failure, so the sync's delivery goes dead at once."""

    refusing = True

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment:
        if self.refusing:
            raise ExternalRejected("the EHR refused the appointment", code="ehr_rejected")
        return super().create_tentative_appointment(appointment, idempotency_key=idempotency_key)


def existing_patient(store: SandboxStore, first: str, last: str, dob: date) -> str:
    """Put a patient on file in the sandbox EHR, as if entered there; returns their EHR id."""
    with store.transaction() as session:
        row = SandboxPatient(
            id=f"PAT-SEED{len(first)}{len(last)}{dob.day}{session.query(SandboxPatient).count()}",
            first_name=first,
            last_name=last,
            date_of_birth=dob,
            sex="female",
            email="on-file@example.com",
            phone="+16175550100",
            created_at=now(),
        )
        session.add(row)
    return row.id


def sync_overrides(sandbox_url: str, messages: Path) -> dict[str, Any]:
    """The booking practice with the sandbox as its EHR; patient messages go to files."""
    overrides = copy.deepcopy(booking_overrides())
    overrides["practices"]["acme"]["ehr_adapter"] = "kareo_like"
    overrides["retry"] = RetrySettings().model_dump()  # the production defaults: a 6-hour window
    overrides["plugins"]["config"]["ehr_kareo_like"] = {
        "sandbox": {"database_url": sandbox_url, "api_key": API_KEY},
        "practices": {"acme": {"sandbox": True, "transient_retries": 0}},
    }
    overrides["plugins"]["config"]["notifications"] = {
        "file_folder": str(messages),
        "practices": {"acme": {"email_channel": "file"}},
    }
    return overrides


def book_and_sync(client: TestClient, runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    """Post a widget request (``booking(**overrides)``) and run the deliveries it sets off."""
    response = client.post("/v1/practices/acme/widget/requests", json=booking(**overrides))
    assert response.status_code == 201, response.text
    drain(runtime)
    return dict(response.json())
