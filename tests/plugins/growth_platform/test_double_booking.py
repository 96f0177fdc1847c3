"""No double booking under concurrency: threads on SQLite, processes on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from itertools import combinations

import pytest
from sqlalchemy import select

from integration_core.http.app import create_app
from integration_core.records import ACTIVE_STATUSES, Appointment
from tests.support.booking import MONDAY_MORNING, booking, booking_overrides
from tests.support.racing import post_together, process_main

SAME_SLOT = [booking(email=f"patient{i}@example.com") for i in range(20)]
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


def race_in_processes(
    database_url: str, bodies: list[dict], processes: int
) -> list[tuple[int, dict]]:
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


@ON_SQLITE
def test_threads_racing_for_one_slot_on_sqlite(runtime):
    outcomes = post_together(create_app(runtime), SAME_SLOT, threading.Barrier(len(SAME_SLOT)))
    codes = [code for code, _ in outcomes]
    assert codes.count(201) == 1
    assert set(codes) <= {201, 409, 422}  # 422 once the slot has left availability
    assert len(active_appointments(runtime)) == 1


@ON_SQLITE
def test_threads_racing_across_locations_on_sqlite(runtime):
    outcomes = post_together(
        create_app(runtime), ACROSS_LOCATIONS, threading.Barrier(len(ACROSS_LOCATIONS))
    )
    assert {code for code, _ in outcomes} <= {201, 409, 422}
    winners = active_appointments(runtime)
    assert 1 <= len(winners) <= 2
    assert_no_overlap(winners)


@ON_POSTGRES
@pytest.mark.slow
def test_processes_racing_on_postgresql(runtime):
    outcomes = race_in_processes(runtime.settings.database_url, SAME_SLOT, processes=4)
    codes = [code for code, _ in outcomes]
    assert codes.count(201) == 1, codes
    assert set(codes) <= {201, 409, 422}
    assert len(active_appointments(runtime)) == 1

    later = [
        dict(body, start=body["start"].replace("-01-05T", "-01-11T")) for body in ACROSS_LOCATIONS
    ]
    outcomes = race_in_processes(runtime.settings.database_url, later, processes=3)
    assert {code for code, _ in outcomes} <= {201, 409, 422}
    winners = [a for a in active_appointments(runtime) if a.start_at.day == 11]
    assert 1 <= len(winners) <= 2
    assert_no_overlap(winners)
