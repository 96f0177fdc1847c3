"""The relational store: engine set-up, the core tables and the migration history."""

from integration_core.store.engine import Database, DatabaseBusy, new_id
from integration_core.store.tables import (
    AuditEntry,
    Base,
    Delivery,
    DeliveryStatus,
    Event,
    IdLink,
    Timer,
    TimerStatus,
    WebhookMessage,
)

__all__ = [
    "AuditEntry",
    "Base",
    "Database",
    "DatabaseBusy",
    "Delivery",
    "DeliveryStatus",
    "Event",
    "IdLink",
    "Timer",
    "TimerStatus",
    "WebhookMessage",
    "new_id",
]
