"""The booking practice wired to the in-process Kareo-like sandbox, with fault injection."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from integration_core.settings import RetrySettings
from integration_core.testing import drain
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from tests.plugins.growth_platform.conftest import MONDAY_MORNING, booking, booking_overrides
from tests.support.sandbox_ehr import API_KEY


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


def book_and_sync(client, runtime, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/practices/acme/widget/requests", json=booking(**overrides))
    assert response.status_code == 201, response.text
    drain(runtime)
    return dict(response.json())
