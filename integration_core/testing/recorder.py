"""A plugin that records the lifecycle hook calls it receives, for assertions about which
hooks fired, for which event, in which plugin's delivery and on which attempt."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from integration_core import hookimpl
from integration_core.context import HookContext
from integration_core.events import LifecycleEvent

__all__ = ["HookCall", "HookRecorder"]


@dataclass(frozen=True)
class HookCall:
    """One lifecycle hook call: the hook, its event, and the delivery it ran in."""

    hook: str
    event: LifecycleEvent
    event_id: str
    plugin: str
    attempt: int


def _recording(hook: str) -> Any:
    def implementation(self: HookRecorder, event: LifecycleEvent, ctx: HookContext) -> None:
        self.record(hook, event, ctx)

    implementation.__name__ = hook
    return hookimpl(specname=hook)(implementation)


class HookRecorder:
    """Implements every lifecycle hook (``on_*``) and keeps each call, in order, in ``calls``.

    Register it like any plugin object; ``named(hook)`` picks one hook's calls::

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

    It is thread-safe, so it also records what real worker threads run.
    """

    on_request = _recording("on_request")
    on_request_synced = _recording("on_request_synced")
    on_request_sync_failed = _recording("on_request_sync_failed")
    on_confirm = _recording("on_confirm")
    on_decline = _recording("on_decline")
    on_cancel = _recording("on_cancel")
    on_reschedule = _recording("on_reschedule")
    on_checkin = _recording("on_checkin")
    on_checkout = _recording("on_checkout")
    on_appointment_synced = _recording("on_appointment_synced")
    on_ehr_change_unmapped = _recording("on_ehr_change_unmapped")
    on_delivery_dead = _recording("on_delivery_dead")
    on_timer = _recording("on_timer")

    def __init__(self) -> None:
        self.calls: list[HookCall] = []
        self._lock = threading.Lock()

    def record(self, hook: str, event: LifecycleEvent, ctx: HookContext) -> None:
        with self._lock:
            self.calls.append(HookCall(hook, event, ctx.event_id, ctx.plugin, ctx.attempt))

    def named(self, hook: str) -> list[HookCall]:
        """The calls of ``hook`` (``"on_request"``), in the order they happened."""
        return [call for call in self.calls if call.hook == hook]
