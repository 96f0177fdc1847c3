"""``Idempotency-Key`` for POST routes a client may retry.

A key is scoped by practice, route and a hash of the body. A retry with the same key and body
gets the first answer back and creates nothing; the same key with another body is a 422 —
never someone else's answer. The record is written in the same transaction as the work, so
an answer is remembered exactly when its effects exist.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from integration_core.http.errors import ApiError
from integration_core.store import Base

__all__ = ["IdempotencyRecord", "body_hash", "remember", "replay"]

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    route: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            422,
            "invalid_request",
            "The Idempotency-Key header is not valid.",
            fields={HEADER: f"1 to {MAX_KEY_LENGTH} printable characters"},
        )


def replay(
    session: Session, *, practice_id: str, route: str, key: str, digest: str
) -> JSONResponse | None:
    """The remembered answer for this key, None if there is none; 422 if the body differs."""
    _check_key(key)
    record = session.get(IdempotencyRecord, (practice_id, route, key))
    if record is None:
        return None
    if record.body_hash != digest:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request body.",
            fields={HEADER: "already used with another body"},
        )
    return JSONResponse(
        record.response, status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def remember(
    session: Session,
    *,
    practice_id: str,
    route: str,
    key: str,
    digest: str,
    status_code: int,
    response: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        IdempotencyRecord(
            practice_id=practice_id,
            route=route,
            key=key,
            body_hash=digest,
            status_code=status_code,
            response=response,
            created_at=now,
        )
    )
