"""Staff decisions in the EHR come back, with real processes over loopback HTTP.

The sandbox EHR runs as its own server; practice-sync as an embedded ``run``. Patients book on
the widget, the EHR sync makes their tentative appointments, and the EHR's staff act through
the sandbox's staff API: the EHR's signed webhooks reach practice-sync's route, or — when no
webhook arrives — the feed poller brings the change within its interval.
"""

from __future__ import annotations

import base64
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

from integration_core import links
from integration_core.records import Appointment, AppointmentStatus, Origin
from integration_core.store import Database, Event
from integration_core.testing.services import postgres_schema_url
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from tests.support.children import Processes, answers
from tests.support.commands import sandbox_ehr_server
from tests.support.ehr_deployment import API_KEY, EHR_URL, book, done, settings
from tests.support.examples import redis_queue

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
                serving = ("serve", "worker", "scheduler") if scaled_out else ("run",)
                for command in serving:
                    processes.start(command, command)
                processes.up(serving[0], answers(base))
                with StaffClient(url, API_KEY) as staff:
                    try:
                        yield Deployment(processes, db, base, staff)
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
