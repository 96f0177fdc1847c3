"""Durable timers fire once, even with two schedulers, and survive a restart."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from integration_core.store import Delivery, Timer, TimerStatus
from integration_core.testing import drain
from integration_core.timers import cancel, schedule
from tests.support.ledger import DatabaseLedger, create_test_tables, ledger_count


def set_timers(runtime, count: int, due_in: timedelta) -> None:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        for i in range(count):
            schedule(
                session,
                practice_id="acme",
                owner="ledger",
                kind="survey",
                key=f"survey:{i}",
                due_at=now + due_in,
                payload={"appointment_id": f"apt{i}"},
                now=now,
            )


def test_a_timer_fires_once_when_due_and_reaches_only_its_owner(ps_runtime_factory, ps_clock):
    runtime = ps_runtime_factory(extra_plugins={"ledger": DatabaseLedger()})
    create_test_tables(runtime.db.engine)
    set_timers(runtime, 1, timedelta(hours=3))
    set_timers(runtime, 1, timedelta(hours=3))  # same key: still one timer
    assert runtime.tick() == (0, 0)
    ps_clock.advance(hours=3)
    assert runtime.tick() == (1, 0)
    assert runtime.tick() == (0, 0)
    drain(runtime)
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Timer)) == 1
        assert [d.plugin for d in session.scalars(select(Delivery))] == ["ledger"]
        assert ledger_count(session) == 1


def test_a_cancelled_timer_never_fires(ps_runtime_factory, ps_clock):
    runtime = ps_runtime_factory(extra_plugins={"ledger": DatabaseLedger()})
    set_timers(runtime, 2, timedelta(minutes=5))
    with runtime.db.transaction() as session:
        assert cancel(session, practice_id="acme", owner="ledger", key="survey:0")
        assert not cancel(session, practice_id="acme", owner="ledger", key="survey:0")
    ps_clock.advance(minutes=5)
    assert runtime.tick() == (1, 0)


def test_two_schedulers_at_once_fire_each_timer_exactly_once(ps_runtime_factory, ps_clock):
    first = ps_runtime_factory(
        extra_plugins={"ledger": DatabaseLedger()}, scheduler={"batch_size": 7}
    )
    second = ps_runtime_factory(
        extra_plugins={"ledger": DatabaseLedger()}, scheduler={"batch_size": 7}
    )
    create_test_tables(first.db.engine)
    set_timers(first, 120, timedelta(minutes=1))
    ps_clock.advance(minutes=1)

    fired = {first: 0, second: 0}
    start = threading.Barrier(2)

    def scheduler(runtime) -> None:
        start.wait(timeout=30)
        for _ in range(120):  # every pass but the last fires at least one of the 120 timers
            count, _ = runtime.tick()
            if count == 0:
                return
            fired[runtime] += count

    threads = [threading.Thread(target=scheduler, args=(rt,)) for rt in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert fired[first] + fired[second] == 120
    drain(first)
    drain(second)
    with first.db.read() as session:
        assert ledger_count(session) == 120
        assert session.scalar(select(func.count()).select_from(Delivery)) == 120
        statuses = set(session.scalars(select(Timer.status)))
    assert statuses == {TimerStatus.FIRED}


def test_timers_survive_a_restart(ps_runtime_factory, ps_clock):
    before = ps_runtime_factory(extra_plugins={"ledger": DatabaseLedger()})
    create_test_tables(before.db.engine)
    set_timers(before, 3, timedelta(days=1))
    before.close()

    after = ps_runtime_factory(extra_plugins={"ledger": DatabaseLedger()})
    ps_clock.advance(days=1)
    assert after.tick() == (3, 0)
    drain(after)
    with after.db.read() as session:
        assert ledger_count(session) == 3
