"""Many booking requests released at once, from several threads or processes."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from integration_core.clock import ManualClock
from integration_core.http.app import create_app
from integration_core.runtime import Runtime
from integration_core.testing.pytest_plugin import build_settings

URL = "/v1/practices/acme/widget/requests"


def post_together(
    app: Any, bodies: list[dict[str, Any]], barrier: Any
) -> list[tuple[int, dict[str, Any]]]:
    """One thread per body, each waiting on ``barrier`` before it posts."""
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def post(body: dict[str, Any]) -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            barrier.wait(timeout=120)  # every poster, in every process, has started
            response = client.post(URL, json=body)
        with lock:
            results.append((response.status_code, body))

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


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
