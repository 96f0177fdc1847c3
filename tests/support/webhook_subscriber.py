"""A webhook subscriber on a port of 127.0.0.1: real sockets, a signature check as a receiver
does it, and a port that can go down and come back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from integration_core.api import verify_standard_webhook
from integration_core.testing.processes import free_port


@dataclass(frozen=True)
class Received:
    """A message whose signature verified: its ``webhook-id``, when it was signed, its body."""

    message_id: str
    signed_at: datetime
    body: dict[str, Any]


class Subscriber:
    """Answers each POST whose signature verifies under ``secret`` with the next status of
    ``statuses`` (200 once they run out), recording it in ``tries`` and, when the answer was a
    2xx, in ``received``; anything else is a 401 counted in ``refused``. Listens only between
    :meth:`open` and :meth:`close`, always on ``url``'s port. ``now`` is the receiver's clock
    for the timestamp tolerance."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.secret = ""
        self.statuses: list[int] = []
        self.tries: list[tuple[Received, int]] = []
        self.received: list[Received] = []
        self.refused = 0
        self._now = now
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handle(self, headers: dict[str, str], body: bytes) -> int:
        verified = verify_standard_webhook(self.secret, headers, body, self._now())
        with self._lock:
            if verified is None:
                self.refused += 1
                return 401
            status = self.statuses.pop(0) if self.statuses else 200
            message = Received(*verified, json.loads(body))
            self.tries.append((message, status))
            if 200 <= status < 300:
                self.received.append(message)
            return status

    def open(self) -> None:
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                self.send_response(subscriber._handle(headers, body))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def ids(self) -> list[str]:
        with self._lock:
            return [message.message_id for message in self.received]


@contextmanager
def subscriber(
    now: Callable[[], datetime] = lambda: datetime.now(UTC), *, listening: bool = True
) -> Iterator[Subscriber]:
    """A :class:`Subscriber`, listening unless told not to; closed afterwards."""
    endpoint = Subscriber(now)
    if listening:
        endpoint.open()
    try:
        yield endpoint
    finally:
        endpoint.close()
