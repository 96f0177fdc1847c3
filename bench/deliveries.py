"""Reading the engine's deliveries from its database: a benchmark's work is done when none is
pending or running, and a run in which one went dead measured a failure, not the product."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from integration_core.store import Database, Delivery, DeliveryStatus

__all__ = ["require_none_dead", "wait_until_delivered"]

UNFINISHED = Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RUNNING])


def wait_until_delivered(db: Database, timeout: float = 3600) -> None:
    """Return once no delivery is pending or running (asked every 10 ms: the status index
    answers it); ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as session:
            open_ = session.scalar(select(func.count()).select_from(Delivery).where(UNFINISHED))
        if not open_:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_} deliveries still open after {timeout:.0f} s")
        time.sleep(0.01)


def require_none_dead(db: Database) -> None:
    """``RuntimeError`` if any delivery went dead: the run is not valid."""
    with db.read() as session:
        dead = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.DEAD)
        )
    if dead:
        raise RuntimeError(f"{dead} deliveries went dead: the run is not valid")
