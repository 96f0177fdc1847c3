"""A signed message is acted on once by a deployment, not once per process: two ``serve``
processes on one PostgreSQL database share the store of seen messages, and it outlives them."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from integration_core.testing.processes import free_port, wait_until_ready
from integration_core.testing.services import postgres_schema_url, redis_url
from tests.support.commands import CONFIG, ROOT, run, start
from tests.support.webhook_receiver import signed_headers

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG)
    with postgres_schema_url() as database_url:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PRACTICE_SYNC_CONFIG": str(config),
            "PRACTICE_SYNC_DATABASE_URL": database_url,
            "PRACTICE_SYNC_BROKER__URL": redis_url(),
            "PRACTICE_SYNC_BROKER__QUEUE": f"ps_test_{secrets.token_hex(4)}",
            "PRACTICE_SYNC_PLUGINS__MODULES": json.dumps(["tests.support.webhook_receiver"]),
        }
        migrated = run("migrate", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        yield env


@contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[str]:
    """``practice-sync serve`` on a free port: its base URL once ready; stopped after."""
    port = free_port()
    process = start({**env, "PRACTICE_SYNC_HTTP__PORT": str(port)}, "serve", log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        yield base
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_a_message_one_server_took_is_refused_by_the_other_and_after_a_restart(
    environment, tmp_path
):
    body = b'{"ref": "once"}'
    headers = signed_headers(body, "msg_shared", at=datetime.now(UTC))

    def send(base: str) -> httpx.Response:
        return httpx.post(f"{base}/v1/test-webhooks", content=body, headers=headers, timeout=10)

    with server(environment, tmp_path / "a.log") as a, server(environment, tmp_path / "b.log") as b:
        assert send(a).status_code == 200
        replayed = send(b)
        assert replayed.status_code == 409
        assert replayed.json()["error"]["code"] == "webhook_replayed"
    with server(environment, tmp_path / "a-again.log") as a:
        assert send(a).status_code == 409
