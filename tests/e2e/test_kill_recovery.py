"""Recovery from SIGKILL at named points of the EHR sync, with real processes.

A worker runs the ``ehr_sync`` delivery of a booking request and is stopped at a pause point
(:mod:`tests.support.pause_points`): before the EHR hears of it, after the EHR acted but before
its answer arrives, or after the hook but before the commit. Then it is killed with SIGKILL.

- Scaled out (PostgreSQL, Redis; ``serve``, ``scheduler`` and two ``worker``s): the other worker
  finishes the delivery within a lease and a sweep of the death — a whole burst too, the
  messages the dead worker had taken from Redis included.
- Embedded (SQLite; one ``run``): the restarted ``run`` finishes it within a lease and a sweep
  of its restart — a whole burst of requests too, none lost.

Either way the EHR holds one patient and one appointment per request: the second run's writes
carry the first run's idempotency keys. And a worker that lives keeps its claim however long
its EHR call lasts: nobody runs it twice (docs/delivery.md, "Leases").

Every test runs with a short lease and sweep interval, and the sandbox EHR as its own server.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from integration_core import links
from integration_core.ehr.sync import SyncDecision
from integration_core.records import Appointment, AppointmentStatus
from integration_core.store import Database, DeliveryStatus
from integration_core.testing.services import postgres_schema_url
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment, SandboxPatient
from tests.support.children import Processes, answers
from tests.support.commands import run, sandbox_ehr_server
from tests.support.ehr_deployment import (
    API_KEY,
    EHR_URL,
    LEASE_SECONDS,
    TICK_SECONDS,
    book,
    done,
    settings,
    syncs,
)
from tests.support.examples import redis_queue
from tests.support.pause_points import POINTS

ALLOWANCE_SECONDS = 1.5
"""What the recovery bound allows beyond lease + sweep interval: the sweep's own pass, the
broker's hop to a worker, running the delivery again (up to three EHR calls and two commits),
this test's polling (every 0.1 s), and slack for a busy machine. Measured on 2 cores: done at
most 3.1 s after the kill or restart when idle, 3.4 s with other test suites running beside
(lease + sweep interval: 3.25 s; the last renewal comes up to a quarter lease before a kill)."""
RECOVERY_SECONDS = LEASE_SECONDS + TICK_SECONDS + ALLOWANCE_SECONDS
LEASES_PAUSED = 3
"""How many leases a live worker's EHR call lasts in the tests that it keeps its claim."""
BURST = 20
pytestmark = pytest.mark.slow


WORKER_STARTED = "thread(s) started"
SCHEDULER_STARTED = "scheduler: started"


@dataclass
class Deployment:
    processes: Processes
    db: Database
    ehr: Path
    """The sandbox EHR's database file."""
    base: str
    """The HTTP API."""


@contextmanager
def sandbox_ehr(folder: Path, processes: Processes) -> Iterator[Path]:
    """The sandbox EHR as its own server, the deployment's environment pointing at it; its
    database file. Whatever ``processes`` runs is killed before the server stops."""
    database = folder / "sandbox-ehr.db"
    with sandbox_ehr_server(f"sqlite:///{database}", API_KEY) as url:
        processes.env[EHR_URL] = url
        try:
            yield database
        finally:
            processes.close()


