"""A plugin that records the lifecycle hook calls it receives, for assertions."""

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
    """Register it (``extra_plugins={"recorder": HookRecorder()}``) and read ``calls``."""

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
    on_delivery_dead = _recording("on_delivery_dead")
    on_timer = _recording("on_timer")

    def __init__(self) -> None:
        self.calls: list[HookCall] = []
        self._lock = threading.Lock()

    def record(self, hook: str, event: LifecycleEvent, ctx: HookContext) -> None:
        with self._lock:
            self.calls.append(HookCall(hook, event, ctx.event_id, ctx.plugin, ctx.attempt))

    def named(self, hook: str) -> list[HookCall]:
        return [call for call in self.calls if call.hook == hook]
