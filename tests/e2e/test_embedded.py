"""The embedded default: ``practice-sync run`` (API + worker threads + scheduler, SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from integration_core.store import Database, Delivery, DeliveryStatus
from integration_core.testing.processes import free_port, wait_until, wait_until_ready
from tests.support.commands import CONFIG, ROOT, run, start


def test_run_serves_delivers_and_dead_letters_are_handled_from_the_cli(tmp_path: Path):
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG)
    database_url = f"sqlite:///{tmp_path / 'embedded.db'}"
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PRACTICE_SYNC_CONFIG": str(config),
        "PRACTICE_SYNC_DATABASE_URL": database_url,
        "PRACTICE_SYNC_HTTP__PORT": str(port),
        "PRACTICE_SYNC_PLUGINS__MODULES": json.dumps(["tests.support.http_emitter"]),
        "PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__OPS": "ops-token",
    }
    refused = run("run", env=env)  # an empty database: run refuses, naming what to do
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "cannot start:",
        "database: reachable and migrated to head — failed: no database file where "
        "database_url points: run `practice-sync migrate`",
    ]
    assert run("migrate", env=env).returncode == 0
    server = start(env, "run", tmp_path / "run.log")
    db = Database(database_url)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        started = time.monotonic()
        response = httpx.post(
            f"{base}/v1/practices/acme/test-events",
            json={"count": 10},
            headers={"Authorization": "Bearer ops-token"},
        )
        assert response.status_code == 201

        def done() -> bool:
            with db.read() as session:
                statuses = list(session.scalars(select(Delivery.status)))
            # the EHR sync and notifications (no EHR, no recipients here) per event
            return len(statuses) == 20 and set(statuses) == {DeliveryStatus.DONE}

        wait_until(done, 30, "the embedded workers")
        assert time.monotonic() - started < 30
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0  # a clean stop

    # Make one delivery dead by hand, as an exhausted retry would, and use the CLI on it.
    with db.transaction() as session:
        row = session.scalars(select(Delivery).where(Delivery.plugin == "notifications")).first()
        assert row is not None
        row.status = DeliveryStatus.DEAD
        row.last_error_code = "external_unavailable"
        dead_id = row.id
    db.dispose()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run("dead-letters", *args, env=env)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    expected = f"{dead_id}  practice=acme plugin=notifications hook=on_request"
    assert listed.stdout.startswith(expected)
    assert "code=external_unavailable" in listed.stdout
    server = start(env, "run", tmp_path / "run-again.log")
    try:
        wait_until_ready(base)
        # The command's own in-process broker dies with it: the running server's next sweep
        # runs the delivery, long before a lost hand-off's grace would.
        assert cli("replay", dead_id).stdout.strip() == f"{dead_id} queued again"

        def replayed() -> bool:
            with db.read() as session:
                return session.get(Delivery, dead_id).status is DeliveryStatus.DONE

        wait_until(replayed, 10, "the running server to run the replayed delivery")
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
    refused = cli("replay", dead_id)
    assert refused.returncode == 1
    assert "is not a dead delivery" in refused.stderr
    assert cli("list").stdout.strip() == "no dead deliveries"
