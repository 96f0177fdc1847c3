"""``KareoLikeAdapter`` passes the adapter conformance suite, in process and over loopback HTTP,
and reads the sandbox EHR's statuses and webhooks as the core's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from integration_core.errors import ExternalRejected
from integration_core.testing import EHRAdapterContract
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.commands import sandbox_ehr_server
from tests.support.kareo_contract import Connect, OnInProcessSandbox, OnSandbox, WebhookInbox
from tests.support.sandbox_ehr import API_KEY


class TestKareoLikeInProcess(OnInProcessSandbox, EHRAdapterContract):
    adapter_class = KareoLikeAdapter


class TestKareoLikeOverLoopback(OnSandbox, EHRAdapterContract):
    """The standalone ``practice-sync sandbox-ehr`` server over real HTTP on 127.0.0.1,
    posting its webhooks to a receiver on another port of it."""

    @pytest.fixture(scope="class")
    @classmethod
    def database(cls, tmp_path_factory: pytest.TempPathFactory) -> str:
        return f"sqlite:///{tmp_path_factory.mktemp('sandbox') / 'ehr.db'}"

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox_url(cls, database: str) -> Iterator[str]:
        with sandbox_ehr_server(database, API_KEY) as url:
            yield url

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls, database: str, webhook_secret: str) -> Iterator[SandboxStore]:
        """The server's database, read and emptied from here as the server runs (its webhook
        subscription made first)."""
        store = SandboxStore(database)
        yield store
        store.dispose()

    @pytest.fixture(scope="class")
    @classmethod
    def connect(cls) -> Connect:
        return lambda: None

    @pytest.fixture(scope="class")
    @classmethod
    def webhook_secret(cls, sandbox_url: str, webhook_inbox: WebhookInbox) -> Iterator[str]:
        """A subscription of the receiver, made through the sandbox's API: its secret."""
        with webhook_inbox.listening() as receiver, StaffClient(sandbox_url, API_KEY) as staff:
            yield staff.subscribe_webhook(receiver)["secret"]

    @pytest.fixture(scope="class")
    @classmethod
    def webhook_posting(cls) -> Iterator[httpx.Client]:
        with httpx.Client() as client:
            yield client

    def test_a_wrong_api_key_is_refused(self, sandbox_url: str) -> None:
        adapter = KareoLikeAdapter(sandbox_url, "wrong-key", transient_retries=0)
        with pytest.raises(ExternalRejected) as caught:
            adapter.read_practice_settings()
        assert caught.value.code == "ehr_unauthorized"
        adapter.close()
