"""Cursor pagination: ``?cursor=…&limit=…`` in, ``next_cursor`` out.

A cursor is an opaque, URL-safe encoding of the last row's sort key; clients never build one.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from integration_core.http.errors import ApiError

__all__ = ["decode_cursor", "encode_cursor", "keyset_after", "next_cursor"]


def encode_cursor(*key: Any) -> str:
    raw = json.dumps(list(key), default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The sort key a cursor carries; a 422 naming ``cursor`` if it was not made by us."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != size:
        raise ApiError(
            422,
            "invalid_request",
            "The cursor is not valid.",
            fields={"cursor": "not a cursor from this list"},
        )
    return key


def keyset_after(
    cursor: str, at: InstrumentedAttribute[Any], key: InstrumentedAttribute[str]
) -> ColumnElement[bool]:
    """Rows after the cursor in ``ORDER BY at, key`` order."""
    after_at, after_key = decode_cursor(cursor, 2)
    try:
        after = datetime.fromisoformat(after_at)
    except (TypeError, ValueError):
        raise ApiError(
            422,
            "invalid_request",
            "The cursor is not valid.",
            fields={"cursor": "not a cursor from this list"},
        ) from None
    return or_(at > after, and_(at == after, key > after_key))


def next_cursor(at: datetime | None, key: str, more: bool) -> str | None:
    """The cursor of the page after the one ending at (``at``, ``key``), if there is one."""
    if not more or at is None:
        return None
    return encode_cursor(at.isoformat(), key)
