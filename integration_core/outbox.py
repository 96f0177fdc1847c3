"""``emit``: the transactional outbox.

An event and its deliveries are written in the caller's transaction, next to the change that
caused them, so both exist or neither does. Once that transaction commits, the new delivery
ids are handed to the broker (the fast path). If the hand-off is lost — the process dies, the
broker is down — the sweeper finds the delivery still pending and sends it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import pluggy
from sqlalchemy import insert
from sqlalchemy.orm import Session

from integration_core import metrics
from integration_core.clock import Clock
from integration_core.events import LifecycleEvent
from integration_core.plugins import implementing_plugins
from integration_core.store import Database, Delivery, DeliveryStatus, Event, new_id

__all__ = ["Dispatcher", "Outbox"]

# Built once: every state change runs them, and building a statement costs more than running it.
_INSERT_EVENT = insert(Event)
_INSERT_DELIVERY = insert(Delivery)


class Dispatcher(Protocol):
    """Hands delivery ids to whatever runs them (a dramatiq broker, usually)."""

    def send(self, delivery_ids: list[str]) -> None: ...


class Outbox:
    def __init__(
        self, db: Database, pm: pluggy.PluginManager, clock: Clock, dispatcher: Dispatcher
    ) -> None:
        self.db = db
        self.pm = pm
        self.clock = clock
        self.dispatcher = dispatcher
        self._implementers: dict[str, list[str]] = {}

    def implementers(self, hook: str) -> list[str]:
        if hook not in self._implementers:
            self._implementers[hook] = implementing_plugins(self.pm, hook)
        return self._implementers[hook]

    def emit(
        self, session: Session, event: LifecycleEvent, *, only: Iterable[str] | None = None
    ) -> str:
        """Store ``event`` with one delivery per implementing plugin; returns the event id.

        :param only: restrict the fan-out to these plugins (timers go to their owner only).
        """
        now = self.clock.now()
        event_id = new_id()
        plugins = self.implementers(event.hook_name())
        if only is not None:
            allowed = set(only)
            plugins = [name for name in plugins if name in allowed]
        connection = session.connection()
        connection.execute(
            _INSERT_EVENT,
            {
                "id": event_id,
                "practice_id": event.practice_id,
                "kind": event.kind,
                "version": event.version,
                "payload": event.model_dump(mode="json", exclude={"practice_id"}),
                "created_at": now,
            },
        )
        delivery_ids = [new_id() for _ in plugins]
        if plugins:
            connection.execute(
                _INSERT_DELIVERY,
                [
                    {
                        "id": delivery_id,
                        "practice_id": event.practice_id,
                        "event_id": event_id,
                        "plugin": plugin,
                        "hook": event.hook_name(),
                        "status": DeliveryStatus.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "enqueued_at": now,
                        "created_at": now,
                        "retry_from": now,
                    }
                    for delivery_id, plugin in zip(delivery_ids, plugins, strict=True)
                ],
            )
        counted = metrics.EVENTS.labels(event.practice_id, event.kind)
        self.db.after_commit(session, counted.inc)
        if delivery_ids:
            self.db.after_commit(session, lambda: self.dispatcher.send(delivery_ids))
        return event_id
