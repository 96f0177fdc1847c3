"""Running ``practice-sync`` commands as child processes of the tests, from this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from integration_core.testing.processes import free_port, wait_until_ready

ROOT = Path(__file__).parents[2]
"""The repository root: a child's ``PYTHONPATH``, so plugins under ``tests.support`` import."""

CONFIG = """
[practices.acme]
name = "Acme"
[practices.acme.locations.main]
name = "Main"
time_zone = "America/New_York"
"""
"""The smallest configuration file a server runs with: one practice, one location."""

CONFIG_WITH_PROVIDER = (
    CONFIG
    + """[practices.acme.providers.dr_lee]
name = "Dr. Lee"
ehr_id = "1001"
locations = ["main"]
"""
)
"""The same practice with one provider, seeing patients there."""


PRACTICE_SYNC = [sys.executable, "-m", "integration_core"]
"""The command line, as this checkout's interpreter runs it."""


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``practice-sync <args>`` to completion (within ``timeout``), its output captured.
    ``env`` replaces the environment (default: this process's)."""
    return subprocess.run(
        [*PRACTICE_SYNC, *args],
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(env: dict[str, str], command: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``practice-sync <command>`` with ``env``, its output going to ``log``; the caller
    terminates it and waits with a timeout."""
    return subprocess.Popen(
        [*PRACTICE_SYNC, command],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@contextmanager
def sandbox_ehr_server(
    database_url: str,
    api_key: str,
    *,
    options: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:
    """``practice-sync sandbox-ehr`` on a free port of 127.0.0.1, over ``database_url``: its
    URL once it answers; stopped with SIGTERM afterwards, which it must survive cleanly.
    ``options`` are more of the command's options (``--webhook URL``); ``env`` adds to its
    environment; its output goes to ``log``, if given."""
    port = free_port()
    process = subprocess.Popen(
        [
            *PRACTICE_SYNC,
            "sandbox-ehr",
            "--port",
            str(port),
            "--database-url",
            database_url,
            *options,
        ],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PRACTICE_SYNC_SANDBOX_EHR_API_KEY": api_key,
            **(env or {}),
        },
        stdout=log.open("wb") if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, path="/healthz")
        yield url
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0  # SIGTERM: a clean stop
