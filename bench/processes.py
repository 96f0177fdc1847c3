"""practice-sync's commands and the sandbox EHR as the benchmarks run them: as processes of
their own over loopback HTTP (as a practice deploys them), or an ASGI app served by the
benchmark's own process when the benchmark must time what that app does.

Processes take the same :class:`~integration_core.settings.Settings` the in-process runs are
built from, through the environment (the ``PRACTICE_SYNC_`` variables), so both kinds of run
measure one configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from bench.practice import DIRECTORY
from integration_core.runtime import Runtime
from integration_core.settings import Settings
from integration_core.testing.processes import free_port, wait_until_ready

__all__ = ["ehr_server", "engine", "environment", "migrate", "served"]

PRACTICE_SYNC = [sys.executable, "-m", "integration_core"]


def environment(config: Settings, **overrides: str) -> dict[str, str]:
    """This process's environment with ``config`` in ``PRACTICE_SYNC_`` variables, and each
    override as its variable (``ehr__poll_interval_seconds`` is
    ``PRACTICE_SYNC_EHR__POLL_INTERVAL_SECONDS``)."""
    assert config.database_url is not None
    return {
        **os.environ,
        "PRACTICE_SYNC_DATABASE_URL": config.database_url,
        "PRACTICE_SYNC_BROKER": config.broker.model_dump_json(),
        "PRACTICE_SYNC_RATE_LIMITS": config.rate_limits.model_dump_json(),
        "PRACTICE_SYNC_PRACTICES": json.dumps(
            {k: v.model_dump(mode="json") for k, v in config.practices.items()}
        ),
        "PRACTICE_SYNC_PLUGINS": config.plugins.model_dump_json(),
        "PRACTICE_SYNC_LOGGING__LEVEL": config.logging.level,
        **{f"PRACTICE_SYNC_{name.upper()}": value for name, value in overrides.items()},
    }


def migrate(config: Settings) -> None:
    """Bring ``config``'s database to the schema ``practice-sync migrate`` would, from this
    process (already importing everything: quicker than a process of its own)."""
    runtime = Runtime(config)
    try:
        runtime.migrate()
    finally:
        runtime.close()


@contextmanager
def engine(command: str, config: Settings, **overrides: str) -> Iterator[subprocess.Popen[bytes]]:
    """``practice-sync <command>`` (``run``, ``worker``) in its own process while the block
    runs; stopped as a supervisor stops it (SIGTERM) when it ends."""
    process = subprocess.Popen(
        [*PRACTICE_SYNC, command],
        env=environment(config, **overrides),
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def ehr_server(folder: Path) -> Iterator[str]:
    """``practice-sync sandbox-ehr`` in its own process, as a practice's EHR is: its URL."""
    port = free_port()
    database = f"sqlite:///{folder / 'ehr-server.db'}"
    directory = folder / "ehr-directory.toml"
    directory.write_text(
        "[providers]\n"
        + "".join(f'{p} = "{name}"\n' for p, name in DIRECTORY.providers.items())
        + '[locations]\nmain = "Main"\n'
    )
    command = ["sandbox-ehr", "--port", str(port), "--database-url", database]
    command += ["--directory", str(directory)]
    process = subprocess.Popen(
        [*PRACTICE_SYNC, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, path="/healthz", timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def served(app: Any, health: str = "/healthz") -> Iterator[str]:
    """``app`` served over loopback by a thread of this process while the block runs (its
    lifespan included): its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="bench-served", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, path=health, timeout=30)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
