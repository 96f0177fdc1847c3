"""Shared helpers; the fixtures themselves come from ``integration_core.testing``."""

from __future__ import annotations

from integration_core.runtime import Runtime
from integration_core.testing import QueueDispatcher


def drain(runtime: Runtime) -> int:
    """Run every queued delivery (and what those emit) now."""
    dispatcher = runtime.outbox.dispatcher
    assert isinstance(dispatcher, QueueDispatcher)
    return dispatcher.drain(runtime.runner.run)
