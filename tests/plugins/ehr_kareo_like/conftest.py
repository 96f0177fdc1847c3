"""The booking practice wired to the in-process Kareo-like sandbox, with fault injection; the
sandbox's own store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from integration_core.testing.services import postgres_schema_url
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxStore]:
    """A sandbox EHR's store of its own, on SQLite or on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        sandbox = SandboxStore(f"sqlite:///{tmp_path / 'sandbox-ehr.db'}")
        yield sandbox
        sandbox.dispose()
    else:
        with postgres_schema_url() as url:
            sandbox = SandboxStore(url)
            yield sandbox
            sandbox.dispose()
