"""The booking practice wired to the in-process Kareo-like sandbox, with fault injection."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from integration_core.settings import RetrySettings
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.store import SandboxPatient, SandboxStore, now
from tests.conftest import API_KEY, drain
from tests.plugins.growth_platform.conftest import MONDAY_MORNING, booking, booking_overrides


def sync_overrides(sandbox_url: str, messages: Path) -> dict[str, Any]:
    """The booking practice with the sandbox as its EHR; patient messages go to files."""
    overrides = copy.deepcopy(booking_overrides())
    overrides["practices"]["acme"]["ehr_adapter"] = "kareo_like"
    overrides["retry"] = RetrySettings().model_dump()  # the production defaults: a 6-hour window
    overrides["plugins"]["config"]["ehr_kareo_like"] = {
        "sandbox": {"database_url": sandbox_url, "api_key": API_KEY},
        "practices": {"acme": {"transient_retries": 0}},
    }
    overrides["plugins"]["config"]["notifications"] = {
        "file_folder": str(messages),
        "practices": {"acme": {"email_channel": "file"}},
    }
    return overrides


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock, sandbox_url, network, tmp_path):
    ps_clock.set(MONDAY_MORNING)
    runtime = ps_runtime_factory(**sync_overrides(sandbox_url, tmp_path / "messages"))
    adapter = KareoLikeAdapter(
        "http://sandbox-ehr", API_KEY, transport=network, transient_retries=0
    )
    runtime.ehr.use("acme", adapter)
    return runtime


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def existing_patient(store: SandboxStore, first: str, last: str, dob: date) -> str:
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


def book_and_sync(client, runtime, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/practices/acme/widget/requests", json=booking(**overrides))
    assert response.status_code == 201, response.text
    drain(runtime)
    return dict(response.json())
