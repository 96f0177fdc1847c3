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
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pluggy
from sqlalchemy import ColumnElement, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from integration_core import metrics
from integration_core.channels import ChannelFactory
from integration_core.clock import Clock
from integration_core.context import HookContext
from integration_core.ehr.adapters import EHRAdapters
from integration_core.errors import ConfigError, PermanentError, error_code
from integration_core.events import DeliveryDeadEvent, LifecycleEvent, event_type
from integration_core.leases import LeaseKeeper
from integration_core.outbox import Outbox
from integration_core.registries import Registry
from integration_core.settings import Settings
from integration_core.store import Database, Delivery, DeliveryStatus, Event, new_id
from integration_core.tracing import traced, tracing

__all__ = ["Claim", "DeliveryRunner", "LostClaim", "backoff_seconds"]

log = logging.getLogger(__name__)
MAX_ERROR_TEXT = 500


def _claimable(now: Any) -> ColumnElement[bool]:
    """Due and pending, or running under a claim that has expired."""
    return or_(
        and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
        and_(Delivery.status == DeliveryStatus.RUNNING, Delivery.claimed_until <= now),
    )


# Every delivery runs these; they are built once, because building a statement costs more
# than running it on SQLite.
_CLAIM = (
    update(Delivery)
    .where(
        Delivery.id == bindparam("delivery_id"),
        _claimable(bindparam("now")),
        Delivery.attempts < bindparam("max_attempts"),
    )
    .values(
        status=DeliveryStatus.RUNNING,
        claim_token=bindparam("token"),
        claimed_until=bindparam("until"),
        attempts=Delivery.attempts + 1,
    )
    .returning(
        Delivery.attempts,
        Delivery.plugin,
        Delivery.hook,
        Delivery.event_id,
        Delivery.last_error_code.is_(None).label("never_failed"),  # a replayed one had
    )
)
_EVENT = select(Event.kind, Event.payload, Event.practice_id, Event.created_at).where(
    Event.id == bindparam("event_id")
)
_FINISH = (
    update(Delivery)
    .where(Delivery.id == bindparam("delivery_id"), Delivery.claim_token == bindparam("token"))
    .values(
        status=DeliveryStatus.DONE,
        claim_token=None,
        claimed_until=None,
        finished_at=bindparam("at"),
        last_error_code=None,
        last_error=None,
    )
)


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    token: str
    attempt: int
    first_run: bool
    plugin: str
    hook: str
    event_id: str
    event: LifecycleEvent
    event_created_at: datetime

    @property
    def labels(self) -> tuple[str, str, str]:
        """Its metric labels: practice, plugin, hook."""
        return self.event.practice_id, self.plugin, self.hook


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
        channels: Registry[ChannelFactory],
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
        self.trace = tracing()
        self.leases = LeaseKeeper(db, clock, settings.broker.claim_lease_seconds)
        self._callers: dict[tuple[str, str], Any] = {}

    # -- claiming -------------------------------------------------------------------------

    def claim(self, delivery_id: str) -> Claim | None:
        """Take the delivery if it is due and free, with what running it needs; else None.

        One conditional ``UPDATE … RETURNING`` decides and takes the claim, so two workers
        handed the same id cannot both win, and the common case costs two statements.
        """
        now = self.clock.now()
        max_attempts = self.settings.retry.max_attempts
        token = new_id()
        with self.db.transaction() as session:
            connection = session.connection()
            taken = connection.execute(
                _CLAIM,
                {
                    "delivery_id": delivery_id,
                    "now": now,
                    "max_attempts": max_attempts,
                    "token": token,
                    "until": now + timedelta(seconds=self.settings.broker.claim_lease_seconds),
                },
            ).one_or_none()
            if taken is None:
                exhausted = session.scalars(
                    select(Delivery).where(
                        Delivery.id == delivery_id,
                        _claimable(now),
                        Delivery.attempts >= max_attempts,
                    )
                ).one_or_none()
                if exhausted is not None:
                    # Every earlier claim expired without an outcome: the work kills its worker.
                    self._go_dead(
                        session, exhausted, "claim_expired", "the delivery never finished", now
                    )
                return None
            stored = connection.execute(_EVENT, {"event_id": taken.event_id}).one()
        event = event_type(stored.kind).model_validate(
            {**stored.payload, "practice_id": stored.practice_id}
        )
        first_run = taken.attempts == 1 and bool(taken.never_failed)
        return Claim(
            delivery_id,
            token,
            taken.attempts,
            first_run,
            taken.plugin,
            taken.hook,
            taken.event_id,
            event,
            stored.created_at,
        )

    # -- running --------------------------------------------------------------------------

    def run(self, delivery_id: str) -> str | None:
        """Run the delivery if it can be claimed; returns its new status, or None if skipped."""
        claim = self.claim(delivery_id)
        if claim is None:
            return None
        token, attempt = claim.token, claim.attempt
        self.leases.hold(delivery_id, token)
        started = time.perf_counter()
        try:
            # The session begins lazily: a hook may first commit steps of its own (ctx.db)
            # before it touches the delivery's transaction (on SQLite, the write lock).
            with self.db.transaction() as session:
                self._call_hook(session, claim)
                finished = session.connection().execute(
                    _FINISH,
                    {"delivery_id": delivery_id, "token": token, "at": self.clock.now()},
                )
                if finished.rowcount != 1:
                    raise LostClaim(delivery_id)
        except LostClaim:
            log.warning("delivery claim lost", extra={"delivery_id": delivery_id})
            metrics.DELIVERIES.labels(*claim.labels, "claim_lost").inc()
            return None
        except Exception as exc:
            return self._record_failure(delivery_id, token, exc)
        finally:
            self.leases.release(delivery_id)
            metrics.DELIVERY_RUN.labels(*claim.labels).observe(time.perf_counter() - started)
        log.info("delivery done", extra={"delivery_id": delivery_id, "attempt": attempt})
        metrics.DELIVERIES.labels(*claim.labels, "done").inc()
        latency = self.clock.now() - claim.event_created_at
        metrics.DELIVERY_LATENCY.labels(*claim.labels).observe(latency.total_seconds())
        return DeliveryStatus.DONE.value

    def _call_hook(self, session: Session, claim: Claim) -> None:
        ctx = HookContext(
            event_id=claim.event_id,
            plugin=claim.plugin,
            attempt=claim.attempt,
            first_run=claim.first_run,
            practice_id=claim.event.practice_id,
            session=session,
            settings=self.settings,
            clock=self.clock,
            outbox=self.outbox,
            db=self.db,
            ehr=self.ehr,
            channels=self.channels,
        )
        call = self._caller(claim.hook, claim.plugin)
        with (
            metrics.running_for(claim.event.practice_id),
            traced(claim.hook, claim.plugin, claim.event_id, claim.delivery_id, claim.attempt)
            if self.trace
            else nullcontext(),
        ):
            call(event=claim.event, ctx=ctx)

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
                retried = metrics.DELIVERIES.labels(row.practice_id, row.plugin, row.hook, "retry")
                self.db.after_commit(session, retried.inc)
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
        died = metrics.DELIVERIES.labels(row.practice_id, row.plugin, row.hook, "dead")
        self.db.after_commit(session, died.inc)
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
            # Not marked handed off: the next sweep sends it too, since this process's broker
            # may reach no worker (a CLI on the in-process broker). A second send is harmless.
            row.enqueued_at = None
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
