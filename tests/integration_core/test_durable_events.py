"""The outbox, the fan-out, retries, dead letters and recovery — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from integration_core import hookimpl
from integration_core.errors import ConfigError
from integration_core.events import DeliveryDeadEvent, RequestEvent
from integration_core.runtime import Runtime
from integration_core.store import Delivery, DeliveryStatus, Event
from integration_core.testing import HookRecorder, QueueDispatcher, drain
from integration_core.testing.processes import wait_until
from integration_core.testing.pytest_plugin import TEST_PRACTICE
from tests.support.events import emit_request
from tests.support.ledger import (
    DatabaseLedger,
    ExternalSystem,
    ExternalWriter,
    Failing,
    create_test_tables,
    ledger_count,
)

ENGINE_ONLY = {"blocked": ["ehr_sync", "notifications"]}
"""These tests watch the engine's own fan-out: no EHR sync or notification joins in."""


def statuses(runtime: Runtime) -> dict[tuple[str, str], str]:
    with runtime.db.read() as session:
        rows = session.execute(select(Delivery.event_id, Delivery.plugin, Delivery.status))
        return {(event_id, plugin): status.value for event_id, plugin, status in rows}


def test_event_and_deliveries_commit_with_the_change_or_not_at_all(ps_runtime_factory):
    runtime = ps_runtime_factory(extra_plugins={"ledger": DatabaseLedger()}, plugins=ENGINE_ONLY)
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        runtime.outbox.emit(
            session, RequestEvent(practice_id="acme", request_id="r", appointment_id="a")
        )
        raise RuntimeError("the caller's change failed")
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert runtime.outbox.dispatcher.sent == []


def test_one_delivery_per_implementing_plugin(ps_runtime_factory):
    runtime = ps_runtime_factory(
        extra_plugins={"ledger": DatabaseLedger(), "recorder": HookRecorder()},
        plugins=ENGINE_ONLY,
    )
    (event_id,) = emit_request(runtime)
    assert sorted(statuses(runtime)) == [(event_id, "ledger"), (event_id, "recorder")]
    assert len(runtime.outbox.dispatcher.sent) == 2


def test_dropped_broker_messages_are_recovered_by_the_sweeper_exactly_once(
    ps_runtime_factory, ps_clock
):
    dispatcher = QueueDispatcher(drop=True)
    runtime = ps_runtime_factory(
        extra_plugins={"ledger": DatabaseLedger(), "recorder": HookRecorder()},
        dispatcher=dispatcher,
        plugins=ENGINE_ONLY,
    )
    create_test_tables(runtime.db.engine)
    event_ids = emit_request(runtime, n=5)
    assert len(dispatcher.dropped) == 10  # ledger + recorder, five events
    assert drain(runtime) == 0

    # Within the hand-off grace period the sweeper leaves them alone ...
    runtime.tick()
    assert dispatcher.take() == []
    # ... after it, everything is re-sent; now the broker works again.
    ps_clock.advance(seconds=runtime.settings.broker.handoff_grace_seconds + 1)
    dispatcher.drop = False
    runtime.tick()
    runtime.tick()  # a second pass must not send the same deliveries again
    assert drain(runtime) == 10
    assert set(statuses(runtime).values()) == {"done"}
    with runtime.db.read() as session:
        for event_id in event_ids:
            assert ledger_count(session, event_id) == 1


def test_a_worker_killed_mid_flight_leaves_nothing_and_the_retry_has_the_only_effect(
    ps_runtime_factory, ps_clock
):
    class Killed(BaseException):
        """Stands for the process dying: not an Exception, so nothing handles it."""

    class DiesOnce(DatabaseLedger):
        died = False

        @hookimpl
        def on_request(self, event, ctx):  # type: ignore[override]
            super().on_request(event, ctx)
            if not DiesOnce.died:
                DiesOnce.died = True
                raise Killed

    runtime = ps_runtime_factory(
        extra_plugins={"ledger": DiesOnce()},
        plugins={"blocked": ["ehr_sync", "notifications"]},
    )
    create_test_tables(runtime.db.engine)
    (event_id,) = emit_request(runtime)
    with pytest.raises(Killed):
        drain(runtime)
    with runtime.db.read() as session:
        assert ledger_count(session) == 0  # the dying run's write rolled back
    assert statuses(runtime) == {(event_id, "ledger"): "running"}

    runtime.tick()  # claim still valid: nothing to do
    assert drain(runtime) == 0
    ps_clock.advance(seconds=runtime.settings.broker.claim_lease_seconds + 1)
    runtime.tick()
    drain(runtime)
    assert statuses(runtime) == {(event_id, "ledger"): "done"}
    with runtime.db.read() as session:
        assert ledger_count(session) == 1
        assert session.scalar(select(Delivery.attempts)) == 2


