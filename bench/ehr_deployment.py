"""A deployment to time EHR changes in: the sandbox EHR and a real practice-sync over loopback.

practice-sync is ``practice-sync run`` in its own process (the embedded default: SQLite, the
in-process broker, HTTP, worker threads and the EHR feed poller). The sandbox EHR is served by
this process over loopback, because its webhook dispatcher is what must be timed: the
dispatcher's client records when each webhook was posted and when practice-sync answered it
(:class:`WebhookTimes`). practice-sync answers only after the transaction that applied the
change — the local appointment and the events it causes — has committed, so the answer is the
moment the change is committed locally. Staff act through the sandbox's staff API, as the
practice's staff do in the EHR's screens.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.deliveries import require_none_dead, wait_until_delivered
from bench.practice import (
    DIRECTORY,
    PRACTICE,
    SANDBOX_KEY,
    SLOT_MINUTES,
    Placement,
    bodies,
    settings,
)
from bench.processes import engine, migrate, served
from integration_core import links
from integration_core.ehr.change_tables import ChangeSeen
from integration_core.records import Appointment, AppointmentStatus
from integration_core.store import Database, Event, IdLink
from integration_core.testing.processes import free_port, wait_until, wait_until_ready
from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.changes import SandboxChange
from plugins.ehr_kareo_like.sandbox.outbound import (
    WebhookDelivery,
    WebhookDispatcher,
    new_secret,
    subscribe,
)
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxStore

__all__ = ["CONFIRMED", "EHRDeployment", "Post", "WebhookTimes", "ehr_deployment"]

CONFIRMED = "appointment.confirmed"
"""The sandbox's change type for a staff confirmation."""
LENGTH_SET_BY_STAFF = 5
"""The sandbox's visit reason without a length: confirmed at the slot's own length, so the
back-to-back bench appointments never clash in the EHR."""


@dataclass
class Post:
    """One webhook the EHR posted: what it carried and when (``time.perf_counter`` seconds)."""

    change_type: str
    ehr_appointment_id: str
    sent: float
    answered: float | None = None
    status: int | None = None
    outcomes: tuple[str, ...] = ()


