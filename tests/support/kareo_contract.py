"""The Kareo-like sandbox EHR under the adapter contract kit: :class:`SandboxStaff` (``EHRStaff``
over the sandbox's staff API), a :class:`WebhookInbox` keeping the webhooks the sandbox posted,
byte for byte, in process or on a loopback port, and :class:`OnInProcessSandbox`, the fixtures
that run any Kareo-like adapter under the kit against a sandbox in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integration_core.api import InProcessTransport
from integration_core.testing import NewPatientContact, SentWebhook, free_port, wait_until
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.changes import SandboxChange
from plugins.ehr_kareo_like.sandbox.outbound import WebhookDispatcher, subscribe
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.http_server import serving
from tests.support.sandbox_ehr import API_KEY

__all__ = [
    "OTHER_WEBHOOK_SECRET",
    "WEBHOOK_SECRET",
    "Connect",
    "OnInProcessSandbox",
    "OnSandbox",
    "SandboxStaff",
    "WebhookInbox",
]

WEBHOOK_SECRET = "whsec_" + "Y29udHJhY3Qtd2ViaG9vay1zZWNyZXQtMDAwMQ=="
"""The secret the sandbox signs a subscription made with it with."""
OTHER_WEBHOOK_SECRET = "whsec_" + "YW5vdGhlci1zZWNyZXQtbm90LXRoZS1laHJzLTE="
"""A well-formed secret the sandbox signs nothing with."""

WAIT_SECONDS = 30


class WebhookInbox:
    """Every webhook posted to it, as sent: an httpx transport (``transport``) for a sandbox
    posting in this process, or a loopback server (:meth:`listening`)."""

    def __init__(self) -> None:
        self._received: list[SentWebhook] = []
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self._take)

    def _take(self, request: httpx.Request) -> httpx.Response:
        self._keep(dict(request.headers), request.content)
        return httpx.Response(204)

    def _keep(self, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self._received.append(SentWebhook(headers, body))

    def received(self) -> list[SentWebhook]:
        with self._lock:
            return list(self._received)

    def empty(self) -> None:
        with self._lock:
            self._received.clear()

    @contextmanager
    def listening(self) -> Iterator[str]:
        """The inbox on a port of 127.0.0.1 while the block runs: the URL to subscribe."""

        async def receive(request: Request) -> Response:
            self._keep(dict(request.headers), await request.body())
            return Response(status_code=204)

        app = Starlette(routes=[Route("/webhooks", receive, methods=["POST"])])
        with serving(app) as base:
            yield f"{base}/webhooks"


class SandboxStaff:
    """``EHRStaff`` for the sandbox EHR of ``store``, acting through its staff API (``staff``);
    its webhooks are sent by ``dispatcher`` (and by the server's own, if it runs one) to
    ``inbox``."""

    def __init__(
        self,
        store: SandboxStore,
        staff: StaffClient,
        dispatcher: WebhookDispatcher,
        inbox: WebhookInbox,
    ) -> None:
        self.store, self.staff, self.dispatcher, self.inbox = store, staff, dispatcher, inbox

    def confirm(
        self,
        appointment_id: str,
        *,
        visit_reason_id: str,
        start: datetime | None = None,
        intake_forms: Sequence[str] = (),
    ) -> None:
        self.staff.confirm(
            appointment_id,
            visit_reason_id=int(visit_reason_id),
            start=start,
            intake_forms=intake_forms,
        )

    def decline(self, appointment_id: str, *, reason: str) -> None:
        self.staff.decline(appointment_id, reason=reason)

    def cancel(self, appointment_id: str, *, reason: str) -> None:
        self.staff.cancel(appointment_id, reason=reason)

    def reschedule(self, appointment_id: str, *, start: datetime) -> None:
        self.staff.reschedule(appointment_id, start=start)

    def check_in(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        self.staff.check_in(appointment_id, patient_id=patient_id)

    def check_out(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        self.staff.check_out(appointment_id, patient_id=patient_id)

    def no_show(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        self.staff.no_show(appointment_id, patient_id=patient_id)

    def add_patient(self, patient: NewPatientContact) -> str:
        return self.staff.add_patient(**patient.model_dump())["id"]

    def book(
        self,
        *,
        patient_id: str,
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: str,
        telehealth: bool = False,
    ) -> str:
        booked = self.staff.book(
            patient_id=patient_id,
            provider_id=provider_id,
            location_id=location_id,
            start=start,
            visit_reason_id=int(visit_reason_id),
            appointment_type="Telehealth" if telehealth else "In Person",
        )
        return booked["id"]

    def book_group(
        self,
        *,
        patient_ids: Sequence[str],
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: str,
    ) -> str:
        booked = self.staff.book_group(
            patient_ids=patient_ids,
            provider_id=provider_id,
            location_id=location_id,
            start=start,
            visit_reason_id=int(visit_reason_id),
        )
        return booked["id"]

    def webhooks_sent(self) -> list[SentWebhook]:
        """Sends what is due until the inbox holds a webhook of every change in the EHR."""

        def every_change_received() -> bool:
            self.dispatcher.send_due()
            received = {webhook.headers.get("webhook-id") for webhook in self.inbox.received()}
            with self.store.read() as session:
                changes = set(session.scalars(select(SandboxChange.id)))
            return changes <= received

        wait_until(every_change_received, WAIT_SECONDS, "a webhook of every change")
        return self.inbox.received()


Connect = Callable[[], httpx.BaseTransport | None]
"""A new transport to the sandbox (``None``: over the network to ``sandbox_url``)."""


class OnSandbox:
    """The fixtures an ``EHRAdapterContract`` subclass needs, for a Kareo-like
    ``adapter_class`` and a sandbox EHR a subclass provides: ``sandbox`` (its store, one per
    test class, subscribed to ``webhook_inbox`` with ``webhook_secret``), ``sandbox_url`` and
    ``connect``, and ``webhook_posting``, the client its webhooks are posted with. Each test
    gets the sandbox emptied and the inbox too; besides the adapter, the sandbox's staff, and
    the same adapter pointed at a port nothing listens on or verifying with another secret."""

    adapter_class: ClassVar[type[KareoLikeAdapter]] = KareoLikeAdapter

    @pytest.fixture(scope="class")
    @classmethod
    def webhook_inbox(cls) -> WebhookInbox:
        return WebhookInbox()

    @pytest.fixture
    def fresh_sandbox(self, sandbox: SandboxStore, webhook_inbox: WebhookInbox) -> SandboxStore:
        """The sandbox without records, and nothing in the inbox: a fresh EHR for a test."""
        sandbox.forget_records()
        webhook_inbox.empty()
        return sandbox

    def _adapter(self, url: str, connect: Connect, secret: str) -> KareoLikeAdapter:
        return self.adapter_class(
            url, API_KEY, transport=connect(), transient_retries=0, webhook_secret=secret
        )

    @pytest.fixture
    def ehr_adapter(
        self, fresh_sandbox: SandboxStore, sandbox_url: str, connect: Connect, webhook_secret: str
    ) -> Iterator[KareoLikeAdapter]:
        adapter = self._adapter(sandbox_url, connect, webhook_secret)
        yield adapter
        adapter.close()

    @pytest.fixture
    def wrong_secret_ehr_adapter(
        self, sandbox_url: str, connect: Connect
    ) -> Iterator[KareoLikeAdapter]:
        adapter = self._adapter(sandbox_url, connect, OTHER_WEBHOOK_SECRET)
        yield adapter
        adapter.close()

    @pytest.fixture
    def ehr_staff(
        self,
        fresh_sandbox: SandboxStore,
        sandbox_url: str,
        connect: Connect,
        webhook_inbox: WebhookInbox,
        webhook_posting: httpx.Client,
    ) -> Iterator[SandboxStaff]:
        with StaffClient(sandbox_url, API_KEY, transport=connect()) as staff:
            dispatcher = WebhookDispatcher(fresh_sandbox, client=webhook_posting)
            yield SandboxStaff(fresh_sandbox, staff, dispatcher, webhook_inbox)

    @pytest.fixture(scope="class")
    @classmethod
    def unreachable_ehr_adapter(cls) -> Iterator[KareoLikeAdapter]:
        adapter = cls.adapter_class(f"http://127.0.0.1:{free_port()}", API_KEY, transient_retries=0)
        yield adapter
        adapter.close()


class OnInProcessSandbox(OnSandbox):
    """:class:`OnSandbox` with the sandbox served in this process, posting its webhooks
    straight into the inbox."""

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxStore]:
        store = SandboxStore(f"sqlite:///{tmp_path_factory.mktemp('sandbox-ehr') / 'ehr.db'}")
        subscribe(store, "http://practice-sync.test/webhooks", WEBHOOK_SECRET)
        yield store
        store.dispose()

    @pytest.fixture(scope="class")
    @classmethod
    def connect(cls, sandbox: SandboxStore) -> Connect:
        app = create_sandbox_app(sandbox, API_KEY)
        return lambda: InProcessTransport(app)

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox_url(cls) -> str:
        return "http://sandbox-ehr"

    @pytest.fixture(scope="class")
    @classmethod
    def webhook_secret(cls) -> str:
        return WEBHOOK_SECRET

    @pytest.fixture(scope="class")
    @classmethod
    def webhook_posting(cls, webhook_inbox: WebhookInbox) -> Iterator[httpx.Client]:
        with httpx.Client(transport=webhook_inbox.transport) as client:
            yield client
