"""The dramatiq side: one broker built from settings, one actor, worker threads.

Broker messages carry a delivery id and nothing else; what to do and for whom is read from
the database when the message is handled. The broker is configured here, in one place, and
the actor is declared on it at runtime — never bound to a global default broker on import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from integration_core.errors import ConfigError
from integration_core.settings import BrokerSettings

__all__ = ["DramatiqDispatcher", "build_broker"]

log = logging.getLogger(__name__)
ACTOR_NAME = "practice_sync_run_delivery"


def build_broker(settings: BrokerSettings) -> dramatiq.Broker:
    """A broker for ``settings.url``; no default middleware (retries live in the database)."""
    scheme = settings.url.split("://", 1)[0]
    if scheme == "stub":
        return StubBroker(middleware=[])
    if scheme in {"redis", "rediss"}:
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=settings.url, middleware=[])  # type: ignore[no-untyped-call]
    if scheme == "amqp":
        try:
            from dramatiq.brokers.rabbitmq import RabbitmqBroker
        except ImportError:
            raise ConfigError(
                "broker.url: amqp:// needs the RabbitMQ client; install 'practice-sync[rabbitmq]'"
            ) from None
        return RabbitmqBroker(url=settings.url, middleware=[])
    raise ConfigError(f"broker.url: unsupported scheme {scheme!r}")


class DramatiqDispatcher:
    """Sends delivery ids through a dramatiq actor whose body is ``handle(delivery_id)``."""

    def __init__(self, broker: dramatiq.Broker, queue: str, handle: Callable[[str], Any]) -> None:
        self.broker = broker
        self.queue = queue
        self.actor: Any = dramatiq.actor(broker=broker, actor_name=ACTOR_NAME, queue_name=queue)(
            handle
        )

    def send(self, delivery_ids: list[str]) -> None:
        for delivery_id in delivery_ids:
            self.actor.send(delivery_id)

    def worker(self, threads: int, idle_poll_ms: int) -> dramatiq.Worker:
        """A worker over this broker (not started). It takes from the broker no more messages
        than it has threads: the ones a worker holds die with it, to be re-sent only after the
        hand-off grace."""
        worker = dramatiq.Worker(
            self.broker, queues={self.queue}, worker_threads=threads, worker_timeout=idle_poll_ms
        )
        worker.queue_prefetch = threads
        return worker

    def ping(self) -> bool:
        """True if the broker answers (always, in-process)."""
        try:
            client = getattr(self.broker, "client", None)  # Redis
            if client is not None:
                return bool(client.ping())
            if hasattr(type(self.broker), "connection"):  # RabbitMQ: opens one if need be
                return bool(self.broker.connection.is_open)  # type: ignore[attr-defined]
            return True
        except Exception:
            return False
