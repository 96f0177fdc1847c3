"""Real services for tests: a fresh PostgreSQL schema or Redis prefix per use.

Where a service cannot be reached the test is skipped with the reason — or fails, when
``PRACTICE_SYNC_REQUIRE_SERVICES=1`` (CI sets it, so a missing service cannot pass silently).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

__all__ = [
    "fresh_schema_url",
    "postgres_schema_url",
    "postgres_url",
    "rabbitmq_queue",
    "redis_url",
    "require_services",
    "unavailable",
]

POSTGRES_URL = os.environ.get(
    "PRACTICE_SYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PRACTICE_SYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get(
    "PRACTICE_SYNC_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"
)


def require_services() -> bool:
    return os.environ.get("PRACTICE_SYNC_REQUIRE_SERVICES", "") not in ("", "0")


def unavailable(service: str, reason: str) -> None:
    """Skip, or fail when services are required."""
    message = f"{service} is not reachable: {reason}"
    if require_services():
        pytest.fail(message + " (PRACTICE_SYNC_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def _pg_driver_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@contextmanager
def fresh_schema_url(base_url: str) -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped afterwards."""
    import sqlalchemy as sa

    engine = sa.create_engine(_pg_driver_url(base_url), isolation_level="AUTOCOMMIT")
    schema = f"ps_test_{secrets.token_hex(6)}"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        engine.dispose()


def postgres_url() -> str:
    """The test server's URL, after checking it answers (else skip, or fail)."""
    import sqlalchemy as sa

    probe = sa.create_engine(_pg_driver_url(POSTGRES_URL))
    try:
        with probe.connect():
            pass
    except Exception as exc:
        unavailable("PostgreSQL", type(exc).__name__)
    finally:
        probe.dispose()
    return POSTGRES_URL


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """:func:`fresh_schema_url` on the test server, skipping (or failing) if it is absent."""
    with fresh_schema_url(postgres_url()) as url:
        yield url


@contextmanager
def rabbitmq_queue() -> Iterator[tuple[str, str]]:
    """The RabbitMQ URL and a queue name of its own (skip, or fail, if RabbitMQ is absent);
    the queue and dramatiq's companions (``.DQ`` delays, ``.XQ`` dead letters) are deleted
    afterwards, so runs leave nothing behind on the server."""
    import pika

    try:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    except Exception as exc:
        unavailable("RabbitMQ", type(exc).__name__)
    queue = f"ps_test_{secrets.token_hex(6)}"
    try:
        yield RABBITMQ_URL, queue
    finally:
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
        connection.close()


def redis_url() -> str:
    """The Redis URL, after checking it answers."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        unavailable("Redis", type(exc).__name__)
    finally:
        client.close()
    return REDIS_URL
