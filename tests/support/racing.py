"""Many booking requests released at once, from several threads or processes, in process or
over real HTTP; each outcome is the status and the error code (None for a success)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from fastapi.testclient import TestClient

from integration_core.clock import ManualClock
from integration_core.http.app import create_app
from integration_core.runtime import Runtime
from integration_core.testing.pytest_plugin import build_settings

URL = "/v1/practices/acme/widget/requests"
Outcome = tuple[int, str | None]


def _outcome(response: httpx.Response) -> Outcome:
    if response.status_code < 400:
        return response.status_code, None
    return response.status_code, response.json().get("error", {}).get("code")


def _together(
    bodies: list[dict[str, Any]], barrier: Any, client: Callable[[], Any]
) -> list[Outcome]:
    results: list[Outcome] = []
    lock = threading.Lock()

    def post(body: dict[str, Any]) -> None:
        with client() as session:
            barrier.wait(timeout=120)  # every poster, in every process, has started
            response = session.post(URL, json=body)
        with lock:
            results.append(_outcome(response))

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def post_together(app: Any, bodies: list[dict[str, Any]], barrier: Any) -> list[Outcome]:
    """One thread per body, each with its own in-process client, waiting on ``barrier``
    before it posts."""
    return _together(bodies, barrier, lambda: TestClient(app, raise_server_exceptions=False))


def post_together_over_http(
    base_url: str, bodies: list[dict[str, Any]], barrier: Any
) -> list[Outcome]:
    """One thread per body, each with its own HTTP connection to ``base_url``, waiting on
    ``barrier`` before it posts."""
    return _together(bodies, barrier, lambda: httpx.Client(base_url=base_url, timeout=120))


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, from a thread, as in production;
    yields its base URL and stops it on exit."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen(256)
    host, port = listening.getsockname()
    # No access log and no logging set-up of uvicorn's own: the test process keeps its logging.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()


def process_main(
    database_url: str,
    overrides: dict[str, Any],
    now: datetime,
    bodies: list[dict[str, Any]],
    barrier: Any,
    results: Any,
) -> None:
    """Entry point of one racing process: its own runtime and app on the shared database."""
    runtime = Runtime(build_settings(database_url, **overrides), clock=ManualClock(now))
    try:
        for outcome in post_together(create_app(runtime), bodies, barrier):
            results.put(outcome)
    finally:
        runtime.close()
