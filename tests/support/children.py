"""The ``practice-sync`` processes of one test, as a test that kills them needs them: each
with its log file, started plain or with a pause point (:mod:`tests.support.pause_points`),
killed with SIGKILL on demand and, whatever still runs, at the end. A wait that fails says what
it waited for and shows the tail of every log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from integration_core.testing.processes import wait_until
from tests.support.commands import PRACTICE_SYNC
from tests.support.pause_points import RELEASE

__all__ = ["Processes", "answers"]

PAUSED = [sys.executable, "-m", "tests.support.pause_points"]
"""The command line with one pause point: ``PAUSED + [point, marker_dir, *args]``."""


class Processes:
    """The ``practice-sync`` children of one test, each with its log file; whatever still runs
    is killed by :meth:`close`. A failed wait says what it waited for and ends with the tail of
    every log."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.markers = folder / "markers"
        self.markers.mkdir()
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, pause: str | None = None) -> None:
        """``practice-sync <args>`` as ``name``; with ``pause``, stopping there (once)."""
        command = [*PAUSED, pause, str(self.markers), *args] if pause else [*PRACTICE_SYNC, *args]
        with self.log(name).open("wb") as log:
            self.running[name] = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, name: str) -> float:
        """SIGKILL ``name``; returns when it was sent (``time.monotonic()``)."""
        process = self.running[name]
        assert process.poll() is None, f"{name} had already exited\n{self.tails()}"
        killed_at = time.monotonic()
        process.kill()
        process.wait(timeout=10)
        return killed_at

    def close(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.kill()
        for process in self.running.values():
            process.wait(timeout=10)

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def entries(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines of ``name``."""
        found = []
        for line in self.log(name).read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                found.append(entry)
        return found

    def ran(self, name: str, delivery_id: str, timeout: float = 5) -> bool:
        """Whether ``name`` logs that it finished the delivery within ``timeout`` seconds: the
        line follows the delivery's commit, so a test that saw the commit may be early for it."""

        def logged() -> bool:
            return any(
                entry.get("message") == "delivery done" and entry.get("delivery_id") == delivery_id
                for entry in self.entries(name)
            )

        try:
            wait_until(logged, timeout, f"{name} to log delivery {delivery_id} done")
        except TimeoutError:
            return False
        return True

    def tails(self, lines: int = 15) -> str:
        parts = []
        for name, process in self.running.items():
            tail = self.log(name).read_text(errors="replace").splitlines()[-lines:]
            status = "running" if process.poll() is None else f"exited {process.returncode}"
            parts.append(f"--- {name} ({status}), last lines of its log:\n" + "\n".join(tail))
        return "\n".join(parts)

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            wait_until(condition, timeout, what)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.tails()}") from None

    def alive(self, name: str) -> bool:
        return self.running[name].poll() is None

    def up(self, name: str, ready: Callable[[], bool], timeout: float = 60) -> None:
        """Wait until ``ready()`` holds for ``name``, failing at once if it exits."""

        def check() -> bool:
            assert self.alive(name), f"{name} exited while starting\n{self.tails()}"
            return ready()

        self.wait(check, timeout, f"{name} to start")

    def logged(self, name: str, text: str) -> Callable[[], bool]:
        return lambda: text in self.log(name).read_text(errors="replace")

    def finished(self, name: str, timeout: float = 60) -> None:
        """Wait for a command that runs to completion; it must succeed."""
        self.wait(lambda: not self.alive(name), timeout, f"{name} to finish")
        assert self.running[name].returncode == 0, self.tails()

    def paused(self, name: str, point: str, timeout: float = 30) -> str:
        """Wait until ``name`` stopped at ``point``; the id of the delivery it stopped in."""
        marker = self.markers / point
        self.wait(
            lambda: marker.exists() or not self.alive(name), timeout, f"{name} to reach {point}"
        )
        assert self.alive(name), f"{name} exited\n{self.tails()}"
        return marker.read_text()

    def release(self) -> None:
        """Let a paused thread go on."""
        (self.markers / RELEASE).touch()


def answers(base: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return ready
