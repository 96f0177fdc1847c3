"""``drain``: every queued delivery, and what those emit, runs now — failures wait their turn."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from integration_core import hookimpl
from integration_core.events import CheckoutEvent, RequestEvent
from integration_core.store import Delivery, DeliveryStatus
from integration_core.testing import HookRecorder, drain
from tests.support.events import emit_request
from tests.support.ledger import Failing

ONLY_EXTRA = {"enabled": []}
"""No built-in plugin: only the test's own plugins receive deliveries."""


class ChecksOut:
    """Answers each request with a follow-up event, emitted in its delivery."""

    @hookimpl
    def on_request(self, event: RequestEvent, ctx) -> None:
        ctx.emit(CheckoutEvent(practice_id=ctx.practice_id, appointment_id=event.appointment_id))


def test_drain_runs_the_queue_and_what_it_emits_and_counts_them(ps_runtime_factory):
    recorder = HookRecorder()
    runtime = ps_runtime_factory(
        extra_plugins={"checks_out": ChecksOut(), "recorder": recorder}, plugins=ONLY_EXTRA
    )
    (event_id,) = emit_request(runtime)
    assert recorder.calls == []
    assert drain(runtime) == 3  # the request to both plugins, then the follow-up to the recorder
    assert [(call.hook, call.event.appointment_id) for call in recorder.calls] == [
        ("on_request", "apt0"),
        ("on_checkout", "apt0"),
    ]
    assert recorder.named("on_request")[0].event_id == event_id
    assert drain(runtime) == 0


def test_a_failed_delivery_waits_for_its_retry_instead_of_running_again(
    ps_runtime_factory, ps_clock
):
    failing = Failing()
    runtime = ps_runtime_factory(extra_plugins={"failing": failing}, plugins=ONLY_EXTRA)
    emit_request(runtime)
    assert drain(runtime) == 1
    assert drain(runtime) == 0
    assert failing.calls == 1
    ps_clock.advance(seconds=runtime.settings.retry.max_backoff_seconds)
    runtime.tick()
    assert drain(runtime) == 1
    assert failing.calls == 2
    with runtime.db.read() as session:
        assert session.scalar(select(Delivery.status)) is DeliveryStatus.PENDING


class Elsewhere:
    """A dispatcher that hands delivery ids on, as a broker does, keeping none."""

    def send(self, delivery_ids: list[str]) -> None:
        pass


def test_drain_needs_the_queue_dispatcher(ps_runtime_factory):
    runtime = ps_runtime_factory(dispatcher=Elsewhere())
    with pytest.raises(TypeError, match="drain needs a runtime built with a QueueDispatcher"):
        drain(runtime)
