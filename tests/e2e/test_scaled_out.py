"""Scaled out: ``practice-sync serve`` and ``practice-sync worker`` as separate processes on
PostgreSQL and Redis, talking over real loopback HTTP and a real broker."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from integration_core.store import Database, Delivery, DeliveryStatus
from integration_core.testing.processes import free_port, wait_until, wait_until_ready
from integration_core.testing.services import postgres_schema_url, rabbitmq_queue, redis_url
from tests.support.commands import CONFIG, ROOT, run, start


@contextmanager
def redis_queue() -> Iterator[tuple[str, str]]:
    yield redis_url(), f"ps_test_{secrets.token_hex(4)}"


@pytest.fixture(
    params=[
        pytest.param(redis_queue, marks=pytest.mark.redis, id="redis"),
        pytest.param(rabbitmq_queue, marks=pytest.mark.rabbitmq, id="rabbitmq"),
    ]
)
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A scaled-out deployment's environment: PostgreSQL, and Redis or RabbitMQ between the
    processes, each run with a schema and a queue of its own."""
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG)
    with postgres_schema_url() as database_url, request.param() as (broker_url, queue):
        yield {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PRACTICE_SYNC_CONFIG": str(config),
            "PRACTICE_SYNC_DATABASE_URL": database_url,
            "PRACTICE_SYNC_BROKER__URL": broker_url,
            "PRACTICE_SYNC_BROKER__QUEUE": queue,
            "PRACTICE_SYNC_HTTP__PORT": str(free_port()),
            "PRACTICE_SYNC_PLUGINS__MODULES": json.dumps(["tests.support.http_emitter"]),
            "PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__OPS": "ops-token",
            "PRACTICE_SYNC_LOGGING__FORMAT": "json",
        }


@pytest.mark.postgres
def test_a_separate_worker_completes_what_a_separate_server_emitted(environment, tmp_path):
    migrate = run("migrate", env=environment, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    base = f"http://127.0.0.1:{environment['PRACTICE_SYNC_HTTP__PORT']}"
    processes = [
        start(environment, "serve", tmp_path / "serve.log"),
        start(environment, "worker", tmp_path / "worker.log"),
    ]
    db = Database(environment["PRACTICE_SYNC_DATABASE_URL"])
    try:
        wait_until_ready(base)
        response = httpx.post(
            f"{base}/v1/practices/acme/test-events",
            json={"count": 25},
            headers={"Authorization": "Bearer ops-token"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        event_ids = response.json()["event_ids"]
        assert len(event_ids) == 25

        def all_done() -> bool:
            with db.read() as session:
                counts = dict(
                    session.execute(
                        select(Delivery.status, func.count()).group_by(Delivery.status)
                    ).all()
                )
            return counts == {DeliveryStatus.DONE: 50}  # the EHR sync and notifications

        wait_until(all_done, 60, "the worker to finish every delivery")
        with db.read() as session:
            plugins = set(session.scalars(select(Delivery.plugin)))
            attempts = set(session.scalars(select(Delivery.attempts)))
        assert plugins == {"ehr_sync", "notifications"} and attempts == {1}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        db.dispose()
    worker_lines = (tmp_path / "worker.log").read_text().splitlines()
    done = [json.loads(line) for line in worker_lines if '"delivery done"' in line]
    assert len(done) == 50  # the worker process, not the server, ran every delivery
