"""Keeping a live worker's claims: the lease of every delivery whose hook still runs is renewed.

A claim's lease (``broker.claim_lease_seconds``) is how long the others wait before they decide
its worker died and run the delivery again. A worker renews the claims it holds every quarter
lease, so a slow EHR call is never run twice while its worker lives, and a dead worker's
deliveries are free again one lease after its last renewal.

On SQLite a renewal never waits behind a write transaction: one of this process's own hooks
may hold the database's only write lock for as long as its EHR call lasts. It tries without
waiting, and again a moment later. That is safe: while a hook holds the lock, no other worker
can take a claim over either, since taking over is a write.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import bindparam, update

from integration_core.clock import Clock
from integration_core.store import Database, DatabaseBusy, Delivery, DeliveryStatus

__all__ = ["LeaseKeeper"]

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 0.05
"""How soon a renewal that found the SQLite write lock taken tries again."""

_RENEW = (
    update(Delivery)
    .where(
        Delivery.status == DeliveryStatus.RUNNING,
        Delivery.claim_token.in_(bindparam("tokens", expanding=True)),
    )
    .values(claimed_until=bindparam("until"))
    .returning(Delivery.id)
)


class LeaseKeeper:
    """The claims this process holds, and the thread that renews them while it runs."""

    def __init__(self, db: Database, clock: Clock, lease_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.interval = lease_seconds / 4
        self._held: dict[str, str] = {}  # delivery id → claim token
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, delivery_id: str, token: str) -> None:
        with self._lock:
            self._held[delivery_id] = token

    def release(self, delivery_id: str) -> None:
        with self._lock:
            self._held.pop(delivery_id, None)

    def renew(self) -> bool:
        """One renewal of every held claim; False if the database was busy (SQLite), so
        nothing was renewed. A claim that could not be renewed has finished or was taken over:
        it is dropped (a run that lost its claim finds out, and says so, when it commits)."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return True
        try:
            with self.db.write_at_once() as connection:
                renewed = set(
                    connection.scalars(
                        _RENEW,
                        {"tokens": list(held.values()), "until": self.clock.now() + self.lease},
                    )
                )
        except DatabaseBusy:
            return False
        with self._lock:  # finished meanwhile, or taken over: either way, not ours to renew
            for delivery_id in held.keys() - renewed:
                if self._held.get(delivery_id) == held[delivery_id]:
                    del self._held[delivery_id]
        return True

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    renewed = self.renew()
                except Exception:
                    log.exception("lease renewal failed")
                    renewed = True
                self._stop.wait(self.interval if renewed else BUSY_RETRY_SECONDS)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="lease-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
