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

__all__ = ["postgres_schema_url", "redis_url", "require_services", "unavailable"]

POSTGRES_URL = os.environ.get(
    "PRACTICE_SYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PRACTICE_SYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped afterwards."""
    import sqlalchemy as sa

    engine = sa.create_engine(_pg_driver_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    schema = f"ps_test_{secrets.token_hex(6)}"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        engine.dispose()
        unavailable("PostgreSQL", type(exc).__name__)
    separator = "&" if "?" in POSTGRES_URL else "?"
    options = quote(f"-csearch_path={schema}")
    try:
        yield f"{POSTGRES_URL}{separator}options={options}"
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


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
