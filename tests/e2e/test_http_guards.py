"""``practice-sync run`` as a real process guards its HTTP API: ``X-Forwarded-For`` counts only
from ``http.forwarded_allow_ips`` (none by default, whatever uvicorn's own variable says),
failed staff authentications are limited and logged without the token, a chunked body over
the limit is refused with 413, and a 405 names the methods its path takes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx

from integration_core.testing.processes import free_port, wait_until_ready
from tests.support.commands import CONFIG, PRACTICE_SYNC, run
from tests.support.examples import environment, running
from tests.support.http_server import chunk, raw_exchange

OPTIONS = "/v1/practices/acme/widget/options"
DEAD = "/v1/practices/acme/deliveries/dead"
TOKEN = "e2e-staff-token-5f1c"
GUESS = f"{TOKEN}-guess"  # the real token is its prefix: neither may reach the log


def forwarded(base: str, path: str, values: list[str], **headers: str) -> list[int]:
    with httpx.Client(base_url=base, timeout=10) as client:
        return [
            client.get(path, headers={"X-Forwarded-For": value, **headers}).status_code
            for value in values
        ]


def log_lines(log: Path) -> Iterator[dict[str, object]]:
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def test_run_believes_forwarded_for_only_from_configured_proxies(tmp_path: Path):
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(
        PRACTICE_SYNC_CONFIG=str(config),
        PRACTICE_SYNC_DATABASE_URL=f"sqlite:///{tmp_path / 'guards.db'}",
        PRACTICE_SYNC_HTTP__PORT=str(port),
        PRACTICE_SYNC_HTTP__MAX_PUBLIC_BODY_BYTES="1024",
        PRACTICE_SYNC_RATE_LIMITS__PER_CLIENT="3/minute",
        PRACTICE_SYNC_RATE_LIMITS__STAFF_AUTH_FAILURES="2/minute",
        PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__FRONT_DESK=TOKEN,
        PRACTICE_SYNC_LOGGING__FORMAT="json",
        FORWARDED_ALLOW_IPS="*",  # uvicorn's own setting: it must not open the door
    )
    assert run("migrate", env=env).returncode == 0
    wrong = {"Authorization": f"Bearer {GUESS}"}

    log = tmp_path / "default.log"
    with running([*PRACTICE_SYNC, "run"], cwd=tmp_path, env=env, log=log) as server:
        wait_until_ready(base)
        fresh = [f"198.51.100.{n}" for n in range(1, 6)]
        assert forwarded(base, OPTIONS, fresh) == [200, 200, 200, 429, 429]
        assert forwarded(base, DEAD, fresh[:3], **wrong) == [401, 401, 429]
        limited = httpx.get(f"{base}{DEAD}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "too_many_failed_attempts"
        assert int(limited.headers["retry-after"]) >= 1

        def body() -> Iterator[bytes]:
            yield from [b"x" * 512] * 400

        refused = httpx.post(f"{base}/v1/practices/acme/widget/requests", content=body())
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "payload_too_large"
        head = b"POST /v1/practices/acme/widget/requests HTTP/1.1\r\nHost: x\r\n"
        unfinished = raw_exchange(
            base, head + b"Transfer-Encoding: chunked\r\n\r\n", [chunk(b"y" * 800)] * 2
        )
        assert unfinished.startswith(b"HTTP/1.1 413 ")

        not_allowed = httpx.delete(f"{base}/v1/practices/acme/calendars/dr_lee/main")
        assert not_allowed.status_code == 405
        assert not_allowed.headers["allow"] == "GET, PUT"
        assert not_allowed.json()["error"]["code"] == "method_not_allowed"
    assert server.returncode == 0
    warnings = [line for line in log_lines(log) if line["level"] == "warning"]
    staff = [line for line in warnings if line["logger"] == "integration_core.http.security"]
    assert [(line["practice"], line["client"]) for line in staff] == [("acme", "127.0.0.1")] * 4
    assert TOKEN not in log.read_text()

    env["PRACTICE_SYNC_HTTP__FORWARDED_ALLOW_IPS"] = '["127.0.0.1"]'
    log = tmp_path / "behind-a-proxy.log"
    with running([*PRACTICE_SYNC, "run"], cwd=tmp_path, env=env, log=log) as server:
        wait_until_ready(base)
        assert forwarded(base, OPTIONS, ["198.51.100.1"] * 4) == [200, 200, 200, 429]
        assert forwarded(base, OPTIONS, ["198.51.100.2"] * 3) == [200, 200, 200]
        assert forwarded(base, DEAD, ["203.0.113.250"] * 3, **wrong) == [401, 401, 429]
        assert forwarded(base, DEAD, ["203.0.113.251"], **wrong) == [401]
    assert server.returncode == 0
    staff = [
        line
        for line in log_lines(log)
        if line["level"] == "warning" and line["logger"] == "integration_core.http.security"
    ]
    clients = [line["client"] for line in staff]
    assert clients == ["203.0.113.250"] * 3 + ["203.0.113.251"]
    assert TOKEN not in log.read_text()