def test_work_that_kills_every_worker_goes_dead_after_max_attempts(ps_runtime_factory, ps_clock):
    class Killed(BaseException):
        """Stands for the process dying."""

    class AlwaysDies:
        @hookimpl
        def on_request(self, event, ctx):
            raise Killed

    recorder = HookRecorder()
    runtime = ps_runtime_factory(
        extra_plugins={"dies": AlwaysDies(), "recorder": recorder},
        plugins={"blocked": ["ehr_sync", "notifications"]},
        retry={"max_attempts": 3},
    )
    (event_id,) = emit_request(runtime)
    for _ in range(3):
        with pytest.raises(Killed):
            drain(runtime)
        ps_clock.advance(seconds=runtime.settings.broker.claim_lease_seconds + 1)
        runtime.tick()  # the expired claim makes the delivery pending again
    drain(runtime)
    assert statuses(runtime)[(event_id, "dies")] == "dead"
    with runtime.db.read() as session:
        row = session.scalars(select(Delivery).where(Delivery.plugin == "dies")).one()
    assert (row.attempts, row.last_error_code) == (3, "claim_expired")
    (dead,) = recorder.named("on_delivery_dead")
    assert (dead.event.plugin, dead.event.reason_code) == ("dies", "claim_expired")


def test_broker_messages_carry_ids_only(ps_database_url, ps_clock):
    """The real dramatiq stub broker: each message's only argument is a delivery id."""
    from integration_core.testing.pytest_plugin import build_settings

    runtime = Runtime(
        build_settings(ps_database_url, plugins=ENGINE_ONLY),
        clock=ps_clock,
        extra_plugins={"recorder": HookRecorder()},
    )
    try:
        from integration_core.store.migrate import upgrade

        upgrade(runtime.db, runtime.pm)
        emit_request(runtime, n=3)
        queue = runtime.broker.queues[runtime.settings.broker.queue]
        from dramatiq import Message

        messages = [Message.decode(queue.get_nowait()) for _ in range(queue.qsize())]
        with runtime.db.read() as session:
            delivery_ids = set(session.scalars(select(Delivery.id)))
        assert len(messages) == 3
        for message in messages:
            assert message.kwargs == {}
            assert len(message.args) == 1 and message.args[0] in delivery_ids
            assert "req" not in message.encode().decode()
    finally:
        runtime.close()


def test_a_failing_plugin_does_not_stop_the_others_and_goes_dead_then_replays(
    ps_runtime_factory, ps_clock
):
    failing = Failing()
    recorder = HookRecorder()
    runtime = ps_runtime_factory(
        extra_plugins={"failing": failing, "recorder": recorder}, plugins=ENGINE_ONLY
    )
    (event_id,) = emit_request(runtime)
    drain(runtime)
    assert statuses(runtime)[(event_id, "recorder")] == "done"
    assert statuses(runtime)[(event_id, "failing")] == "pending"

    max_attempts = runtime.settings.retry.max_attempts
    for _ in range(max_attempts * 3):
        ps_clock.advance(seconds=runtime.settings.retry.max_backoff_seconds)
        runtime.tick()
        drain(runtime)
    assert failing.calls == max_attempts
    with runtime.db.read() as session:
        dead = session.scalars(select(Delivery).where(Delivery.plugin == "failing")).one()
    assert dead.status is DeliveryStatus.DEAD
    assert dead.last_error_code == "external_unavailable"
    notices = recorder.named("on_delivery_dead")
    assert [(n.event.event_id, n.event.plugin, n.event.reason_code) for n in notices] == [
        (event_id, "failing", "external_unavailable")
    ]
    assert isinstance(notices[0].event, DeliveryDeadEvent)
    assert [row.id for row in runtime.runner.dead("acme")] == [dead.id]

    # Replay after the other side is fixed.
    runtime.pm.unregister(name="failing")
    fixed = HookRecorder()
    runtime.pm.register(fixed, name="failing")
    runtime.runner._callers.clear()
    assert runtime.runner.replay(dead.id)
    assert not runtime.runner.replay(dead.id)  # no longer dead
    drain(runtime)
    assert statuses(runtime)[(event_id, "failing")] == "done"
    assert [call.event_id for call in fixed.named("on_request")] == [event_id]


def test_permanent_errors_go_dead_at_once(ps_runtime_factory):
    failing = Failing(permanent=True)
    runtime = ps_runtime_factory(extra_plugins={"failing": failing}, plugins=ENGINE_ONLY)
    (event_id,) = emit_request(runtime)
    drain(runtime)
    assert failing.calls == 1
    assert statuses(runtime)[(event_id, "failing")] == "dead"
    with runtime.db.read() as session:
        row = session.scalars(select(Delivery).where(Delivery.plugin == "failing")).one()
    assert (row.last_error_code, row.last_error) == ("refused", "the other side refused it")


