"""The assembled engine: settings, plugins, store, outbox, delivery runner, broker, scheduler.

``Runtime`` is what the CLI's ``run``, ``serve``, ``worker`` and ``scheduler`` commands start
pieces of, and what tests build around a temporary database. Nothing here happens at import
time.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from integration_core.broker import DramatiqDispatcher, build_broker
from integration_core.clock import Clock, SystemClock
from integration_core.deliveries import DeliveryRunner
from integration_core.ehr.adapters import EHRAdapters
from integration_core.ehr.polling import FeedPoller
from integration_core.errors import describe_failure, error_code
from integration_core.outbox import Dispatcher, Outbox
from integration_core.plugins import call_each, get_plugin_manager
from integration_core.settings import Settings
from integration_core.startup import build_registries, check_startup
from integration_core.store import Database
from integration_core.store.migrate import upgrade
from integration_core.sweeper import sweep
from integration_core.timers import fire_due
from integration_core.webhook_messages import forget_expired

__all__ = ["Runtime"]

log = logging.getLogger(__name__)
FORGET_WEBHOOKS_EVERY = timedelta(minutes=10)


class Runtime:
    """Validated at construction: a configuration it accepts is one that can run (see
    :mod:`integration_core.startup`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        extra_plugins: dict[str, Any] | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.pm = get_plugin_manager(settings, extra=extra_plugins)
        self.registries = build_registries(self.pm, settings)
        check_startup(settings, self.pm, self.registries)
        assert settings.database_url is not None  # checked at start-up
        self.db = Database(settings.database_url)
        self.broker = build_broker(settings.broker)
        self.dramatiq = DramatiqDispatcher(self.broker, settings.broker.queue, self._handle_message)
        self.outbox = Outbox(self.db, self.pm, self.clock, dispatcher or self.dramatiq)
        self.ehr = EHRAdapters(self.registries.ehr_adapters, settings)
        self.channels = self.registries.channels
        self.runner = DeliveryRunner(
            self.db, self.pm, settings, self.clock, self.outbox, self.ehr, self.channels
        )
        self.poller = FeedPoller(self.db, settings, self.ehr, self.outbox, self.clock)
        self._worker: dramatiq.Worker | None = None
        self._scheduler_stop = threading.Event()
        self._scheduler_thread: threading.Thread | None = None
        self._forgotten_at: datetime | None = None

    def migrate(self) -> None:
        """Bring the schema up to date, then let plugins import their seed data."""
        upgrade(self.db, self.pm)
        call_each(self.pm, "after_migrate", db=self.db, settings=self.settings, clock=self.clock)

    def _handle_message(self, delivery_id: str) -> None:
        self.runner.run(delivery_id)

    # -- scheduler ------------------------------------------------------------------------

    def tick(self) -> tuple[int, int]:
        """One scheduler pass: fire due timers, re-send stranded deliveries; now and then,
        forget the webhook messages no replay could use any more."""
        now = self.clock.now()
        fired = fire_due(self.db, self.outbox, now, batch_size=self.settings.scheduler.batch_size)
        resent = sweep(self.db, self.outbox, self.settings, now)
        if self._forgotten_at is None or now - self._forgotten_at >= FORGET_WEBHOOKS_EVERY:
            forget_expired(self.db, now)
            self._forgotten_at = now
        return fired, len(resent)

    def start_scheduler(self) -> None:
        def loop() -> None:
            while not self._scheduler_stop.is_set():
                try:
                    self.tick()
                except Exception as exc:
                    log.error(
                        "scheduler pass failed: %s",
                        describe_failure(exc),
                        extra={"error_code": error_code(exc)},
                    )
                    log.debug("scheduler pass failure", exc_info=True)
                self._scheduler_stop.wait(self.settings.scheduler.tick_seconds)

        self._scheduler_stop.clear()
        self._scheduler_thread = threading.Thread(target=loop, name="scheduler", daemon=True)
        self._scheduler_thread.start()

    def stop_scheduler(self) -> None:
        self._scheduler_stop.set()
        if self._scheduler_thread is not None:
            self._scheduler_thread.join(timeout=10)
            self._scheduler_thread = None

    # -- worker ---------------------------------------------------------------------------

    def start_worker(self) -> dramatiq.Worker:
        """Worker threads on the broker, the thread that renews their claims' leases, and the
        EHR change-feed poller (workers hold the EHR adapters).

        The in-process broker's queue died with any earlier process on this database, so
        here every pending delivery is sent again at once, not after the hand-off grace.
        """
        broker = self.settings.broker
        self._worker = self.dramatiq.worker(broker.worker_threads, broker.idle_poll_ms)
        self._worker.start()
        self.runner.leases.start()
        self.poller.start()
        if isinstance(self.broker, StubBroker):
            self._resend_lost_queue()
        return self._worker

    def _resend_lost_queue(self) -> None:
        started = self.clock.now()
        while True:  # a batch at a time; what one pass sent is no longer "before started"
            resent = sweep(self.db, self.outbox, self.settings, started, handed_off_before=started)
            if len(resent) < self.settings.scheduler.batch_size:
                return

    def stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.runner.leases.stop()
        self.poller.stop()

    def close(self) -> None:
        self.stop_scheduler()
        self.stop_worker()
        self.broker.close()
        self.ehr.close()
        self.db.dispose()
