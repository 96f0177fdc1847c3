"""Shared fixtures: the in-process sandbox EHR and a faulty network in front of it. The
engine's fixtures come from ``integration_core.testing``; helpers live in ``tests.support``."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.ehr_kareo_like.plugin import inprocess_sandbox
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.sandbox_ehr import API_KEY, FaultyNetwork


@pytest.fixture
def sandbox_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sandbox-ehr.db'}"


@pytest.fixture
def ehr(sandbox_url: str) -> SandboxStore:
    store, _ = inprocess_sandbox(sandbox_url, API_KEY)
    return store


@pytest.fixture
def network(sandbox_url: str) -> FaultyNetwork:
    _, transport = inprocess_sandbox(sandbox_url, API_KEY)
    return FaultyNetwork(transport)
