"""Cursor pagination: ``?cursor=…&limit=…`` in, ``next_cursor`` out.

A cursor is an opaque, URL-safe encoding of the last row's sort key; clients never build one.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from integration_core.http.errors import ApiError

__all__ = ["decode_cursor", "encode_cursor"]


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
