"""CORS for the booking widget, with each practice's own allowed website origins.

A practice's website calls ``/v1/practices/<slug>/widget/…`` from the browser. Only origins
listed in that practice's ``cors_origins`` get the ``Access-Control-Allow-*`` headers — on
answers and on errors alike, so the widget can show a 422's field messages.

A preflight is answered here, before any route: 204 when the origin is the practice's, the
method one the widget takes and every requested header one it reads (or CORS-safelisted);
otherwise 403 in the error shape, its code saying which of the three was refused
(``cors_origin_not_allowed``, ``cors_method_not_allowed``, ``cors_header_not_allowed``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from integration_core.api import ErrorBody, ErrorDetail

__all__ = ["PracticeCors"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WIDGET_PATH = re.compile(r"^/v1/practices/([^/]+)/widget(?:/|$)")
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "content-type, idempotency-key"
EXPOSE_HEADERS = "retry-after, idempotent-replayed"
_METHODS = frozenset(ALLOW_METHODS.split(", "))
# What a browser may send without asking (the Fetch standard's safelist), and what we read.
_HEADERS = frozenset(ALLOW_HEADERS.split(", ")) | {"accept", "accept-language", "content-language"}


class PracticeCors:
    def __init__(self, app: ASGIApp, origins: dict[str, frozenset[str]]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = _WIDGET_PATH.match(scope["path"])
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        origin = headers.get("origin")
        if match is None or origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin in self.origins.get(match.group(1), frozenset())
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin, allowed, headers)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                extra = [
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                    (b"vary", b"Origin"),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(send: Send, origin: str, allowed: bool, headers: dict[str, str]) -> None:
        refusal = _refusal(allowed, headers)
        if refusal is not None:
            code, message = refusal
            body = ErrorBody(error=ErrorDetail(code=code, message=message)).model_dump_json()
            encoded = body.encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(encoded)).encode()),
                        (b"vary", b"Origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": encoded})
            return
        answer = [
            (b"vary", b"Origin"),
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", b"600"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": answer})
        await send({"type": "http.response.body", "body": b""})


def _refusal(allowed: bool, headers: dict[str, str]) -> tuple[str, str] | None:
    """Why a preflight is refused (code, message), or None when it may go ahead."""
    if not allowed:
        return "cors_origin_not_allowed", "This website may not use this practice's widget."
    if headers["access-control-request-method"].strip().upper() not in _METHODS:
        return "cors_method_not_allowed", f"The widget takes only {ALLOW_METHODS}."
    requested = headers.get("access-control-request-headers", "")
    names = {name.strip().lower() for name in requested.split(",")} - {""}
    if names - _HEADERS:
        return "cors_header_not_allowed", f"The widget reads only the headers {ALLOW_HEADERS}."
    return None
