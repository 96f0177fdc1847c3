"""Running ``practice-sync`` commands as child processes of the tests, from this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
