"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every transaction that may write starts
with ``BEGIN IMMEDIATE`` so two writers queue up instead of failing half-way (SQLite has one
writer at a time; taking the lock up front is what makes "lock the provider, check, insert"
race-free there). PostgreSQL uses row locks (``FOR UPDATE`` / ``SKIP LOCKED``) instead.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "DatabaseBusy", "new_id"]

log = logging.getLogger(__name__)
_AFTER_COMMIT = "practice_sync_after_commit"

SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseBusy(Exception):
    """SQLite's write lock is held elsewhere, and the caller asked not to wait for it."""


def new_id(prefix: str = "") -> str:
    """An opaque, unguessable id (never an auto-increment shown to anyone)."""
    return f"{prefix}{secrets.token_hex(12)}"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine and its session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        kwargs: dict[str, Any] = {"echo": False, "hide_parameters": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "after_commit", _run_after_commit)
        event.listen(self.sessions, "after_rollback", _forget_after_commit)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_at_once(self) -> Iterator[Connection]:
        """A connection in a write transaction that commits on success — begun at once or not
        at all: on SQLite, :class:`DatabaseBusy` rather than a wait for the write lock.
        (PostgreSQL locks rows, not the database: there it is an ordinary transaction.)"""
        with self.engine.connect() as connection:
            if not self.is_sqlite:
                with connection.begin():
                    yield connection
                return
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            try:
                with connection.begin():
                    yield connection
            except OperationalError as exc:
                if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                    raise DatabaseBusy from None
                raise
            finally:
                driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (SQLite: a deferred transaction that takes no write lock)."""
        with self.sessions() as session:
            if self.is_sqlite:
                session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            # Closing (not rolling back) ends the transaction and keeps loaded objects usable.
            yield session

    @staticmethod
    def after_commit(session: Session, callback: Callable[[], None]) -> None:
        """Run ``callback`` once ``session``'s transaction commits; forget it on rollback."""
        session.info.setdefault(_AFTER_COMMIT, []).append(callback)

    def dispose(self) -> None:
        self.engine.dispose()


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:
            # Work handed off after commit is only a fast path; the sweeper recovers it.
            log.exception("after-commit hand-off failed")


def _forget_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
