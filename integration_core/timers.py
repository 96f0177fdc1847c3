"""Durable timers: "send the survey in 3 hours", "retry the reminder in a day".

A timer is a row with ``due_at``; nothing about it lives in the broker, so a restart loses
none. The scheduler claims due timers — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
``BEGIN IMMEDIATE`` write lock on SQLite — and, in the same transaction, marks each fired and
emits a ``timer`` event delivered only to the plugin that owns it. Two schedulers running at
once therefore fire each timer exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core import metrics
from integration_core.events import TimerEvent
from integration_core.outbox import Outbox
from integration_core.store import Database, Timer, TimerStatus, new_id

__all__ = ["cancel", "fire_due", "schedule"]


def schedule(
    session: Session,
    *,
    practice_id: str,
    owner: str,
    kind: str,
    key: str,
    due_at: datetime,
    payload: dict[str, str],
    now: datetime,
) -> str:
    """Set a timer unless ``(practice, owner, key)`` already has one; returns the timer id."""
    existing = session.scalar(
        select(Timer).where(
            Timer.practice_id == practice_id, Timer.owner == owner, Timer.key == key
        )
    )
    if existing is not None:
        return existing.id
    timer = Timer(
        id=new_id(),
        practice_id=practice_id,
        owner=owner,
        kind=kind,
        key=key,
        payload=payload,
        due_at=due_at,
        status=TimerStatus.PENDING,
        created_at=now,
    )
    session.add(timer)
    return timer.id


def cancel(session: Session, *, practice_id: str, owner: str, key: str) -> bool:
    """Cancel a pending timer; True if there was one to cancel."""
    timer = session.scalar(
        select(Timer).where(
            Timer.practice_id == practice_id,
            Timer.owner == owner,
            Timer.key == key,
            Timer.status == TimerStatus.PENDING,
        )
    )
    if timer is None:
        return False
    timer.status = TimerStatus.CANCELLED
    return True


def fire_due(db: Database, outbox: Outbox, now: datetime, *, batch_size: int = 200) -> int:
    """Fire up to ``batch_size`` due timers; returns how many this call fired."""
    with db.transaction() as session:
        query = (
            select(Timer)
            .where(Timer.status == TimerStatus.PENDING, Timer.due_at <= now)
            .order_by(Timer.due_at)
            .limit(batch_size)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        timers = list(session.scalars(query))
        for timer in timers:
            timer.status = TimerStatus.FIRED
            timer.fired_at = now
            timer.event_id = outbox.emit(
                session,
                TimerEvent(
                    practice_id=timer.practice_id,
                    timer_id=timer.id,
                    timer_kind=timer.kind,
                    key=timer.key,
                    payload=timer.payload,
                ),
                only=[timer.owner],
            )
            db.after_commit(session, metrics.TIMERS_FIRED.labels(timer.practice_id, timer.kind).inc)
        return len(timers)
