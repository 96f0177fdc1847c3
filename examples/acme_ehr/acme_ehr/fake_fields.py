"""Reading a request body as the fake Acme EHR does: each reader answers the field's value or
raises a :class:`Fault` naming the field that was wrong, never the value that was sent (bodies
carry patient data, and faults are shown to whoever called)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "Fault",
    "Json",
    "birth_date",
    "choice",
    "flag",
    "instant",
    "minutes",
    "names",
    "obj",
    "text",
    "wire_time",
]

Json = dict[str, Any]


class Fault(Exception):
    """An error answer: a status, a stable kind and, for a bad body, the field's name."""

    def __init__(self, status: int, kind: str, field: str | None = None) -> None:
        super().__init__(kind)
        self.status, self.kind, self.field = status, kind, field

    def body(self) -> Json:
        return {"fault": {"kind": self.kind, "field": self.field}}


def obj(body: Json, key: str, *, optional: bool = False) -> Json:
    value = body.get(key)
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise Fault(400, "invalid_body", key)
    return value


def text(body: Json, key: str, *, optional: bool = False, limit: int = 200) -> str:
    value = body.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not (optional or value.strip()) or len(value) > limit:
        raise Fault(400, "invalid_body", key)
    return value


def names(body: Json, key: str, *, most: int, limit: int = 100) -> list[str]:
    """A list of up to ``most`` non-blank texts, each once (absent: none)."""
    value = body.get(key, [])
    if not isinstance(value, list) or len(value) > most:
        raise Fault(400, "invalid_body", key)
    if not all(isinstance(item, str) and item.strip() and len(item) <= limit for item in value):
        raise Fault(400, "invalid_body", key)
    if len(set(value)) != len(value):
        raise Fault(400, "invalid_body", key)
    return list(value)


def flag(body: Json, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise Fault(400, "invalid_body", key)
    return value


def birth_date(body: Json, key: str) -> date:
    try:
        return date.fromisoformat(text(body, key))
    except ValueError:
        raise Fault(400, "invalid_body", key) from None


def instant(body: Json, key: str) -> datetime:
    try:
        value = datetime.fromisoformat(text(body, key))
    except ValueError:
        raise Fault(400, "invalid_body", key) from None
    if value.tzinfo is None:
        raise Fault(400, "invalid_body", key)  # a wall-clock time without its offset
    return value.astimezone(UTC)


def wire_time(moment: datetime) -> str:
    """How Acme writes an instant: UTC, with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def choice(body: Json, key: str, choices: Sequence[str]) -> str:
    value = body.get(key)
    if value not in choices:
        raise Fault(400, "invalid_body", key)
    return str(value)


def minutes(body: Json, key: str) -> int:
    value = body.get(key)
    if type(value) is not int or not 5 <= value <= 480:
        raise Fault(400, "invalid_body", key)
    return value
