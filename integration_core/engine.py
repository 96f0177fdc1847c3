"""``Engine``: what a plugin's HTTP routes may use of the running engine.

The running engine is internal and may change; this protocol is the promise. A route gets
it with :func:`integration_core.api.get_engine` and finds the loaded settings, the clock,
the database and the outbox there — enough to read shared records, write its own tables and
emit events in the same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from integration_core.clock import Clock
    from integration_core.events import LifecycleEvent
    from integration_core.settings import Settings
    from integration_core.store import Database

__all__ = ["Engine", "EventSink"]


class EventSink(Protocol):
    def emit(self, session: Session, event: LifecycleEvent) -> str:
        """Store ``event`` and its deliveries in ``session``'s transaction; returns its id.
        The deliveries are handed to the workers once that transaction commits."""
        ...


class Engine(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def db(self) -> Database: ...
    @property
    def outbox(self) -> EventSink: ...
