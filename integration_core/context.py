"""What a hook implementation is handed along with its event.

A :class:`HookContext` is bound to one delivery: its ``session`` is the delivery's own
transaction, so whatever the plugin writes to the database commits together with the
delivery being marked done — or not at all. External writes are made idempotent with
:meth:`HookContext.idempotency_key`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from integration_core.clock import Clock
from integration_core.events import LifecycleEvent
from integration_core.settings import PracticeSettings, Settings

if TYPE_CHECKING:
    from integration_core.channels import ChannelFactory
    from integration_core.ehr.adapters import EHRAdapters
    from integration_core.outbox import Outbox
    from integration_core.registries import Registry
    from integration_core.store import Database

__all__ = ["HookContext", "idempotency_key"]


def idempotency_key(event_id: str, plugin: str, step: str) -> str:
    """A stable key for one external write: same event, plugin and step → same key."""
    digest = hashlib.sha256(f"{event_id}\x1f{plugin}\x1f{step}".encode()).hexdigest()
    return f"ps-{digest[:40]}"


@dataclass
class HookContext:
    event_id: str
    plugin: str
    attempt: int
    first_run: bool
    """No earlier run of this delivery began: its first attempt, never replayed. Nothing it
    could have left behind (a ledger row, a remote write) needs looking up."""
    practice_id: str
    session: Session
    settings: Settings
    clock: Clock
    outbox: Outbox
    db: Database
    """For a step that must commit on its own, before the delivery ends (a decision a
    retry must not re-take)."""
    ehr: EHRAdapters
    channels: Registry[ChannelFactory]
    """Notification channel factories contributed through ``register_channels``."""

    @property
    def practice(self) -> PracticeSettings:
        return self.settings.practice(self.practice_id)

    def idempotency_key(self, step: str) -> str:
        """The key for external write ``step`` of this delivery (stable across retries)."""
        return idempotency_key(self.event_id, self.plugin, step)

    def emit(self, event: LifecycleEvent) -> str:
        """Emit a follow-up event in this delivery's transaction; returns its id."""
        return self.outbox.emit(self.session, event)

    def schedule(self, *, kind: str, key: str, due_at: datetime, payload: dict[str, str]) -> str:
        """Set a durable timer owned by this plugin; ``key`` makes it idempotent."""
        from integration_core.timers import schedule

        return schedule(
            self.session,
            practice_id=self.practice_id,
            owner=self.plugin,
            kind=kind,
            key=key,
            due_at=due_at,
            payload=payload,
            now=self.clock.now(),
        )
