"""The audit trail of staff access to patient records: who, what, which id, when, outcome.

``actor`` is the *name* of the staff token used (``front_desk``), never the token itself, and
no row holds PHI.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.store import AuditEntry

__all__ = ["entries", "record"]


def record(
    session: Session,
    *,
    practice_id: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    outcome: str,
    at: datetime,
) -> None:
    session.add(
        AuditEntry(
            practice_id=practice_id,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            outcome=outcome,
            at=at,
        )
    )


def entries(session: Session, practice_id: str, limit: int = 100) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.practice_id == practice_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
