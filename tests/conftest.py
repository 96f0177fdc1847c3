"""Shared helpers and fixtures: running queued deliveries, the in-process sandbox EHR and a
faulty network in front of it. The engine's fixtures come from ``integration_core.testing``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from integration_core.runtime import Runtime
from integration_core.testing import QueueDispatcher
from plugins.ehr_kareo_like.plugin import inprocess_sandbox
from plugins.ehr_kareo_like.sandbox.store import SandboxStore

API_KEY = "sandbox-key"


def drain(runtime: Runtime) -> int:
    """Run every queued delivery (and what those emit) now."""
    dispatcher = runtime.outbox.dispatcher
    assert isinstance(dispatcher, QueueDispatcher)
    return dispatcher.drain(runtime.runner.run)


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
