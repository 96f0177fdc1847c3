"""Helpers for running the engine's commands as real processes: a free port, waiting for one
to answer. Used by end-to-end tests and the benchmarks alike."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

__all__ = ["free_port", "wait_until", "wait_until_ready"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s; raise ``TimeoutError`` naming ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def wait_until_ready(base: str, path: str = "/readyz", timeout: float = 60) -> None:
    """Wait until ``GET base+path`` answers 200 (a server process has started)."""

    def ready() -> bool:
        try:
            return httpx.get(f"{base}{path}", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout, f"{base} to be ready")
