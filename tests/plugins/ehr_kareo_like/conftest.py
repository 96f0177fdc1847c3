"""The booking practice wired to the in-process Kareo-like sandbox, with fault injection."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from tests.support.booking import MONDAY_MORNING
from tests.support.sandbox_ehr import API_KEY, sync_overrides


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
