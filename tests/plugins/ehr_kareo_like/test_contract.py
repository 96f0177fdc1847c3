"""``KareoLikeAdapter`` passes the adapter conformance suite, in process and over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration_core.errors import ExternalRejected
from integration_core.testing import EHRAdapterContract
from integration_core.testing.processes import free_port
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.broken_ehr_adapters import OnInProcessSandbox
from tests.support.commands import sandbox_ehr_server


class TestKareoLikeInProcess(OnInProcessSandbox, EHRAdapterContract):
    adapter_class = KareoLikeAdapter


class TestKareoLikeOverLoopback(EHRAdapterContract):
    """The standalone ``practice-sync sandbox-ehr`` server, over real HTTP on 127.0.0.1."""

    @pytest.fixture(scope="class")
    @classmethod
    def database(cls, tmp_path_factory: pytest.TempPathFactory) -> str:
        return f"sqlite:///{tmp_path_factory.mktemp('sandbox') / 'ehr.db'}"

    @pytest.fixture(scope="class")
    @classmethod
    def server(cls, database: str) -> Iterator[str]:
        with sandbox_ehr_server(database, "loopback-key") as url:
            yield url

    @pytest.fixture
    def ehr_adapter(self, server: str, database: str) -> Iterator[KareoLikeAdapter]:
        """The server's EHR emptied first: the contract expects a fresh one for each test."""
        store = SandboxStore(database)
        store.forget_records()
        store.dispose()
        adapter = KareoLikeAdapter(server, "loopback-key", transient_retries=0)
        yield adapter
        adapter.close()

    @pytest.fixture
    def unreachable_ehr_adapter(self) -> Iterator[KareoLikeAdapter]:
        adapter = KareoLikeAdapter(
            f"http://127.0.0.1:{free_port()}", "loopback-key", transient_retries=0
        )
        yield adapter
        adapter.close()

    def test_a_wrong_api_key_is_refused(self, server: str) -> None:
        adapter = KareoLikeAdapter(server, "wrong-key", transient_retries=0)
        with pytest.raises(ExternalRejected) as caught:
            adapter.read_practice_settings()
        assert caught.value.code == "ehr_unauthorized"
        adapter.close()