@contextmanager
def scaled_out(folder: Path, pause: str, **extra: str) -> Iterator[Deployment]:
    """PostgreSQL (a fresh schema) and Redis (a fresh queue): ``migrate``, then ``serve``,
    ``scheduler`` and ``worker-a``, which stops at ``pause``. Worker B is the test's to start,
    once A holds the delivery (else the broker might hand the delivery to B)."""
    with postgres_schema_url() as database_url, redis_queue() as (broker_url, queue):
        env = settings(
            folder,
            database_url,
            PRACTICE_SYNC_BROKER__URL=broker_url,
            PRACTICE_SYNC_BROKER__QUEUE=queue,
            **extra,
        )
        processes = Processes(folder, env)
        db = Database(database_url)
        try:
            processes.start("migrate", "migrate")  # while the sandbox EHR starts
            with sandbox_ehr(folder, processes) as ehr:
                processes.finished("migrate")
                processes.start("serve", "serve")
                processes.start("scheduler", "scheduler")
                processes.start("worker-a", "worker", pause=pause)
                base = f"http://127.0.0.1:{env['PRACTICE_SYNC_HTTP__PORT']}"
                processes.up("serve", answers(base))
                processes.up("scheduler", processes.logged("scheduler", SCHEDULER_STARTED))
                processes.up("worker-a", processes.logged("worker-a", WORKER_STARTED))
                yield Deployment(processes, db, ehr, base)
        finally:
            processes.close()
            db.dispose()


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated SQLite database: each embedded test runs on a copy of its own."""
    folder = tmp_path_factory.mktemp("migrated")
    database = folder / "practice-sync.db"
    migrated = run("migrate", env=settings(folder, f"sqlite:///{database}"))
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return database


@contextmanager
def embedded(folder: Path, migrated: Path, pause: str) -> Iterator[Deployment]:
    """SQLite (a copy of ``migrated``): ``run``, stopping at ``pause``."""
    database = folder / migrated.name
    for file in migrated.parent.glob(f"{migrated.name}*"):  # with its WAL, if one is left
        shutil.copy(file, folder / file.name)
    env = settings(folder, f"sqlite:///{database}")
    processes = Processes(folder, env)
    db = Database(env["PRACTICE_SYNC_DATABASE_URL"])
    try:
        with sandbox_ehr(folder, processes) as ehr:
            processes.start("run", "run", pause=pause)
            base = f"http://127.0.0.1:{env['PRACTICE_SYNC_HTTP__PORT']}"
            processes.up("run", answers(base))
            yield Deployment(processes, db, ehr, base)
    finally:
        processes.close()
        db.dispose()


# -- booking and reading back -------------------------------------------------------------


def ehr_records(database: Path) -> tuple[list[SandboxPatient], list[SandboxAppointment]]:
    """The patients and appointments in the sandbox EHR, read without writing to it."""
    engine = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            return (
                list(session.scalars(select(SandboxPatient))),
                list(session.scalars(select(SandboxAppointment))),
            )
    finally:
        engine.dispose()


def assert_synced_once(deployment: Deployment, booked: list[dict[str, Any]]) -> None:
    """Each request's appointment is tentative here and linked to its own appointment in the
    EHR, made for its own new patient; the EHR holds nothing else (no write twice)."""
    patients, appointments = ehr_records(deployment.ehr)
    assert len(patients) == len(booked), [p.id for p in patients]
    assert len(appointments) == len(booked), [a.id for a in appointments]
    in_ehr = {a.id: a for a in appointments}
    linked: set[str] = set()
    with deployment.db.read() as session:
        for answer in booked:
            appointment = session.get_one(Appointment, answer["appointment_id"])
            assert appointment.status is AppointmentStatus.TENTATIVE
            decision = session.get_one(SyncDecision, ("acme", answer["request_id"]))
            assert decision.outcome == "new"
            found = {
                entity: links.external_id(
                    session, practice_id="acme", entity=entity, local=local, system=links.EHR_SYSTEM
                )
                for entity, local in (
                    ("appointment", appointment.id),
                    ("request_patient", answer["request_id"]),
                )
            }
            assert found["appointment"] in in_ehr, found
            ehr_appointment = in_ehr[found["appointment"]]
            assert ehr_appointment.patient_id == found["request_patient"]
            assert ehr_appointment.start_at == datetime.fromisoformat(answer["start"])
            linked.add(ehr_appointment.id)
    assert linked == set(in_ehr)
    assert {a.patient_id for a in appointments} == {p.id for p in patients}


def recovered_in(deployment: Deployment, since: float, count: int = 1) -> float:
    """Wait until the ``count`` EHR syncs are done; how long after ``since`` they were."""
    deployment.processes.wait(
        done(deployment.db, count), RECOVERY_SECONDS + 20, "every EHR sync to be done"
    )
    return time.monotonic() - since


# -- a worker killed mid-delivery ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("point", POINTS)
def test_another_worker_finishes_a_killed_workers_delivery_within_a_lease(
    tmp_path: Path, point: str
) -> None:
    with scaled_out(tmp_path, pause=point) as deployment:
        processes = deployment.processes
        [booked] = book(deployment.base)
        delivery_id = processes.paused("worker-a", point)
        processes.start("worker-b", "worker")  # only now: the delivery is A's
        processes.up("worker-b", processes.logged("worker-b", WORKER_STARTED))
        killed_at = processes.kill("worker-a")

        took = recovered_in(deployment, killed_at)
        assert took <= RECOVERY_SECONDS, (
            f"done {took:.2f} s after the kill; the bound is {RECOVERY_SECONDS} s\n"
            + processes.tails()
        )
        assert processes.ran("worker-b", delivery_id), processes.tails()
        row = syncs(deployment.db)[delivery_id]
        assert row.attempts == 2
        assert_synced_once(deployment, [booked])


@pytest.mark.parametrize("point", POINTS)
def test_a_restarted_run_finishes_the_killed_runs_delivery_within_a_lease(
    tmp_path: Path, migrated_sqlite: Path, point: str
) -> None:
    with embedded(tmp_path, migrated_sqlite, pause=point) as deployment:
        processes = deployment.processes
        [booked] = book(deployment.base)
        delivery_id = processes.paused("run", point)
        processes.kill("run")
        restarted_at = time.monotonic()
        processes.start("run-again", "run")

        took = recovered_in(deployment, restarted_at)
        assert took <= RECOVERY_SECONDS, (
            f"done {took:.2f} s after the restart; the bound is {RECOVERY_SECONDS} s\n"
            + processes.tails()
        )
        assert processes.ran("run-again", delivery_id), processes.tails()
        assert syncs(deployment.db)[delivery_id].attempts == 2
        assert_synced_once(deployment, [booked])


def killed_midway(deployment: Deployment, name: str) -> list[DeliveryStatus]:
    """Once a few of the burst's requests are synced, SIGKILL ``name``: the statuses of the
    burst's syncs at the kill, some of them not done."""
    processes, db = deployment.processes, deployment.db

    def some_synced() -> bool:
        statuses = [row.status for row in syncs(db).values()]
        return statuses.count(DeliveryStatus.DONE) >= 3

    processes.wait(some_synced, 30, "a few requests to be synced")
    processes.kill(name)
    at_kill = [row.status for row in syncs(db).values()]
    assert len(at_kill) == BURST
    assert 3 <= at_kill.count(DeliveryStatus.DONE) < BURST
    return at_kill


