"""Running deliveries when a test says: a dispatcher that keeps what would have gone to the
broker, and :func:`drain`, which runs it all now."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integration_core.runtime import Runtime

__all__ = ["QueueDispatcher", "drain"]


class QueueDispatcher:
    """Collects delivery ids; ``drain`` runs them (and whatever they emit) until none are left.

    ``drop=True`` loses every message, as a broker outage would: only the sweeper can then
    finish the work.
    """

    def __init__(self, *, drop: bool = False) -> None:
        self.drop = drop
        self.sent: list[str] = []
        self.dropped: list[str] = []
        self._queue: list[str] = []
        self._lock = threading.Lock()

    def send(self, delivery_ids: list[str]) -> None:
        with self._lock:
            self.sent.extend(delivery_ids)
            if self.drop:
                self.dropped.extend(delivery_ids)
            else:
                self._queue.extend(delivery_ids)

    def take(self) -> list[str]:
        with self._lock:
            queued, self._queue = self._queue, []
            return queued

    def drain(self, run: Callable[[str], object], *, max_rounds: int = 100) -> int:
        """Run queued deliveries until the queue stays empty; returns how many were run."""
        count = 0
        for _ in range(max_rounds):
            batch = self.take()
            if not batch:
                return count
            for delivery_id in batch:
                run(delivery_id)
                count += 1
        raise RuntimeError(f"deliveries kept coming after {max_rounds} rounds")


def drain(runtime: Runtime) -> int:
    """Run every queued delivery of ``runtime`` (and what those emit) now; returns how many ran.

    The runtime must dispatch through a :class:`QueueDispatcher`, as the ``ps_runtime_factory``
    fixture's runtimes do. A delivery that fails is left to its retry schedule, as a worker
    would leave it: advance the clock and call ``runtime.tick()`` to bring it back::

        def test_my_plugin_hears_of_each_request(ps_runtime_factory, ps_recorder):
            runtime = ps_runtime_factory(extra_plugins={"recorder": ps_recorder})
            ...  # something that emits a request event
            assert drain(runtime) >= 1
            assert ps_recorder.named("on_request")
    """
    dispatcher = runtime.outbox.dispatcher
    if not isinstance(dispatcher, QueueDispatcher):
        raise TypeError(
            f"drain needs a runtime built with a QueueDispatcher, not {type(dispatcher).__name__}"
        )
    return dispatcher.drain(runtime.runner.run)
