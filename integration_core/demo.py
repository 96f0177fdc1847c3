"""``practice-sync demo``: the embedded stack end to end, reported from the stores.

Builds a one-practice deployment on SQLite with the in-process broker, emits a booking
``request`` event the way the widget's submit does, lets the worker threads deliver it to
every plugin implementing ``on_request``, and prints what the database then holds: the event,
each plugin's delivery, and the activity log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from integration_core.activity import recent
from integration_core.events import RequestEvent
from integration_core.runtime import Runtime
from integration_core.settings import Settings
from integration_core.store import Delivery, DeliveryStatus, Event, new_id

__all__ = ["run_demo"]

PRACTICE = "demo_clinic"
WAIT_SECONDS = 15.0


def demo_settings(folder: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'demo.db'}",
        practices={
            PRACTICE: {
                "name": "Demo Family Clinic",
                "locations": {"main": {"name": "Main St", "time_zone": "America/New_York"}},
                "providers": {
                    "dr_lee": {"name": "Dr. Lee", "ehr_id": "prov-1", "locations": ["main"]}
                },
            }
        },
    )


def run_demo(folder: Path, say: Callable[[str], None]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("demo.db*"):
        leftover.unlink()
    runtime = Runtime(demo_settings(folder))
    try:
        runtime.migrate()
        runtime.start_worker()
        runtime.start_scheduler()
        with runtime.db.transaction() as session:
            event_id = runtime.outbox.emit(
                session,
                RequestEvent(
                    practice_id=PRACTICE, request_id=new_id("req_"), appointment_id=new_id("apt_")
                ),
            )
        say(f"emitted request event {event_id}; waiting for its deliveries…")
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with runtime.db.read() as session:
                open_rows = session.scalars(
                    select(Delivery.id).where(
                        Delivery.event_id == event_id,
                        Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RUNNING]),
                    )
                ).all()
            if not open_rows:
                break
            time.sleep(0.05)
        _report(runtime, event_id, say)
    finally:
        runtime.close()


def _report(runtime: Runtime, event_id: str, say: Callable[[str], None]) -> None:
    with runtime.db.read() as session:
        event = session.get(Event, event_id)
        assert event is not None
        say(f"event {event.id}: kind={event.kind} v{event.version} payload={event.payload}")
        deliveries = session.scalars(select(Delivery).where(Delivery.event_id == event_id)).all()
        for delivery in deliveries:
            took = (
                f"{(delivery.finished_at - delivery.created_at).total_seconds() * 1000:.0f} ms"
                if delivery.finished_at
                else "not finished"
            )
            say(
                f"  delivery to {delivery.plugin}.{delivery.hook}: {delivery.status.value} "
                f"after {delivery.attempts} attempt(s), {took}"
            )
        say("activity log:")
        for entry in recent(session, PRACTICE):
            line = f"  {entry.at:%H:%M:%S} {entry.kind} subject={entry.subject} {entry.detail}"
            say(line.rstrip())
