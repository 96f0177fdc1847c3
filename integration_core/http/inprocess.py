"""A synchronous httpx transport that calls an ASGI app in this process.

Adapters are synchronous (they run on worker threads); ``httpx.ASGITransport`` is async-only.
This transport runs the app on one private event loop, on a daemon thread (so it never holds
up interpreter exit), and lets any number of threads call it: an adapter talks to an
in-process server (the sandbox EHR of the embedded default) exactly as it would over the
network — same client, same requests, no socket.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

__all__ = ["InProcessTransport"]


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="inprocess-asgi", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            response = await self._transport.handle_async_request(forwarded)
            body = await response.aread()
            return response.status_code, response.headers.raw, body

        future = asyncio.run_coroutine_threadsafe(call(), self._running_loop())
        status, headers, body = future.result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None
