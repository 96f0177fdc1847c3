"""The store of signed inbound messages already acted on (see :mod:`.http.webhooks`).

One row per ``(source, message id)``, written in the transaction that acts on the message, so
every process sees it and it survives restarts; kept until a replay could no longer verify,
then deleted by the scheduler.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from integration_core.store import Database, WebhookMessage

__all__ = ["forget_expired", "record_once"]


def record_once(
    session: Session, *, source: str, message_id: str, keep_until: datetime, now: datetime
) -> bool:
    """Record the message in the caller's transaction; False if it already was (by any
    process, committed). A record past its ``keep_until`` no longer counts: the id is taken
    afresh."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(WebhookMessage).values(
        source=source, message_id=message_id, received_at=now, keep_until=keep_until
    )
    taken = session.execute(
        statement.on_conflict_do_update(
            index_elements=[WebhookMessage.source, WebhookMessage.message_id],
            set_={"received_at": now, "keep_until": keep_until},
            where=WebhookMessage.keep_until < now,
        ).returning(WebhookMessage.message_id)
    ).first()
    return taken is not None


def forget_expired(db: Database, now: datetime) -> int:
    """Delete the records no replay could use any more; returns how many."""
    with db.transaction() as session:
        result = session.execute(delete(WebhookMessage).where(WebhookMessage.keep_until < now))
    return int(getattr(result, "rowcount", 0))
