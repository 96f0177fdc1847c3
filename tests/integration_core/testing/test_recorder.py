"""``HookRecorder``, exactly as its docstring shows it."""

from __future__ import annotations

from integration_core.events import RequestEvent
from integration_core.testing import drain


def test_a_request_is_told_to_every_plugin(ps_runtime_factory, ps_recorder):
    runtime = ps_runtime_factory(extra_plugins={"recorder": ps_recorder})
    with runtime.db.transaction() as session:
        event_id = runtime.outbox.emit(
            session, RequestEvent(practice_id="acme", request_id="r", appointment_id="a")
        )
    assert ps_recorder.calls == []  # nothing runs before the deliveries do
    drain(runtime)
    (call,) = ps_recorder.named("on_request")
    assert (call.event_id, call.plugin, call.attempt) == (event_id, "recorder", 1)
