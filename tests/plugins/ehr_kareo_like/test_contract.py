"""``KareoLikeAdapter`` passes the adapter conformance suite, in process and over loopback HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration_core.errors import ExternalRejected
from integration_core.http.inprocess import InProcessTransport
from integration_core.testing import EHRAdapterContract
from integration_core.testing.processes import free_port, wait_until_ready
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.e2e.test_scaled_out import ROOT


class TestKareoLikeInProcess(EHRAdapterContract):
    @pytest.fixture
    def ehr_adapter(self, tmp_path: Path) -> Iterator[KareoLikeAdapter]:
        store = SandboxStore(f"sqlite:///{tmp_path / 'ehr.db'}")
        transport = InProcessTransport(create_sandbox_app(store, "k1"))
        adapter = KareoLikeAdapter("http://sandbox", "k1", transport=transport, transient_retries=0)
        yield adapter
        adapter.close()
        store.dispose()


class TestKareoLikeOverLoopback(EHRAdapterContract):
    """The standalone ``practice-sync sandbox-ehr`` server, over real HTTP on 127.0.0.1."""

    @pytest.fixture(scope="class")
    @classmethod
    def server(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        port = free_port()
        database = tmp_path_factory.mktemp("sandbox") / "ehr.db"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "integration_core",
                "sandbox-ehr",
                "--port",
                str(port),
                "--database-url",
                f"sqlite:///{database}",
            ],
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "PRACTICE_SYNC_SANDBOX_EHR_API_KEY": "loopback-key",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(base, path="/healthz")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)

    @pytest.fixture
    def ehr_adapter(self, server: str) -> Iterator[KareoLikeAdapter]:
        adapter = KareoLikeAdapter(server, "loopback-key", transient_retries=0)
        yield adapter
        adapter.close()

    def test_a_wrong_api_key_is_refused(self, server: str) -> None:
        adapter = KareoLikeAdapter(server, "wrong-key", transient_retries=0)
        with pytest.raises(ExternalRejected) as caught:
            adapter.read_practice_settings()
        assert caught.value.code == "ehr_unauthorized"
        adapter.close()