class WebhookTimes:
    """Times every webhook the dispatcher posts, through ``client``'s event hooks, and lets
    the benchmark wait for the answers it expects. Any answer but a 200 fails the run."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._posts: dict[tuple[str, str], Post] = {}
        self._counts: dict[str, int] = {}
        self._refused: list[str] = []
        self.client = httpx.Client(
            event_hooks={"request": [self._sent], "response": [self._answered]}
        )

    def _sent(self, request: httpx.Request) -> None:
        data = json.loads(request.content)["data"]
        with self._changed:
            key = (data["appointment_id"], data["type"])
            self._posts[key] = Post(data["type"], data["appointment_id"], time.perf_counter())

    def _answered(self, response: httpx.Response) -> None:
        answered = time.perf_counter()
        response.read()
        data = json.loads(response.request.content)["data"]
        with self._changed:
            post = self._posts[(data["appointment_id"], data["type"])]
            post.answered, post.status = answered, response.status_code
            if response.status_code == 200:
                post.outcomes = tuple(c["outcome"] for c in response.json()["changes"])
                self._counts[post.change_type] = self._counts.get(post.change_type, 0) + 1
            else:
                self._refused.append(f"{post.change_type}: HTTP {response.status_code}")
            self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._refused or ready(), timeout):
                raise TimeoutError(f"timed out waiting for {what}")
            if self._refused:
                raise RuntimeError(f"a webhook was refused ({self._refused[0]}): run not valid")

    def answer(self, ehr_appointment_id: str, change_type: str, timeout: float) -> Post:
        """The answered post of ``change_type`` for that appointment, once there is one."""
        key = (ehr_appointment_id, change_type)
        self._wait(
            lambda: key in self._posts and self._posts[key].answered is not None,
            timeout,
            f"the {change_type} webhook of {ehr_appointment_id}",
        )
        return self._posts[key]

    def count(self, change_type: str) -> int:
        """How many posts of ``change_type`` have been answered."""
        with self._changed:
            return self._counts.get(change_type, 0)

    def answers(self, change_type: str, count: int, timeout: float) -> list[Post]:
        """Every answered post of ``change_type``, once there are ``count`` of them."""
        self._wait(
            lambda: self._counts.get(change_type, 0) >= count,
            timeout,
            f"{count} {change_type} webhooks",
        )
        with self._changed:
            return [p for p in self._posts.values() if p.change_type == change_type]


@dataclass
class EHRDeployment:
    base: str
    """practice-sync's HTTP API."""
    db: Database
    """practice-sync's database, read only by the benchmark."""
    store: SandboxStore
    staff: StaffClient
    dispatcher: WebhookDispatcher
    webhooks: WebhookTimes

    def book(self, count: int, timeout: float) -> dict[str, str]:
        """``count`` widget requests, each the EHR sync's tentative appointment in the EHR,
        and everything they caused done (:meth:`settle`): local appointment id → EHR id."""
        with httpx.Client(base_url=self.base, timeout=30) as client:
            for body in bodies(count):
                answer = client.post(f"/v1/practices/{PRACTICE}/widget/requests", json=body)
                if answer.status_code != 201:
                    raise RuntimeError(f"booking failed: {answer.status_code} {answer.text}")
        wait_until(lambda: len(self._linked()) == count, timeout, f"{count} requests synced")
        self.settle(timeout)
        return self._linked()

    def _linked(self) -> dict[str, str]:
        with self.db.read() as session:
            rows = session.execute(
                select(IdLink.local_id, IdLink.external_id).where(
                    IdLink.practice_id == PRACTICE,
                    IdLink.entity == "appointment",
                    IdLink.system == links.EHR_SYSTEM,
                )
            ).all()
        return {local: external for local, external in rows}

    def settle(self, timeout: float) -> None:
        """Wait until every delivery is done, the EHR has no webhook left to send, and every
        change the EHR recorded has reached practice-sync (by webhook or feed)."""
        wait_until_delivered(self.db, timeout)
        require_none_dead(self.db)

        def caught_up() -> bool:
            with self.store.read() as session:
                sending = session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.next_attempt_at.is_not(None))
                )
                made = session.scalar(select(func.count()).select_from(SandboxChange))
            with self.db.read() as session:
                seen = session.scalar(select(func.count()).select_from(ChangeSeen))
            return not sending and seen == made

        wait_until(caught_up, timeout, "practice-sync to have every change of the EHR")

    def confirm(self, ehr_appointment_id: str) -> None:
        """Staff confirm the tentative appointment in the EHR, at its requested length."""
        self.staff.confirm(
            ehr_appointment_id,
            visit_reason_id=LENGTH_SET_BY_STAFF,
            duration_minutes=SLOT_MINUTES,
        )

    def booked(self, local_ids: list[str]) -> set[str]:
        """Which of these local appointments are booked (committed, so their events are)."""
        with self.db.read() as session:
            return set(
                session.scalars(
                    select(Appointment.id).where(
                        Appointment.id.in_(local_ids),
                        Appointment.status == AppointmentStatus.BOOKED,
                    )
                )
            )

    def require_confirmed(self, local_ids: list[str]) -> None:
        """``RuntimeError`` unless each of these is booked locally with exactly one ``confirm``
        event: else the run measured something other than the change it claims."""
        with self.db.read() as session:
            confirmed = [
                payload["appointment_id"]
                for payload in session.scalars(select(Event.payload).where(Event.kind == "confirm"))
            ]
        if len(self.booked(local_ids)) != len(local_ids) or sorted(confirmed) != sorted(local_ids):
            raise RuntimeError("the confirmations did not each book once with one event")


@contextmanager
def ehr_deployment(folder: Path, *, webhooks: bool, poll_seconds: float) -> Iterator[EHRDeployment]:
    """The sandbox EHR (posting its changes to practice-sync when ``webhooks``) and
    ``practice-sync run`` reading the EHR's feed every ``poll_seconds``, with files in
    ``folder``; both stopped when the block ends."""
    store = SandboxStore(f"sqlite:///{folder / 'sandbox-ehr.db'}", directory=DIRECTORY)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = new_secret()
    if webhooks:
        subscribe(store, f"{base}/v1/practices/{PRACTICE}/ehr/changes", secret)
    times = WebhookTimes()
    dispatcher = WebhookDispatcher(store, client=times.client)
    database_url = f"sqlite:///{folder / 'practice-sync.db'}"
    try:
        with served(create_sandbox_app(store, SANDBOX_KEY, dispatcher=dispatcher)) as ehr_url:
            config = settings(folder, "ehr-changes", Placement(database_url, "stub://", ehr_url))
            overrides = {
                "http__port": str(port),
                "ehr__poll_interval_seconds": str(poll_seconds),
                f"plugins__config__ehr_kareo_like__practices__{PRACTICE}__webhook_secret": secret,
            }
            migrate(config)
            db = Database(database_url)
            try:
                with engine("run", config, **overrides), StaffClient(ehr_url, SANDBOX_KEY) as staff:
                    wait_until_ready(base, timeout=60)
                    yield EHRDeployment(base, db, store, staff, dispatcher, times)
            finally:
                db.dispose()
    finally:
        times.client.close()
        store.dispose()
