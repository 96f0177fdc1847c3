"""Lease renewal: a live worker keeps its claims; a claim nobody renews expires — on SQLite and
PostgreSQL. (Real processes killed at named points are in ``tests/e2e/test_kill_recovery.py``.)"""

from __future__ import annotations

import threading

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select, text

from integration_core import hookimpl
from integration_core.broker import DramatiqDispatcher
from integration_core.runtime import Runtime
from integration_core.settings import BrokerSettings, SchedulerSettings
from integration_core.store import Delivery, DeliveryStatus
from integration_core.store.engine import SQLITE_BUSY_TIMEOUT_MS
from integration_core.testing import QueueDispatcher, drain
from integration_core.testing.pytest_plugin import build_settings
from tests.support.events import emit_request

ENGINE_ONLY = {"blocked": ["ehr_sync", "notifications"]}
LEASE = 20.0


class Noting:
    """Implements ``on_request`` and does nothing else: one delivery per event."""

    @hookimpl
    def on_request(self, event, ctx):
        pass


def claimed_until(runtime: Runtime, delivery_id: str):
    with runtime.db.read() as session:
        return session.scalar(select(Delivery.claimed_until).where(Delivery.id == delivery_id))


def one_delivery(runtime: Runtime) -> str:
    (delivery_id,) = runtime.outbox.dispatcher.sent
    return delivery_id


@pytest.fixture
def runtime(ps_runtime_factory) -> Runtime:
    built: Runtime = ps_runtime_factory(
        extra_plugins={"noting": Noting()},
        plugins=ENGINE_ONLY,
        broker={"claim_lease_seconds": LEASE},
    )
    return built


def test_a_held_claim_outlives_its_first_lease(runtime, ps_runtime_factory, ps_clock):
    emit_request(runtime)
    delivery_id = one_delivery(runtime)
    claim = runtime.runner.claim(delivery_id)
    assert claim is not None
    runtime.runner.leases.hold(delivery_id, claim.token)

    for _ in range(3):  # three quarter-leases later each time: renewed each time
        ps_clock.advance(seconds=LEASE * 0.75)
        assert runtime.runner.leases.renew()
    ps_clock.advance(seconds=LEASE * 0.75)  # 3 leases after the claim, one after the renewal

    other = ps_runtime_factory(extra_plugins={"noting": Noting()}, plugins=ENGINE_ONLY)
    other.tick()
    assert other.runner.claim(delivery_id) is None  # still the first worker's
    with other.db.read() as session:
        assert session.get(Delivery, delivery_id).status is DeliveryStatus.RUNNING


def test_a_claim_nobody_renews_is_taken_over_after_one_lease(runtime, ps_clock):
    emit_request(runtime)
    delivery_id = one_delivery(runtime)
    first = runtime.runner.claim(delivery_id)
    assert first is not None

    ps_clock.advance(seconds=LEASE - 1)
    assert runtime.runner.claim(delivery_id) is None
    ps_clock.advance(seconds=1)
    second = runtime.runner.claim(delivery_id)
    assert second is not None and second.token != first.token


def test_a_claim_taken_over_is_no_longer_renewed(runtime, ps_clock):
    emit_request(runtime)
    delivery_id = one_delivery(runtime)
    first = runtime.runner.claim(delivery_id)
    assert first is not None
    runtime.runner.leases.hold(delivery_id, first.token)
    ps_clock.advance(seconds=LEASE + 1)
    second = runtime.runner.claim(delivery_id)  # a worker that took it over meanwhile
    assert second is not None
    until = claimed_until(runtime, delivery_id)

    ps_clock.advance(seconds=1)
    assert runtime.runner.leases.renew()
    assert claimed_until(runtime, delivery_id) == until  # the other worker's lease, untouched
    ps_clock.advance(seconds=1)
    runtime.runner.leases.renew()
    assert claimed_until(runtime, delivery_id) == until  # and the lost claim was dropped


def test_a_finished_delivery_holds_no_lease(runtime):
    emit_request(runtime)
    delivery_id = one_delivery(runtime)
    drain(runtime)
    with runtime.db.read() as session:
        assert session.get(Delivery, delivery_id).status is DeliveryStatus.DONE
    assert runtime.runner.leases.renew()
    assert claimed_until(runtime, delivery_id) is None


def test_on_sqlite_a_renewal_does_not_wait_for_the_write_lock(tmp_path, ps_clock):
    """A hook holding SQLite's write lock (here: another connection's open write transaction)
    makes the renewal give up at once, not queue behind it for the busy timeout; once the lock
    is free it renews, and every pooled connection waits for the lock as usual again."""
    runtime = Runtime(
        build_settings(
            f"sqlite:///{tmp_path / 'leases.db'}",
            plugins=ENGINE_ONLY,
            broker={"claim_lease_seconds": LEASE},
        ),
        clock=ps_clock,
        extra_plugins={"noting": Noting()},
        dispatcher=QueueDispatcher(),
    )
    try:
        runtime.migrate()
        emit_request(runtime)
        delivery_id = one_delivery(runtime)
        claim = runtime.runner.claim(delivery_id)
        assert claim is not None
        runtime.runner.leases.hold(delivery_id, claim.token)
        before = claimed_until(runtime, delivery_id)
        ps_clock.advance(seconds=5)

        outcome: list[bool] = []
        with runtime.db.transaction() as session:
            session.execute(text("UPDATE events SET kind = kind"))  # takes the write lock
            renewer = threading.Thread(target=lambda: outcome.append(runtime.runner.leases.renew()))
            renewer.start()
            renewer.join(timeout=5)
            assert not renewer.is_alive(), "the renewal queued for the write lock"
        assert outcome == [False]
        assert claimed_until(runtime, delivery_id) == before

        assert runtime.runner.leases.renew()
        assert claimed_until(runtime, delivery_id) > before
        engine = runtime.db.engine
        idle = [engine.raw_connection() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
        try:
            timeouts = {c.execute("PRAGMA busy_timeout").fetchone()[0] for c in idle}
        finally:
            for connection in idle:
                connection.close()
        assert timeouts == {SQLITE_BUSY_TIMEOUT_MS}
    finally:
        runtime.close()


def test_by_default_a_dead_workers_deliveries_run_again_within_30_seconds():
    """What it was running after a lease and a sweep; what it had taken from the broker and not
    started, after the hand-off grace and a sweep."""
    broker, scheduler = BrokerSettings(), SchedulerSettings()
    assert broker.claim_lease_seconds + scheduler.tick_seconds <= 30
    assert broker.handoff_grace_seconds + scheduler.tick_seconds <= 30


def test_a_worker_takes_from_the_broker_no_more_messages_than_it_has_threads():
    broker = StubBroker()
    dispatcher = DramatiqDispatcher(broker, "leases_test", lambda delivery_id: None)
    assert dispatcher.worker(threads=3, idle_poll_ms=50).queue_prefetch == 3
