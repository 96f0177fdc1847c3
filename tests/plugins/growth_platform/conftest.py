"""The booking practice (``tests.support.booking``) as a migrated runtime and its HTTP client;
and the same practice syncing to an EHR that refuses its appointments until told not to."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from tests.support.booking import MONDAY_MORNING, booking_overrides
from tests.support.sandbox_ehr import API_KEY, RefusesAppointments, sync_overrides


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock):
    ps_clock.set(MONDAY_MORNING)
    return ps_runtime_factory(**booking_overrides())


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def refusing_ehr(ps_runtime_factory, ps_clock, sandbox_url, network, tmp_path):
    """``(runtime, client, adapter)``: the booking practice syncing to the sandbox EHR through
    an adapter that refuses every appointment until ``adapter.refusing = False``."""
    ps_clock.set(MONDAY_MORNING)
    runtime = ps_runtime_factory(**sync_overrides(sandbox_url, tmp_path / "messages"))
    adapter = RefusesAppointments(
        "http://sandbox-ehr", API_KEY, transport=network, transient_retries=0
    )
    runtime.ehr.use("acme", adapter)
    with TestClient(create_app(runtime)) as client:
        yield runtime, client, adapter
