"""No double booking under concurrency, and every loser told the slot is taken (409
``slot_unavailable``) — whether the check before the transaction or the one inside it caught
it: threads over real HTTP and in process on SQLite and PostgreSQL, processes on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from itertools import combinations

import pytest
from sqlalchemy import select

from integration_core.http.app import create_app
from integration_core.records import ACTIVE_STATUSES, Appointment
from tests.support.booking import MONDAY_MORNING, booking, booking_overrides
from tests.support.racing import (
    Outcome,
    post_together,
    post_together_over_http,
    process_main,
    served,
)

SAME_SLOT = [booking(email=f"patient{i}@example.com") for i in range(20)]
FIFTY = [booking(email=f"patient{i}@example.com") for i in range(50)]
TAKEN = (409, "slot_unavailable")
# dr_lee: downtown keeps 30-minute slots, uptown 20-minute ones; all three overlap 09:00–09:30.
ACROSS_LOCATIONS = [
    booking(location="downtown", start="2027-01-05T09:00:00-05:00"),
    booking(location="uptown", start="2027-01-05T09:00:00-05:00"),
    booking(location="uptown", start="2027-01-05T09:20:00-05:00"),
] * 4


def active_appointments(runtime) -> list[Appointment]:
    with runtime.db.read() as session:
        return list(
            session.scalars(
                select(Appointment).where(
                    Appointment.provider_id == "dr_lee", Appointment.status.in_(ACTIVE_STATUSES)
                )
            )
        )


def assert_no_overlap(appointments: list[Appointment]) -> None:
    for a, b in combinations(appointments, 2):
        assert a.end_at <= b.start_at or b.end_at <= a.start_at, (a.location_id, b.location_id)


def assert_one_winner(outcomes: list[Outcome], racers: int) -> None:
    assert len(outcomes) == racers
    assert outcomes.count((201, None)) == 1, outcomes
    assert outcomes.count(TAKEN) == racers - 1, outcomes


def race_in_processes(database_url: str, bodies: list[dict], processes: int) -> list[Outcome]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(bodies))
    results = context.Queue()
    share = [bodies[i::processes] for i in range(processes)]
    workers = [
        context.Process(
            target=process_main,
            args=(database_url, booking_overrides(), MONDAY_MORNING, part, barrier, results),
        )
        for part in share
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=180) for _ in bodies]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


ON_SQLITE = pytest.mark.parametrize("ps_database_url", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize(
    "ps_database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def test_fifty_patients_racing_over_http_for_one_slot(runtime):
    """The issue as seen from outside: every one of the 49 who lost is told the slot is taken."""
    with served(create_app(runtime)) as base_url:
        outcomes = post_together_over_http(base_url, FIFTY, threading.Barrier(len(FIFTY)))
    assert_one_winner(outcomes, len(FIFTY))
    assert len(active_appointments(runtime)) == 1


def test_fifty_threads_racing_in_process_for_one_slot(runtime):
    outcomes = post_together(create_app(runtime), FIFTY, threading.Barrier(len(FIFTY)))
    assert_one_winner(outcomes, len(FIFTY))
    assert len(active_appointments(runtime)) == 1


@ON_SQLITE
def test_threads_racing_across_locations_on_sqlite(runtime):
    outcomes = post_together(
        create_app(runtime), ACROSS_LOCATIONS, threading.Barrier(len(ACROSS_LOCATIONS))
    )
    assert set(outcomes) <= {(201, None), TAKEN}
    winners = active_appointments(runtime)
    assert 1 <= len(winners) <= 2
    assert_no_overlap(winners)


@ON_POSTGRES
@pytest.mark.slow
def test_processes_racing_on_postgresql(runtime):
    outcomes = race_in_processes(runtime.settings.database_url, SAME_SLOT, processes=4)
    assert_one_winner(outcomes, len(SAME_SLOT))
    assert len(active_appointments(runtime)) == 1

    later = [
        dict(body, start=body["start"].replace("-01-05T", "-01-11T")) for body in ACROSS_LOCATIONS
    ]
    outcomes = race_in_processes(runtime.settings.database_url, later, processes=3)
    assert set(outcomes) <= {(201, None), TAKEN}
    winners = [a for a in active_appointments(runtime) if a.start_at.day == 11]
    assert 1 <= len(winners) <= 2
    assert_no_overlap(winners)
