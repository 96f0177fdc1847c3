"""CORS for the booking widget, with each practice's own allowed website origins.

A practice's website calls ``/v1/practices/<slug>/widget/…`` from the browser. Only origins
listed in that practice's ``cors_origins`` get the ``Access-Control-Allow-*`` headers — on
answers and on errors alike, so the widget can show a 422's field messages.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

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
            await self._preflight(send, origin, allowed)
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
    async def _preflight(send: Send, origin: str, allowed: bool) -> None:
        headers = [(b"vary", b"Origin")]
        if allowed:
            headers += [
                (b"access-control-allow-origin", origin.encode()),
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", b"600"),
            ]
        await send(
            {"type": "http.response.start", "status": 204 if allowed else 403, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b""})