class UnbuildableAdapter:
    """An EHR adapter whose factory finds its settings unusable only when first asked."""

    @hookimpl
    def register_ehr_adapters(self, registry):
        def factory(practice_id, settings):
            raise ConfigError(f"plugins.config.unbuildable.practices.{practice_id}: no tenant")

        registry.add("unbuildable", factory)


def test_a_configuration_error_goes_dead_at_once_and_names_the_key(ps_runtime_factory):
    """Waiting cannot fix configuration: an EHR sync whose adapter cannot be built."""
    runtime = ps_runtime_factory(
        extra_plugins={"unbuildable": UnbuildableAdapter()},
        plugins={"blocked": ["notifications"]},
        practices={"acme": {**TEST_PRACTICE, "ehr_adapter": "unbuildable"}},
    )
    (event_id,) = emit_request(runtime)
    drain(runtime)
    assert statuses(runtime)[(event_id, "ehr_sync")] == "dead"
    with runtime.db.read() as session:
        row = session.scalars(select(Delivery).where(Delivery.event_id == event_id)).one()
    assert row.attempts == 1
    assert row.last_error_code == "config_invalid"
    assert row.last_error == "plugins.config.unbuildable.practices.acme: no tenant"


def test_retries_back_off_and_stop_at_the_retry_window(ps_runtime_factory, ps_clock):
    failing = Failing()
    runtime = ps_runtime_factory(
        extra_plugins={"failing": failing},
        plugins={"blocked": ["ehr_sync", "notifications"]},
        retry={
            "max_attempts": 1000,
            "base_seconds": 60,
            "max_backoff_seconds": 600,
            "window_seconds": 3600,
        },
    )
    (event_id,) = emit_request(runtime)
    start = ps_clock.now()
    drain(runtime)
    gaps = []
    while statuses(runtime)[(event_id, "failing")] == "pending":
        with runtime.db.read() as session:
            due = session.scalar(select(Delivery.next_attempt_at))
        gaps.append((due - ps_clock.now()).total_seconds())
        ps_clock.set(due)
        runtime.tick()
        drain(runtime)
    # exponential with jitter: each wait within [ceiling/2, ceiling], ceiling doubling to the cap
    for attempt, gap in enumerate(gaps, start=1):
        ceiling = min(600, 60 * 2 ** (attempt - 1))
        assert ceiling / 2 <= gap <= ceiling
    assert ps_clock.now() - start <= timedelta(seconds=3600)
    assert statuses(runtime)[(event_id, "failing")] == "dead"
    assert failing.calls == len(gaps) + 1


def test_the_same_delivery_twice_has_one_external_effect(ps_runtime_factory, ps_clock):
    system = ExternalSystem()
    runtime = ps_runtime_factory(
        extra_plugins={"writer": ExternalWriter(system, fail_after_write=2)},
        plugins={"blocked": ["ehr_sync", "notifications"]},
    )
    (event_id,) = emit_request(runtime)
    for _ in range(5):
        drain(runtime)
        ps_clock.advance(seconds=runtime.settings.retry.max_backoff_seconds)
        runtime.tick()
    assert statuses(runtime) == {(event_id, "writer"): "done"}
    assert system.writes == 3
    assert list(system.records.values()) == ["req0"]


def test_running_a_finished_delivery_again_does_nothing(ps_runtime_factory):
    recorder = HookRecorder()
    runtime = ps_runtime_factory(
        extra_plugins={"recorder": recorder},
        plugins={"blocked": ["ehr_sync", "notifications"]},
    )
    emit_request(runtime)
    (delivery_id,) = runtime.outbox.dispatcher.sent
    drain(runtime)
    assert runtime.runner.run(delivery_id) is None
    assert len(recorder.calls) == 1


def test_dramatiq_worker_threads_deliver_everything(ps_database_url, ps_clock):
    """The real in-process broker and worker threads, not the test dispatcher."""
    from integration_core.store.migrate import upgrade
    from integration_core.testing.pytest_plugin import build_settings

    runtime = Runtime(
        build_settings(ps_database_url, broker={"worker_threads": 4}),
        clock=ps_clock,
        extra_plugins={"ledger": DatabaseLedger()},
    )
    try:
        upgrade(runtime.db, runtime.pm)
        create_test_tables(runtime.db.engine)
        runtime.start_worker()
        event_ids = emit_request(runtime, n=40)
        wait_until(
            lambda: set(statuses(runtime).values()) == {"done"}, 30, "every delivery to be done"
        )
        with runtime.db.read() as session:
            assert all(ledger_count(session, event_id) == 1 for event_id in event_ids)
    finally:
        runtime.close()
