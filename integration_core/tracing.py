"""``PRACTICE_SYNC_TRACE_PLUGINS=1``: one log line per hook call, at the default level.

Each line names the hook, the plugin, the event id (for lifecycle hooks), the outcome (``ok``
or the error's stable code) and the duration. Never the arguments: settings objects hold
secrets and records hold patient data.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from integration_core.errors import error_code

__all__ = ["TRACE_ENV", "traced", "tracing"]

TRACE_ENV = "PRACTICE_SYNC_TRACE_PLUGINS"
log = logging.getLogger("practice_sync.trace")


def tracing() -> bool:
    """Whether hook calls are traced (read when a plugin manager or runner is built)."""
    return os.environ.get(TRACE_ENV, "") not in ("", "0")


@contextmanager
def traced(
    hook: str,
    plugin: str,
    event_id: str | None = None,
    delivery_id: str | None = None,
    attempt: int | None = None,
) -> Iterator[None]:
    """Log the call made inside the block: hook, plugin, the delivery's ids (for lifecycle
    hooks), outcome, duration."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except BaseException as exc:
        outcome = error_code(exc)
        raise
    finally:
        log.info(
            "hook call %s %s: %s",
            hook,
            plugin,
            outcome,
            extra={
                "hook": hook,
                "plugin": plugin,
                "event_id": event_id,
                "delivery_id": delivery_id,
                "attempt": attempt,
                "outcome": outcome,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
