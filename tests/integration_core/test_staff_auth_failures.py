"""Failed staff authentications are limited per client (429 ``too_many_failed_attempts`` with
``Retry-After``) and logged with the practice and the client, never the token presented."""

from __future__ import annotations

import logging
import secrets

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from integration_core.logs import ConsoleFormatter, JsonFormatter, PhiScrubber
from integration_core.testing.services import redis_url

DEAD = "/v1/practices/acme/deliveries/dead"
FRONT_DESK = {"Authorization": "Bearer token-front-desk"}
# A guess that has the real token as its prefix: no part of it may reach the log.
NEAR_MISS = {"Authorization": "Bearer token-front-desk-2"}
CLIENT = ("203.0.113.250", 40000)


def app_with(ps_runtime_factory, **rate_limits):
    runtime = ps_runtime_factory(rate_limits={"staff_auth_failures": "3/minute", **rate_limits})
    return create_app(runtime)


def written(record: logging.LogRecord) -> list[str]:
    """The record as both of our formats write it, scrubbed as the log handler scrubs it."""
    PhiScrubber().filter(record)
    return [JsonFormatter().format(record), ConsoleFormatter().format(record)]


def test_failures_are_limited_per_client_and_logged_without_the_token(ps_runtime_factory, caplog):
    app = app_with(ps_runtime_factory)
    caplog.set_level(logging.WARNING, logger="integration_core.http.security")
    with TestClient(app, client=CLIENT) as client:
        guesses = [NEAR_MISS, {"Authorization": "Bearer token-mana"}, {}]
        for headers in guesses:
            answer = client.get(DEAD, headers=headers)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "unauthorized"
        limited = client.get(DEAD, headers=NEAR_MISS)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "too_many_failed_attempts"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Locked out: the right token does not get a guess in edgeways either.
        assert client.get(DEAD, headers=FRONT_DESK).status_code == 429
        # Another practice's staff routes are no way round it.
        assert client.get("/v1/practices/globex/deliveries/dead").status_code == 429

    with TestClient(app, client=("198.51.100.7", 40000)) as elsewhere:
        assert elsewhere.get(DEAD, headers=FRONT_DESK).status_code == 200
        assert elsewhere.get(DEAD, headers=NEAR_MISS).status_code == 401

    records = [r for r in caplog.records if r.name == "integration_core.http.security"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.WARNING, "staff authentication failed"),
        (logging.WARNING, "staff authentication failed"),
        (logging.WARNING, "staff authentication failed"),
        (logging.WARNING, "staff request refused: too many failed authentications"),
        (logging.WARNING, "staff request refused: too many failed authentications"),
        (logging.WARNING, "staff request refused: too many failed authentications"),
        (logging.WARNING, "staff authentication failed"),
    ]
    practices = [str(r.__dict__["practice"]) for r in records]
    assert practices == ["acme"] * 5 + ["globex", "acme"]
    clients = [str(r.__dict__["client"]) for r in records]
    assert clients == ["203.0.113.250"] * 6 + ["198.51.100.7"]
    for record in records:
        for line in written(record):
            assert "203.0.113.250" in line or "198.51.100.7" in line, line
            assert "acme" in line or "globex" in line
            assert "token-" not in line and "Bearer" not in line, line


def test_successful_requests_do_not_count(ps_runtime_factory):
    with TestClient(app_with(ps_runtime_factory), client=CLIENT) as client:
        for _ in range(20):
            assert client.get(DEAD, headers=FRONT_DESK).status_code == 200
        statuses = [client.get(DEAD, headers=NEAR_MISS).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]


@pytest.mark.redis
def test_the_count_is_shared_by_every_process_through_redis(ps_runtime_factory):
    shared = {"storage_url": redis_url(), "key_prefix": f"ps_test_{secrets.token_hex(4)}"}
    one = create_app(ps_runtime_factory(rate_limits={"staff_auth_failures": "3/minute", **shared}))
    other = create_app(
        ps_runtime_factory(rate_limits={"staff_auth_failures": "3/minute", **shared})
    )
    with TestClient(one, client=CLIENT) as first, TestClient(other, client=CLIENT) as second:
        assert first.get(DEAD, headers=NEAR_MISS).status_code == 401
        assert second.get(DEAD, headers=NEAR_MISS).status_code == 401
        assert first.get(DEAD, headers=NEAR_MISS).status_code == 401
        assert second.get(DEAD, headers=FRONT_DESK).status_code == 429
        assert first.get(DEAD, headers=FRONT_DESK).status_code == 429


def test_a_practice_id_sent_with_a_line_break_stays_on_its_line(ps_runtime_factory, caplog):
    caplog.set_level(logging.WARNING, logger="integration_core.http.security")
    forged = "acme%0A09:30:00%20info%20%20%20%20integration_core.http.security:%20signed%20in"
    with TestClient(app_with(ps_runtime_factory), client=CLIENT) as client:
        assert client.get(f"/v1/practices/{forged}/deliveries/dead").status_code == 401
    (record,) = [r for r in caplog.records if r.name == "integration_core.http.security"]
    assert str(record.__dict__["practice"]).startswith("acme\n09:30:00")  # as the client sent it
    json_line, console_line = written(record)
    assert len(json_line.splitlines()) == len(console_line.splitlines()) == 1
    assert "practice=acme\\n09:30:00 info    integration_core.http.security:" in console_line
