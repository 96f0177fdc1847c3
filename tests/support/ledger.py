"""Test plugins with their own stores, to observe effects rather than calls."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from integration_core import hookimpl
from integration_core.context import HookContext
from integration_core.errors import ExternalUnavailable, PermanentError
from integration_core.events import RequestEvent, TimerEvent


class TestTables(DeclarativeBase):
    """Kept apart from the product's metadata, so migrations never see them."""


class LedgerRow(TestTables):
    """One row per effect, written in the delivery's own transaction."""

    __tablename__ = "test_ledger"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), primary_key=True)


def create_test_tables(engine: Engine) -> None:
    TestTables.metadata.create_all(engine)


def ledger_count(session: object, event_id: str | None = None) -> int:
    query = select(func.count()).select_from(LedgerRow)
    if event_id is not None:
        query = query.where(LedgerRow.event_id == event_id)
    return int(session.scalar(query))  # type: ignore[attr-defined]


class DatabaseLedger:
    """Writes one ledger row per request event, in the delivery transaction."""

    @hookimpl
    def on_request(self, event: RequestEvent, ctx: HookContext) -> None:
        ctx.session.add(LedgerRow(event_id=ctx.event_id, plugin=ctx.plugin))

    @hookimpl
    def on_timer(self, event: TimerEvent, ctx: HookContext) -> None:
        ctx.session.add(LedgerRow(event_id=ctx.event_id, plugin=ctx.plugin))


class ExternalSystem:
    """A stand-in for a remote API that honours idempotency keys, as the EHR sandbox does."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def create(self, key: str, value: str) -> str:
        with self._lock:
            self.writes += 1
            return self.records.setdefault(key, value)


class ExternalWriter:
    """Writes to the external system, then fails ``fail_after_write`` times (a lost response)."""

    def __init__(self, system: ExternalSystem, fail_after_write: int = 0) -> None:
        self.system = system
        self.fail_after_write = fail_after_write

    @hookimpl
    def on_request(self, event: RequestEvent, ctx: HookContext) -> None:
        self.system.create(ctx.idempotency_key("create"), event.request_id)
        if self.fail_after_write > 0:
            self.fail_after_write -= 1
            raise ExternalUnavailable("response lost after the write")


class Failing:
    """Always fails, transiently or permanently."""

    def __init__(self, permanent: bool = False) -> None:
        self.permanent = permanent
        self.calls = 0

    @hookimpl
    def on_request(self, event: RequestEvent, ctx: HookContext) -> None:
        self.calls += 1
        if self.permanent:
            raise PermanentError("the other side refused it", code="refused")
        raise ExternalUnavailable("the other side is down")
