"""``Idempotency-Key`` for the sandbox's creates, per endpoint and stored with the records.

The same key with the same body names the resource the first call created (so a retry writes
nothing, records no change, and answers 200 with it); the same key with another body is a 422.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy.orm import Session

from integration_core.api import ApiError, SingleLine
from plugins.ehr_kareo_like.sandbox.store import IdempotencyEntry, now

__all__ = ["IdempotencyKey", "earlier_resource", "remember"]

IdempotencyKey = Annotated[
    Annotated[str, SingleLine(max_length=200, not_blank=True)] | None,
    Header(alias="Idempotency-Key"),
]
"""One line of 1 to 200 characters (its column's width), without control characters."""


def _digest(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def earlier_resource(
    session: Session, endpoint: str, key: str | None, body: BaseModel
) -> str | None:
    """The id of what an earlier call with this key created, if any; 422 if the key came
    with another body."""
    if key is None:
        return None
    entry = session.get(IdempotencyEntry, (endpoint, key))
    if entry is None:
        return None
    if entry.body_hash != _digest(body):
        raise ApiError(422, "idempotency_key_reused", "Key already used with another body.")
    return entry.resource_id


def remember(
    session: Session, endpoint: str, key: str | None, body: BaseModel, resource_id: str
) -> None:
    """Keep ``key`` (if any) as naming ``resource_id``, in the transaction that created it."""
    if key is not None:
        session.add(
            IdempotencyEntry(
                endpoint=endpoint,
                key=key,
                body_hash=_digest(body),
                resource_id=resource_id,
                created_at=now(),
            )
        )