def test_a_burst_killed_midway_is_all_synced_once_after_the_restart(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    """The first sync stops at the EHR call, so at the kill some requests are synced and not
    all: one is in flight, others wait in the in-process queue that dies with the process."""
    with embedded(tmp_path, migrated_sqlite, pause="during_ehr_call") as deployment:
        processes = deployment.processes
        booked = book(deployment.base, BURST)
        processes.paused("run", "during_ehr_call")
        at_kill = killed_midway(deployment, "run")
        restarted_at = time.monotonic()
        processes.start("run-again", "run")

        took = recovered_in(deployment, restarted_at, BURST)
        assert took <= RECOVERY_SECONDS, (
            f"all done {took:.2f} s after the restart; the bound is {RECOVERY_SECONDS} s "
            f"(at the kill: {at_kill.count(DeliveryStatus.DONE)} of {BURST} done)\n"
            + processes.tails()
        )
        assert_synced_once(deployment, booked)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_killed_mid_burst_leaves_another_all_of_it_within_a_lease(
    tmp_path: Path,
) -> None:
    """Worker A (two threads) stops at its first sync's EHR call and goes on with the others on
    its second thread. At the kill some requests are synced; one is A's claim, one may be a
    message A had taken from Redis, the rest wait in Redis. Worker B, started at the kill, has
    them all done within a lease and a sweep."""
    with scaled_out(
        tmp_path, pause="during_ehr_call", PRACTICE_SYNC_BROKER__WORKER_THREADS="2"
    ) as deployment:
        processes = deployment.processes
        booked = book(deployment.base, BURST)
        processes.paused("worker-a", "during_ehr_call")
        at_kill = killed_midway(deployment, "worker-a")
        started_at = time.monotonic()
        processes.start("worker-b", "worker")

        took = recovered_in(deployment, started_at, BURST)
        assert took <= RECOVERY_SECONDS, (
            f"all done {took:.2f} s after worker B started; the bound is {RECOVERY_SECONDS} s "
            f"(at the kill: {at_kill.count(DeliveryStatus.DONE)} of {BURST} done)\n"
            + processes.tails()
        )
        assert_synced_once(deployment, booked)


# -- a live worker keeps its claim -----------------------------------------------------------


def keeps_its_claim(
    deployment: Deployment, delivery_id: str, paused_at: float, *, renewed: bool = True
) -> None:
    """For :data:`LEASES_PAUSED` leases from ``paused_at`` the paused delivery stays running,
    claimed once; if ``renewed``, its lease still runs when they are over (its first one ended
    long before). Then its worker goes on and finishes it, the only run."""
    processes, db = deployment.processes, deployment.db
    until = paused_at + LEASES_PAUSED * LEASE_SECONDS
    last_look: list[tuple[datetime, datetime]] = []  # (its lease's end, when read)

    def still_claimed_once() -> bool:
        row = syncs(db)[delivery_id]
        assert (row.status, row.attempts) == (DeliveryStatus.RUNNING, 1), (
            f"claimed again while its worker lives: {row.status}, attempt {row.attempts}\n"
            + processes.tails()
        )
        assert row.claimed_until is not None
        last_look[:] = [(row.claimed_until, datetime.now(UTC))]
        return time.monotonic() >= until

    processes.wait(still_claimed_once, LEASES_PAUSED * LEASE_SECONDS + 10, "the leases to pass")
    if renewed:
        [(lease_ends, read_at)] = last_look
        assert lease_ends > read_at, f"not renewed: the lease ended at {lease_ends}"
    processes.release()
    processes.wait(done(db, 1), 30, "the paused worker to finish the delivery")
    assert syncs(db)[delivery_id].attempts == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_a_long_ehr_call_is_not_run_twice_while_its_worker_lives(tmp_path: Path) -> None:
    with scaled_out(tmp_path, pause="during_ehr_call") as deployment:
        processes = deployment.processes
        [booked] = book(deployment.base)
        delivery_id = processes.paused("worker-a", "during_ehr_call")
        paused_at = time.monotonic()
        processes.start("worker-b", "worker")  # only now: the delivery is A's
        processes.up("worker-b", processes.logged("worker-b", WORKER_STARTED))
        keeps_its_claim(deployment, delivery_id, paused_at)  # B and the scheduler alive
        assert processes.alive("worker-b")
        assert processes.ran("worker-a", delivery_id), processes.tails()
        assert_synced_once(deployment, [booked])


@pytest.mark.parametrize("point", ["during_ehr_call", "after_ehr_call"])
def test_a_long_hook_is_not_run_twice_while_an_embedded_run_lives(
    tmp_path: Path, migrated_sqlite: Path, point: str
) -> None:
    """During the EHR call the hook holds no write lock: the lease keeper renews the claim
    while the scheduler in the same process sweeps. After the hook, its transaction holds
    SQLite's only write lock: nothing can be renewed, and nothing can take the claim over."""
    with embedded(tmp_path, migrated_sqlite, pause=point) as deployment:
        [booked] = book(deployment.base)
        delivery_id = deployment.processes.paused("run", point)
        renewed = point == "during_ehr_call"
        keeps_its_claim(deployment, delivery_id, time.monotonic(), renewed=renewed)
        assert deployment.processes.ran("run", delivery_id)
        assert_synced_once(deployment, [booked])
