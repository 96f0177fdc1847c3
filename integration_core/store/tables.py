"""The core tables. Every row is scoped by ``practice_id``; none of them holds PHI.

Events and deliveries form the outbox: an event row is written in the same transaction as
the change that caused it, with one delivery row per plugin that implements the event's
hook. Timers are durable "do this later" rows. Id links tie a local record to its twins in
other systems. The audit table records who (a named staff token) read or changed what.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AuditEntry",
    "Base",
    "Delivery",
    "DeliveryStatus",
    "Event",
    "IdLink",
    "Timer",
    "TimerStatus",
    "UTCDateTime",
    "WebhookMessage",
    "enum_column",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use the clock's aware UTC values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for the core's and the built-in plugins' tables."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class TimerStatus(enum.StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


def enum_column(cls: type[enum.StrEnum]) -> Any:
    """A column storing a string enum by value (portable: no native database enum)."""
    return mapped_column(_enum(cls))


class Event(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Delivery(Base):
    """One event handed to one plugin's hook implementation, retried on its own."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "plugin"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    plugin: Mapped[str] = mapped_column(String(128))
    hook: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = enum_column(DeliveryStatus)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None]
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    retry_from: Mapped[datetime]
    """Start of the retry window: creation, or the last operator replay."""
    finished_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(lazy="raise")


class Timer(Base):
    """A durable "later": when due, it becomes an ``on_timer`` delivery for its owner plugin."""

    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("practice_id", "owner", "key"),
        Index("ix_timers_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    due_at: Mapped[datetime]
    status: Mapped[TimerStatus] = enum_column(TimerStatus)
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    event_id: Mapped[str | None] = mapped_column(String(32))


class IdLink(Base):
    """``(practice, entity, local id)`` is known as ``external id`` in ``system``."""

    __tablename__ = "id_links"
    __table_args__ = (
        UniqueConstraint("practice_id", "entity", "local_id", "system"),
        Index("ix_id_links_external", "practice_id", "system", "entity", "external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class WebhookMessage(Base):
    """A signed inbound message already acted on, kept while its signature could still be
    replayed (the source's tolerance window), so that the same message is refused twice."""

    __tablename__ = "webhook_messages"
    __table_args__ = (Index("ix_webhook_messages_keep_until", "keep_until"),)

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime]
    keep_until: Mapped[datetime]


class AuditEntry(Base):
    """Who (a named staff token) did what to which record, and how it went; never PHI."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_practice_at", "practice_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
