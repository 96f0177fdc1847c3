"""The deployment the demo runs: ``practice-sync`` commands as child processes, as a user
would start them, each logging to a file in the demo's folder."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click
import httpx

__all__ = ["Children", "free_port", "wait_for"]

PRACTICE_SYNC = [sys.executable, "-m", "integration_core"]
"""The command line, run by this interpreter (the ``practice-sync`` script may not be on PATH)."""
STOP_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; after ``timeout`` seconds, fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise click.ClickException(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Children:
    """The demo's child processes: started with one environment, stopped together."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def _failed(self, name: str, how: str) -> click.ClickException:
        lines = self.log(name).read_text(errors="replace").splitlines()[-15:]
        return click.ClickException(
            f"practice-sync {name} {how}; the end of {self.log(name)}:\n" + "\n".join(lines)
        )

    def run(self, name: str, *args: str, timeout: float = 120) -> None:
        """``practice-sync <args>`` to completion; fail with the end of its log if it fails."""
        with self.log(name).open("wb") as out:
            done = subprocess.run(
                [*PRACTICE_SYNC, *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise self._failed(name, f"exited with {done.returncode}")

    def start(self, name: str, *args: str, ready_url: str, timeout: float = 60) -> None:
        """Start ``practice-sync <args>`` and wait until ``ready_url`` answers 200."""
        log = self.log(name).open("wb")
        self._logs.append(log)
        process = subprocess.Popen(
            [*PRACTICE_SYNC, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,  # Ctrl-C reaches the demo, which stops its children in order
        )
        self.running[name] = process

        def ready() -> bool:
            if process.poll() is not None:
                raise self._failed(name, f"exited with {process.returncode} while starting")
            try:
                return httpx.get(ready_url, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout, f"practice-sync {name} to answer at {ready_url}")

    def stop(self) -> None:
        """Stop every child, the last started first, as Ctrl-C would (each shuts down
        gracefully on SIGINT); fail if one does not exit cleanly."""
        problems = []
        for name, process in reversed(self.running.items()):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                problems.append(f"{name} did not stop within {STOP_SECONDS:.0f} s")
                continue
            if code != 0:
                problems.append(f"{name} exited with {code} (see {self.log(name)})")
        self.running.clear()
        for log in self._logs:
            log.close()
        if problems:
            raise click.ClickException("; ".join(problems))
