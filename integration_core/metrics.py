"""Prometheus metrics: what each process counts as it works, and what the database holds.

Two kinds, so that a scrape is right however many processes a deployment runs:

* **Counters and histograms** (events, delivery runs by outcome, delivery latency, timers
  fired, adapter and channel calls) live in the process that did the work. With one process
  (``practice-sync run``) that is all there is. Scaled out, every process runs with
  ``PROMETHEUS_MULTIPROC_DIR`` naming one shared directory, and the process that answers
  ``/metrics`` adds up the files all of them wrote (prometheus_client's multiprocess mode).
* **Gauges of database state** (deliveries pending, running and dead, the oldest one waiting,
  timers due and late) are read from the database when a scrape asks, by the process that
  answers it, so there is nothing to add up and nothing stale.

Labels are bounded sets: the practice slug (from configuration), event kind, plugin, hook,
outcome, adapter or channel name, method and error code. Never an id, never patient data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from integration_core.clock import Clock
from integration_core.errors import error_code
from integration_core.store import Database, Delivery, DeliveryStatus, Timer, TimerStatus

__all__ = [
    "ADAPTER_CALLS",
    "ADAPTER_ERRORS",
    "CONTENT_TYPE",
    "DELIVERIES",
    "DELIVERY_LATENCY",
    "DELIVERY_RUN",
    "EHR_CHANGES",
    "EVENTS",
    "MULTIPROCESS_ENV",
    "TIMERS_FIRED",
    "DatabaseState",
    "Measured",
    "exposition",
    "running_for",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""What :func:`exposition` writes: the Prometheus text format every Prometheus reads."""
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
TIMER_LATE_SECONDS = 60.0
"""A pending timer due longer ago than this is late: the scheduler is down or behind."""

# A `_created` series beside every counter doubles the series and tells an operator nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]
PROCESS = CollectorRegistry(auto_describe=True)
"""This process's counters and histograms (not the default registry: no library's metrics)."""

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600)
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

EVENTS = Counter(
    "practice_sync_events",
    "Lifecycle events committed, by kind.",
    ["practice", "kind"],
    registry=PROCESS,
)
DELIVERIES = Counter(
    "practice_sync_deliveries",
    "Delivery runs by outcome: done; retry (failed, runs again later); dead (failed for "
    "good); claim_lost (its lease expired and another worker took it over); lease_expired "
    "(its worker stopped renewing the lease, the sweep made it pending again).",
    ["practice", "plugin", "hook", "outcome"],
    registry=PROCESS,
)
DELIVERY_LATENCY = Histogram(
    "practice_sync_delivery_latency_seconds",
    "From the event's commit to its delivery done, retries included.",
    ["practice", "plugin", "hook"],
    buckets=_LATENCY_BUCKETS,
    registry=PROCESS,
)
DELIVERY_RUN = Histogram(
    "practice_sync_delivery_run_seconds",
    "One run of a delivery: claim, hook and commit.",
    ["practice", "plugin", "hook"],
    buckets=_CALL_BUCKETS,
    registry=PROCESS,
)
TIMERS_FIRED = Counter(
    "practice_sync_timers_fired",
    "Timers fired, by kind.",
    ["practice", "kind"],
    registry=PROCESS,
)
EHR_CHANGES = Counter(
    "practice_sync_ehr_changes",
    "EHR changes received, by how (webhook, poll) and what came of them: applied; duplicate "
    "(already received); stale (a later version was applied first); deferred (its appointment "
    "not linked yet); unmapped (a provider or location the configuration does not know).",
    ["practice", "via", "outcome"],
    registry=PROCESS,
)
ADAPTER_CALLS = Histogram(
    "practice_sync_adapter_call_seconds",
    "Calls to an EHR adapter (kind=ehr) or a notification channel (kind=channel).",
    ["practice", "kind", "adapter", "method"],
    buckets=_CALL_BUCKETS,
    registry=PROCESS,
)
ADAPTER_ERRORS = Counter(
    "practice_sync_adapter_errors",
    "Calls to an EHR adapter or a channel that raised, by the error's stable code.",
    ["practice", "kind", "adapter", "method", "code"],
    registry=PROCESS,
)

_practice: ContextVar[str] = ContextVar("practice_sync_metrics_practice", default="")


@contextmanager
def running_for(practice: str) -> Iterator[None]:
    """Within the block, calls made by this thread count for ``practice`` (a channel, built
    once for all practices, learns whose message it sends from here)."""
    token = _practice.set(practice)
    try:
        yield
    finally:
        _practice.reset(token)


