"""The booking practice (``tests.support.booking``) as a migrated runtime and its HTTP client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from tests.support.booking import MONDAY_MORNING, booking_overrides


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock):
    ps_clock.set(MONDAY_MORNING)
    return ps_runtime_factory(**booking_overrides())


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
