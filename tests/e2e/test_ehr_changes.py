"""Staff decisions in the EHR come back, with real processes over loopback HTTP.

The sandbox EHR runs as its own server; practice-sync as an embedded ``run``. Patients book on
the widget, the EHR sync makes their tentative appointments, and the EHR's staff act through
the sandbox's staff API: the EHR's signed webhooks reach practice-sync's route, or — when no
webhook arrives — the feed poller brings the change within its interval. Two recorder plugins
implement the visit hooks, so each check-in and check-out is seen reaching every plugin that
implements it, once.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from integration_core import links
from integration_core.records import Appointment, AppointmentStatus, Origin
from integration_core.store import Database, Delivery, DeliveryStatus, Event
from integration_core.testing.services import postgres_schema_url
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from tests.support.children import Processes, answers
from tests.support.commands import sandbox_ehr_server
from tests.support.ehr_deployment import API_KEY, EHR_URL, book, done, settings
from tests.support.examples import redis_queue
from tests.support.ledger import create_test_tables
from tests.support.visit_recorder import handed

RECORDERS = ("tests.support.visit_recorder", "tests.support.visit_recorder_second")
"""Two plugins implementing ``on_checkin`` and ``on_checkout``: nothing else does yet."""

pytestmark = pytest.mark.slow

SECRET_ENV = "PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__WEBHOOK_SECRET"
NEW_PATIENT_VISIT = 1
"""The sandbox's visit reason "New patient visit": 45 minutes, where the widget's slot is 30."""


@dataclass
class Deployment:
    processes: Processes
    db: Database
    base: str
    staff: StaffClient
    ehr_url: str
    secret: str


@contextmanager
def database(folder: Path, scaled_out: bool) -> Iterator[dict[str, str]]:
    """Settings for an embedded deployment (SQLite) or a scaled-out one (PostgreSQL, Redis)."""
    if not scaled_out:
        yield {"PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{folder / 'practice-sync.db'}"}
        return
    with postgres_schema_url() as url, redis_queue() as (broker_url, queue):
        yield {
            "PRACTICE_SYNC_DATABASE_URL": url,
            "PRACTICE_SYNC_BROKER__URL": broker_url,
            "PRACTICE_SYNC_BROKER__QUEUE": queue,
        }


@contextmanager
def deployment(
    folder: Path, *, webhooks: bool, poll_seconds: float, scaled_out: bool = False
) -> Iterator[Deployment]:
    """The sandbox EHR (subscribed to practice-sync's webhook route when ``webhooks``) and
    practice-sync polling the EHR's feed every ``poll_seconds``: an embedded ``run``, or
    ``serve``, ``worker`` and ``scheduler``."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with database(folder, scaled_out) as where:
        env = settings(
            folder,
            where.pop("PRACTICE_SYNC_DATABASE_URL"),
            PRACTICE_SYNC_EHR__POLL_INTERVAL_SECONDS=str(poll_seconds),
            PRACTICE_SYNC_PLUGINS__MODULES=json.dumps(RECORDERS),
            **{SECRET_ENV: secret},
            **where,
        )
        base = f"http://127.0.0.1:{env['PRACTICE_SYNC_HTTP__PORT']}"
        options = ["--webhook-max-backoff", "0.5"]
        if webhooks:
            options += ["--webhook", f"{base}/v1/practices/acme/ehr/changes"]
        processes = Processes(folder, env)
        db = Database(env["PRACTICE_SYNC_DATABASE_URL"])
        try:
            with sandbox_ehr_server(
                f"sqlite:///{folder / 'sandbox-ehr.db'}",
                API_KEY,
                options=options,
                env={"PRACTICE_SYNC_SANDBOX_EHR_WEBHOOK_SECRET": secret},
            ) as url:
                processes.env[EHR_URL] = url
                processes.start("migrate", "migrate")
                processes.finished("migrate")
                create_test_tables(db.engine)
                serving = ("serve", "worker", "scheduler") if scaled_out else ("run",)
                for command in serving:
                    processes.start(command, command)
                processes.up(serving[0], answers(base))
                with StaffClient(url, API_KEY) as staff:
                    try:
                        yield Deployment(processes, db, base, staff, url, secret)
                    finally:
                        processes.close()
        finally:
            processes.close()
            db.dispose()


def local(deployment: Deployment, answer: dict[str, Any]) -> Appointment:
    with deployment.db.read() as session:
        return session.get_one(Appointment, answer["appointment_id"])


def ehr_id(deployment: Deployment, answer: dict[str, Any]) -> str:
    with deployment.db.read() as session:
        found = links.external_id(
            session,
            practice_id="acme",
            entity="appointment",
            local=answer["appointment_id"],
            system=links.EHR_SYSTEM,
        )
    assert found is not None
    return found


def events(deployment: Deployment, kind: str) -> int:
    with deployment.db.read() as session:
        return session.scalar(select(func.count()).where(Event.kind == kind)) or 0


def settled(deployment: Deployment) -> bool:
    """Every delivery of every event is done."""
    with deployment.db.read() as session:
        waiting = select(func.count()).where(Delivery.status != DeliveryStatus.DONE)
        return session.scalar(waiting) == 0


def visits(deployment: Deployment) -> list[tuple[str, str, str]]:
    with deployment.db.read() as session:
        return handed(session)


def each_recorder_once(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Both recorders handed the appointment's check-in and its check-out, once each."""
    return sorted(
        (plugin, hook, answer["appointment_id"])
        for plugin in ("visit_recorder", "visit_recorder_second")
        for hook in ("on_checkin", "on_checkout")
    )


def reaches(
    deployment: Deployment, answer: dict[str, Any], status: AppointmentStatus, timeout: float
) -> None:
    deployment.processes.wait(
        lambda: local(deployment, answer).status is status, timeout, f"the appointment {status}"
    )


def open_slots(base: str) -> set[str]:
    today = date.today()
    found = httpx.get(
        f"{base}/v1/practices/acme/widget/slots",
        params={
            "start": today.isoformat(),
            "end": (today + timedelta(days=13)).isoformat(),
            "reason": "checkup",
        },
        timeout=10,
    )
    assert found.status_code == 200, found.text
    return {slot["start"] for slot in found.json()["slots"]}


@pytest.mark.parametrize(
    "scaled_out",
    [False, pytest.param(True, marks=[pytest.mark.postgres, pytest.mark.redis])],
    ids=["embedded", "scaled_out"],
)
def test_staff_decisions_come_back_by_webhook(tmp_path: Path, scaled_out: bool) -> None:
    with deployment(tmp_path, webhooks=True, poll_seconds=3600, scaled_out=scaled_out) as running:
        first, second = book(running.base, 2)
        running.processes.wait(done(running.db, 2), 30, "both requests to reach the EHR")

        later = datetime.fromisoformat(first["start"]) + timedelta(days=1, hours=1)
        running.staff.confirm(
            ehr_id(running, first), visit_reason_id=NEW_PATIENT_VISIT, start=later
        )
        running.staff.decline(ehr_id(running, second), reason="The doctor is away that week")
        reaches(running, first, AppointmentStatus.BOOKED, 15)
        reaches(running, second, AppointmentStatus.DECLINED, 15)
        booked = local(running, first)
        assert (booked.start_at, booked.end_at) == (later, later + timedelta(minutes=45))
        assert booked.origin is Origin.WIDGET

        running.staff.check_in(ehr_id(running, first))
        running.staff.check_out(ehr_id(running, first))
        reaches(running, first, AppointmentStatus.CHECKED_OUT, 15)
        counts = {kind: events(running, kind) for kind in ("confirm", "decline", "checkin")}
        assert counts == {"confirm": 1, "decline": 1, "checkin": 1}
        running.processes.wait(lambda: events(running, "checkout") == 1, 10, "one checkout")
        running.processes.wait(lambda: settled(running), 15, "every delivery done")
        assert sorted(visits(running)) == each_recorder_once(first)


def feed(deployment: Deployment, appointment_id: str) -> dict[str, dict[str, Any]]:
    """The EHR's changes of one appointment as its feed shows them, by type."""
    answer = httpx.get(
        f"{deployment.ehr_url}/api/v1/changes",
        params={"limit": 500},
        headers={"X-API-Key": API_KEY},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    changes = answer.json()["changes"]
    return {c["type"]: c for c in changes if c["appointment_id"] == appointment_id}


def notify(deployment: Deployment, change: dict[str, Any], message_id: str) -> httpx.Response:
    """Post ``change`` to practice-sync's webhook route as the EHR would: one signed message."""
    body = json.dumps({"type": "appointment.changed", "data": change})
    signed_at = datetime.now().astimezone()
    signature = Webhook(deployment.secret).sign(message_id, signed_at, body)
    return httpx.post(
        f"{deployment.base}/v1/practices/acme/ehr/changes",
        content=body.encode(),
        headers={
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": signature,
        },
        timeout=10,
    )


def outcome(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [change["outcome"] for change in answer.json()["changes"]]


def lifecycle(deployment: Deployment, answer: dict[str, Any]) -> list[str]:
    """The kinds of the appointment's lifecycle events, in the order they were emitted."""
    with deployment.db.read() as session:
        found = session.scalars(select(Event).order_by(Event.created_at)).all()
    return [
        event.kind
        for event in found
        if event.payload.get("appointment_id") == answer["appointment_id"]
        and event.kind in ("confirm", "checkin", "checkout")
    ]


@pytest.mark.parametrize(
    "scaled_out",
    [False, pytest.param(True, marks=[pytest.mark.postgres, pytest.mark.redis])],
    ids=["embedded", "scaled_out"],
)
def test_changes_arriving_twice_and_last_first_apply_once_in_version_order(
    tmp_path: Path, scaled_out: bool
) -> None:
    """The EHR's notifications of one visit reach practice-sync's route over HTTP, signed with
    the practice's secret, the check-out first; then one of them again under its own message
    id (a replay), and again under another (the same change sent twice)."""
    with deployment(tmp_path, webhooks=False, poll_seconds=3600, scaled_out=scaled_out) as running:
        [request] = book(running.base, 1)
        running.processes.wait(done(running.db, 1), 30, "the request to reach the EHR")
        appointment = ehr_id(running, request)
        running.staff.confirm(appointment, visit_reason_id=NEW_PATIENT_VISIT)
        running.staff.check_in(appointment)
        running.staff.check_out(appointment)
        changes = feed(running, appointment)
        checked_out = changes["appointment.checked_out"]

        assert outcome(notify(running, checked_out, "msg_out")) == ["applied"]
        assert local(running, request).status is AppointmentStatus.CHECKED_OUT
        assert outcome(notify(running, changes["appointment.checked_in"], "msg_in")) == ["stale"]
        assert outcome(notify(running, changes["appointment.confirmed"], "msg_ok")) == ["stale"]
        replay = notify(running, checked_out, "msg_out")
        assert replay.status_code == 409, replay.text
        assert replay.json()["error"]["code"] == "webhook_replayed"
        assert outcome(notify(running, checked_out, "msg_out_again")) == ["duplicate"]

        assert local(running, request).status is AppointmentStatus.CHECKED_OUT
        assert lifecycle(running, request) == ["confirm", "checkin", "checkout"]
        running.processes.wait(lambda: settled(running), 15, "every delivery done")
        assert sorted(visits(running)) == each_recorder_once(request)


def test_a_lost_webhook_is_caught_by_the_poller_and_an_ehr_group_blocks_the_widget(
    tmp_path: Path,
) -> None:
    with deployment(tmp_path, webhooks=False, poll_seconds=1) as running:
        [request] = book(running.base, 1)
        running.processes.wait(done(running.db, 1), 30, "the request to reach the EHR")
        running.staff.confirm(ehr_id(running, request), visit_reason_id=NEW_PATIENT_VISIT)
        reaches(running, request, AppointmentStatus.BOOKED, 10)  # the interval and some slack

        offered = sorted(open_slots(running.base))
        taken = offered[3]
        patients = [
            running.staff.add_patient(
                first_name="Group",
                last_name=f"Member{n}",
                date_of_birth=date(1970, 1, n + 1),
                email=f"member{n}@example.com",
                email_allowed=True,
            )["id"]
            for n in range(2)
        ]
        group = running.staff.book_group(
            patient_ids=patients,
            provider_id="1001",
            location_id="main",
            start=datetime.fromisoformat(taken),
            visit_reason_id=2,
        )
        running.processes.wait(
            lambda: taken not in open_slots(running.base), 10, "the group to block its slot"
        )
        running.staff.cancel(group["id"], reason="Room unavailable")
        running.processes.wait(
            lambda: taken in open_slots(running.base), 10, "the cancelled group's slot to reopen"
        )