class Measured:
    """An EHR adapter or a channel whose public method calls are timed and whose errors are
    counted; everything else passes through. ``practice`` None: the practice running."""

    def __init__(self, target: Any, *, kind: str, name: str, practice: str | None = None):
        self._target = target
        self._labels = (kind, name)
        self._practice = practice

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._target, attribute)
        if attribute.startswith("_") or not callable(value):
            return value
        return self._measure(attribute, value)

    def _measure(self, method: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def measured(*args: Any, **kwargs: Any) -> Any:
            labels = (self._practice or _practice.get(), *self._labels, method)
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            except Exception as exc:
                ADAPTER_ERRORS.labels(*labels, error_code(exc)).inc()
                raise
            finally:
                ADAPTER_CALLS.labels(*labels).observe(time.perf_counter() - started)

        return measured


class DatabaseState(Collector):
    """Gauges read from the database at scrape time, zero for every configured practice that
    has none (an alert on a missing series never fires)."""

    def __init__(self, db: Database, clock: Clock, practices: Iterable[str]) -> None:
        self.db = db
        self.clock = clock
        self.practices = sorted(practices)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("practice_sync_database_up", "1 if the database answered.")
        try:
            families = self._read(self.clock.now())
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self, now: datetime) -> list[Metric]:
        open_statuses = (DeliveryStatus.PENDING, DeliveryStatus.RUNNING, DeliveryStatus.DEAD)
        with self.db.read() as session:
            deliveries = session.execute(
                select(Delivery.practice_id, Delivery.status, Delivery.plugin, func.count())
                .where(Delivery.status.in_(open_statuses))
                .group_by(Delivery.practice_id, Delivery.status, Delivery.plugin)
            ).all()
            oldest = session.execute(
                select(Delivery.practice_id, func.min(Delivery.next_attempt_at))
                .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
                .group_by(Delivery.practice_id)
            ).all()
            late_before = now - timedelta(seconds=TIMER_LATE_SECONDS)
            timers = session.execute(
                select(
                    Timer.practice_id,
                    func.count(),
                    func.count().filter(Timer.due_at <= late_before),
                )
                .where(Timer.status == TimerStatus.PENDING, Timer.due_at <= now)
                .group_by(Timer.practice_id)
            ).all()

        by_status = GaugeMetricFamily(
            "practice_sync_deliveries",
            "Deliveries now pending, running or dead.",
            labels=["practice", "status"],
        )
        totals = {(p, s.value): 0 for p in self.practices for s in open_statuses}
        dead = GaugeMetricFamily(
            "practice_sync_dead_deliveries",
            "Dead deliveries waiting for a replay, by plugin.",
            labels=["practice", "plugin"],
        )
        for practice, status, plugin, count in deliveries:
            totals[(practice, status.value)] = totals.get((practice, status.value), 0) + count
            if status is DeliveryStatus.DEAD:
                dead.add_metric([practice, plugin], count)
        for labels, count in sorted(totals.items()):
            by_status.add_metric(list(labels), count)

        waiting = GaugeMetricFamily(
            "practice_sync_oldest_due_delivery_seconds",
            "How long the oldest due, pending delivery has waited (0: none waits).",
            labels=["practice"],
        )
        ages = dict.fromkeys(self.practices, 0.0)
        for practice, due_at in oldest:
            ages[practice] = max(0.0, (now - due_at).total_seconds())
        for practice, age in sorted(ages.items()):
            waiting.add_metric([practice], age)

        due = GaugeMetricFamily(
            "practice_sync_timers_due", "Pending timers already due.", labels=["practice"]
        )
        late = GaugeMetricFamily(
            "practice_sync_timers_late",
            f"Pending timers due more than {TIMER_LATE_SECONDS:g} s ago.",
            labels=["practice"],
        )
        counts = {practice: (0, 0) for practice in self.practices}
        counts.update({practice: (n_due, n_late) for practice, n_due, n_late in timers})
        for practice, (n_due, n_late) in sorted(counts.items()):
            due.add_metric([practice], n_due)
            late.add_metric([practice], n_late)
        return [by_status, dead, waiting, due, late]


def exposition(state: DatabaseState) -> bytes:
    """The text a scrape gets: every process's counters (this one's, or all of a scaled-out
    deployment's in multiprocess mode), then the database's state."""
    if os.environ.get(MULTIPROCESS_ENV):
        counters = CollectorRegistry()
        MultiProcessCollector(counters)  # type: ignore[no-untyped-call]
    else:
        counters = PROCESS
    database = CollectorRegistry(auto_describe=False)
    database.register(state)
    return generate_latest(counters) + generate_latest(database)
