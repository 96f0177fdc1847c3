"""Running one delivery: claim it, call one plugin's hook, record the outcome.

A delivery moves ``pending → running → done``; a failure sends it back to ``pending`` with a
later ``next_attempt_at`` (exponential backoff with jitter) or, when it is permanent, out of
attempts or past the retry window, to ``dead`` — which emits ``delivery_dead``.

Exactly-once for the database: the hook runs inside the transaction that marks the delivery
done, guarded by the claim token, so a worker that dies mid-flight leaves nothing behind and
a second run after the claim expires has the only effect. External writes are made safe with
idempotency keys (see :class:`~integration_core.context.HookContext`).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pluggy
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration_core.clock import Clock
from integration_core.context import HookContext
from integration_core.ehr.adapters import EHRAdapters
from integration_core.errors import ConfigError, PermanentError, error_code
from integration_core.events import DeliveryDeadEvent, LifecycleEvent, event_type
from integration_core.outbox import Outbox
from integration_core.registries import Registry
from integration_core.settings import Settings
from integration_core.store import Database, Delivery, DeliveryStatus, Event, new_id

__all__ = ["Claim", "DeliveryRunner", "LostClaim", "backoff_seconds"]

log = logging.getLogger(__name__)
MAX_ERROR_TEXT = 500


@dataclass(frozen=True)
class Claim:
    token: str
    attempt: int
    plugin: str
    hook: str
    event_id: str
    event: LifecycleEvent


class LostClaim(Exception):
    """The claim expired and another worker took the delivery over; this run must not commit."""


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, "equal jitter"."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


class DeliveryRunner:
    def __init__(
        self,
        db: Database,
        pm: pluggy.PluginManager,
        settings: Settings,
        clock: Clock,
        outbox: Outbox,
        ehr: EHRAdapters,
        channels: Registry[Any],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.pm = pm
        self.settings = settings
        self.clock = clock
        self.outbox = outbox
        self.ehr = ehr
        self.channels = channels
        self.rng = rng or random.Random()
        self._callers: dict[tuple[str, str], Any] = {}

    # -- claiming -------------------------------------------------------------------------

    def claim(self, delivery_id: str) -> Claim | None:
        """Take the delivery if it is due and free, with what running it needs; else None."""
        now = self.clock.now()
        lease = timedelta(seconds=self.settings.broker.claim_lease_seconds)
        with self.db.transaction() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or row.status in (DeliveryStatus.DONE, DeliveryStatus.DEAD):
                return None
            if (
                row.status is DeliveryStatus.RUNNING
                and row.claimed_until
                and row.claimed_until > now
            ):
                return None
            if row.status is DeliveryStatus.PENDING and row.next_attempt_at > now:
                return None
            if row.attempts >= self.settings.retry.max_attempts:
                # Every earlier claim expired without an outcome: the work kills its worker.
                self._go_dead(session, row, "claim_expired", "the delivery never finished", now)
                return None
            token = new_id()
            taken = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == row.status,
                    Delivery.attempts == row.attempts,
                )
                .values(
                    status=DeliveryStatus.RUNNING,
                    claim_token=token,
                    claimed_until=now + lease,
                    attempts=row.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            stored = session.get(Event, row.event_id)
            assert stored is not None
            event = event_type(stored.kind).model_validate(
                {**stored.payload, "practice_id": stored.practice_id}
            )
            return Claim(token, row.attempts + 1, row.plugin, row.hook, stored.id, event)

    # -- running --------------------------------------------------------------------------

    def run(self, delivery_id: str) -> str | None:
        """Run the delivery if it can be claimed; returns its new status, or None if skipped."""
        claim = self.claim(delivery_id)
        if claim is None:
            return None
        token, attempt = claim.token, claim.attempt
        try:
            # The session begins lazily: a hook may first commit steps of its own (ctx.db)
            # before it touches the delivery's transaction (on SQLite, the write lock).
            with self.db.transaction() as session:
                self._call_hook(session, claim)
                finished = session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id, Delivery.claim_token == token)
                    .values(
                        status=DeliveryStatus.DONE,
                        claim_token=None,
                        claimed_until=None,
                        finished_at=self.clock.now(),
                        last_error_code=None,
                        last_error=None,
                    )
                    .execution_options(synchronize_session=False)
                )
                if finished.rowcount != 1:  # type: ignore[attr-defined]
                    raise LostClaim(delivery_id)
        except LostClaim:
            log.warning("delivery claim lost", extra={"delivery_id": delivery_id})
            return None
        except Exception as exc:
            return self._record_failure(delivery_id, token, exc)
        log.info("delivery done", extra={"delivery_id": delivery_id, "attempt": attempt})
        return DeliveryStatus.DONE.value

    def _call_hook(self, session: Session, claim: Claim) -> None:
        ctx = HookContext(
            event_id=claim.event_id,
            plugin=claim.plugin,
            attempt=claim.attempt,
            practice_id=claim.event.practice_id,
            session=session,
            settings=self.settings,
            clock=self.clock,
            outbox=self.outbox,
            db=self.db,
            ehr=self.ehr,
            channels=self.channels,
        )
        self._caller(claim.hook, claim.plugin)(event=claim.event, ctx=ctx)

    def _caller(self, hook: str, plugin: str) -> Any:
        """A hook caller that reaches only ``plugin`` (never the whole fan-out at once)."""
        key = (hook, plugin)
        if key not in self._callers:
            others = [
                p for name, p in self.pm.list_name_plugin() if name != plugin and p is not None
            ]
            self._callers[key] = self.pm.subset_hook_caller(hook, remove_plugins=others)
        return self._callers[key]

    # -- failures -------------------------------------------------------------------------

    def _record_failure(self, delivery_id: str, token: str, exc: Exception) -> str | None:
        code = error_code(exc)
        # Our own errors carry PHI-free messages; anything else is reduced to its type name.
        text = str(exc)[:MAX_ERROR_TEXT] if code != "unexpected_error" else type(exc).__name__
        now = self.clock.now()
        retry = self.settings.retry
        with self.db.transaction() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or row.claim_token != token:
                return None
            delay = backoff_seconds(
                row.attempts, retry.base_seconds, retry.max_backoff_seconds, self.rng
            )
            next_at = now + timedelta(seconds=delay)
            out_of_window = next_at > row.retry_from + timedelta(seconds=retry.window_seconds)
            if (
                isinstance(exc, PermanentError | ConfigError)  # config needs a person, not time
                or row.attempts >= retry.max_attempts
                or out_of_window
            ):
                self._go_dead(session, row, code, text, now)
                status = DeliveryStatus.DEAD
            else:
                row.status = DeliveryStatus.PENDING
                row.next_attempt_at = next_at
                row.enqueued_at = None
                row.claim_token = None
                row.claimed_until = None
                row.last_error_code = code
                row.last_error = text
                status = DeliveryStatus.PENDING
        log.warning(
            "delivery failed",
            extra={
                "delivery_id": delivery_id,
                "error_code": code,
                "outcome": status.value,
            },
        )
        return status.value

    def _go_dead(
        self, session: Session, row: Delivery, code: str, text: str, now: datetime
    ) -> None:
        row.status = DeliveryStatus.DEAD
        row.claim_token = None
        row.claimed_until = None
        row.last_error_code = code
        row.last_error = text
        row.finished_at = now
        if row.hook == DeliveryDeadEvent.hook_name():
            return
        event = session.get(Event, row.event_id)
        assert event is not None
        self.outbox.emit(
            session,
            DeliveryDeadEvent(
                practice_id=row.practice_id,
                event_id=row.event_id,
                event_kind=event.kind,
                plugin=row.plugin,
                reason_code=code,
            ),
        )

    # -- operator actions -----------------------------------------------------------------

    def replay(self, delivery_id: str) -> bool:
        """Give a dead delivery a fresh set of attempts; True if it was dead."""
        now = self.clock.now()
        with self.db.transaction() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or row.status is not DeliveryStatus.DEAD:
                return False
            row.status = DeliveryStatus.PENDING
            row.attempts = 0
            row.next_attempt_at = now
            row.retry_from = now
            row.enqueued_at = now
            row.finished_at = None
            ids = [row.id]
            self.db.after_commit(session, lambda: self.outbox.dispatcher.send(ids))
        return True

    def dead(self, practice_id: str | None = None, limit: int = 100) -> list[Delivery]:
        with self.db.read() as session:
            query = select(Delivery).where(Delivery.status == DeliveryStatus.DEAD)
            if practice_id:
                query = query.where(Delivery.practice_id == practice_id)
            return list(session.scalars(query.order_by(Delivery.finished_at).limit(limit)))
