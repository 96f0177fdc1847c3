"""Request bodies over a size limit are refused with 413 before anything parses them.

A pure ASGI middleware: it sees a body as the server hands it over, chunk by chunk, on every
route (plugins' included). ``BaseHTTPMiddleware`` would have buffered the whole body first.

* A ``Content-Length`` over the limit is refused at once: the app is not called and not one
  byte of the body is read.
* A body without one (``Transfer-Encoding: chunked``) is counted as it streams in, before the
  app is called — so a route that never reads its body refuses it too. Once the count passes
  the limit nothing more is read and the answer is the 413; a body within the limit is handed
  to the app whole.
* Anything else the server lets through (a body longer than its ``Content-Length``, from an
  in-process transport) is counted as the app reads it: past the limit its reading fails,
  whatever it answers to that is dropped, and the client gets the 413 instead.

The 413 leaves the connection open: closing it on a client still sending makes the kernel
reset it, and the client loses the 413 it was about to read. The app reads nothing more; the
server discards what is left of the body and the connection serves the next request.

Two limits (``http`` settings): public routes — those that take
:func:`~integration_core.http.security.public_rate_limit`, the booking widget's — and paths
no route serves take ``max_public_body_bytes``; every other route ``max_body_bytes``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastapi.routing

from integration_core.http.errors import error_response
from integration_core.http.security import public_rate_limit

__all__ = ["BodyLimit", "BodyTooLarge", "RouteTable", "route_path"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class BodyTooLarge(Exception):
    """Raised to the app from ``receive`` once a streamed body has passed its limit."""


@dataclass(frozen=True)
class _Entry:
    path_regex: re.Pattern[str]
    methods: frozenset[str]
    public: bool


def _flat_routes(routes: Sequence[Any]) -> Iterator[Any]:
    """Every route, routers included by plugins opened up (recent FastAPI keeps an included
    router whole instead of copying its routes into the app's list)."""
    expand = getattr(fastapi.routing, "iter_route_contexts", None)
    return iter(expand(routes)) if expand is not None else iter(routes)


def _takes_public_rate_limit(dependant: Any) -> bool:
    for dependency in getattr(dependant, "dependencies", ()):
        if dependency.call is public_rate_limit or _takes_public_rate_limit(dependency):
            return True
    return False


def route_path(scope: Scope) -> str:
    """The path the router matches: ``scope["path"]`` without the ``root_path`` prefix."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :]
    return path


class RouteTable:
    """The app's routes by path: the methods a path accepts, and whether it is public."""

    def __init__(self, routes: Sequence[Any]) -> None:
        self.entries: list[_Entry] = []
        for route in _flat_routes(routes):
            regex = getattr(route, "path_regex", None)
            methods = getattr(route, "methods", None)
            if regex is None or not methods:  # mounts, websockets
                continue
            public = _takes_public_rate_limit(getattr(route, "dependant", None))
            self.entries.append(_Entry(regex, frozenset(methods), public))

    def _at(self, path: str) -> list[_Entry]:
        return [entry for entry in self.entries if entry.path_regex.match(path)]

    def allowed_methods(self, path: str) -> list[str]:
        """Every method some route serves at ``path``, in the usual order (GET, HEAD, POST…)."""
        methods = {method for entry in self._at(path) for method in entry.methods}
        known = [method for method in _METHOD_ORDER if method in methods]
        return known + sorted(methods.difference(_METHOD_ORDER))

    def is_public(self, method: str, path: str) -> bool:
        """Whether a request is held to the public limit: the route serving it is public, or
        (another method's route) one at its path is, or no route serves its path at all."""
        found = self._at(path)
        if not found:
            return True
        serving = [entry for entry in found if method in entry.methods] or found
        return any(entry.public for entry in serving)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (None if absent or not a number), and whether the body
    is sent with ``Transfer-Encoding`` (chunked) instead."""
    length: int | None = None
    encoded = False
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            encoded = True
    return length, encoded


class _Disconnected(Exception):
    """The client went away while its body was being read: there is no one to answer."""


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app ``body`` in one message, then what the server sends
    (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class BodyLimit:
    """Refuse request bodies over ``max_body_bytes`` (``max_public_body_bytes`` on public
    routes) with 413 ``payload_too_large``. ``routes`` gives the app's routes; they are read
    at the first request with a body, once every plugin has added its own."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_public_body_bytes: int,
        routes: Callable[[], Sequence[Any]],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_public_body_bytes = max_public_body_bytes
        self._routes = routes
        self._table: RouteTable | None = None

    def limit_for(self, scope: Scope) -> int:
        if self._table is None:
            self._table = RouteTable(self._routes())
        public = self._table.is_public(scope["method"], route_path(scope))
        return self.max_public_body_bytes if public else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int | None = None
        declared, chunked = _framing(scope)
        if declared:
            limit = self.limit_for(scope)
            if declared > limit:
                await self._refuse(scope, receive, send, limit)
                return
        elif declared is None and chunked:
            limit = self.limit_for(scope)
            try:
                body = await self._read_within(receive, limit)
            except _Disconnected:
                return
            if body is None:
                await self._refuse(scope, receive, send, limit)
            else:
                await self.app(scope, _replaying(body, receive), send)
            return
        received = 0
        over = False
        answered = False  # the app started its answer before the body went over

        async def limited_receive() -> Message:
            nonlocal limit, received, over
            if over:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received:
                    if limit is None:
                        limit = self.limit_for(scope)
                    if received > limit:
                        over = True
                        raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if over and not answered:
                return  # the app's answer to a body it did not get: the 413 goes instead
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over or answered:
                raise
        if over and not answered:
            assert limit is not None
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _read_within(receive: Receive, limit: int) -> bytes | None:
        """The whole body, read as it streams in; None as soon as it passes ``limit`` (the
        rest is not read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"The request body is larger than this route takes ({limit} bytes).",
        )
        await response(scope, receive, send)
