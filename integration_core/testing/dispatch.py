"""A dispatcher for tests: keeps what would have gone to the broker, runs it on demand."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["QueueDispatcher"]


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
