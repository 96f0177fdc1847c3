"""One error shape for every non-2xx answer.

``{"error": {"code": "slot_unavailable", "message": "…", "fields": {"phone": "…"}}}`` —
codes are stable snake_case words clients branch on; messages are for people and never echo
submitted values back (they may be PHI). A code that carries more than field messages adds
members of its own beside them (a scheduling conflict lists the clashing items).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

__all__ = ["ApiError", "ErrorBody", "ErrorDetail", "error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """Raise from a route to answer with the error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """``details``: further members of the error object, JSON-ready, for a code whose
        clients need more than the field messages (never ``code``, ``message`` or ``fields``)."""
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}
        self.details = dict(details or {})


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=fields or {}))
    content = body.model_dump()
    error = content["error"]
    error.update((name, value) for name, value in (details or {}).items() if name not in error)
    return JSONResponse(content, status_code=status, headers=headers)


_LOCATIONS = ("body", "query", "path", "header", "cookie")
_NAME_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GENERIC = "not valid"
_MAX_NEEDLES = 64


def _field_name(loc: tuple[int | str, ...]) -> str:
    """The dotted name of a field from pydantic's ``loc``.

    Parts a client chose rather than the model — a dict key, before pydantic's ``[key]``
    marker, or anything not shaped like a field name — are left out (the name stops at the
    field holding them), as are pydantic's union tags."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        if index == 0 and part in _LOCATIONS:
            continue
        if isinstance(part, int):
            parts.append(str(part))
            continue
        following = loc[index + 1] if index + 1 < len(loc) else None
        if following == "[key]" or not _NAME_PART.match(part):
            if following == "[key]" or "[" not in part:
                break  # a key the client chose: name the field that holds it
            continue  # a union tag such as ``function-after[…]``
        parts.append(part)
    return ".".join(parts) or "body"


def _strings(value: object, found: list[str]) -> list[str]:
    """The strings in a submitted value, up to a bound. Keys are left out: they are names, and
    a message may well say one (``mon: ranges overlap``)."""
    if len(found) >= _MAX_NEEDLES:
        return found
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, found)
    return found


def _echoes(message: str, submitted: object) -> bool:
    """Whether ``message`` repeats a submitted string, as typed or as Python would escape it."""
    lowered = message.lower()
    for text in _strings(submitted, []):
        for form in (text.strip(), repr(text)[1:-1].strip()):
            if len(form) >= 3 and form.lower() in lowered:
                return True
    return False


def _field_message(item: Mapping[str, Any]) -> str:
    """Pydantic's message describes the rule; a custom validator's might quote the value (and
    ``ctx`` may), so a message that repeats what was submitted is replaced by a generic one."""
    message = str(item.get("msg", _GENERIC))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if _echoes(message, item.get("input")):
        return _GENERIC
    return message


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers, exc.details)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, str] = {}
    for item in exc.errors():
        if item.get("type") == "json_invalid":  # its loc is a character offset, not a field
            fields["body"] = "not valid JSON"
            continue
        loc = tuple(item.get("loc", ()))
        if item.get("type") == "extra_forbidden":  # the last part is a key the client made up
            fields.setdefault(_field_name(loc[:-1]), "holds a field this route does not take")
            continue
        fields.setdefault(_field_name(loc), _field_message(item))
    return error_response(422, "invalid_request", "Some fields are not valid.", fields)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, message, headers=headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error in route", extra={"exc_type": type(exc).__name__})
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
