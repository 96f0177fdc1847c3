"""The in-process Kareo-like sandbox EHR as tests use it: its API key, a faulty network in front
of it, and patients already on file."""

from __future__ import annotations

from datetime import date

import httpx

from plugins.ehr_kareo_like.sandbox.store import SandboxPatient, SandboxStore, now

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
