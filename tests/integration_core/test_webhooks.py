"""Signed webhooks: verified before the body is parsed, and each message acted on once — on
SQLite and PostgreSQL. (Two servers sharing the store: tests/e2e/test_webhook_replay.py.)"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from integration_core.http.app import create_app
from integration_core.http.webhooks import STANDARD_WEBHOOK_TOLERANCE, public_url
from integration_core.runtime import FORGET_WEBHOOKS_EVERY, Runtime
from integration_core.store import IdLink, WebhookMessage
from integration_core.webhook_messages import forget_expired, record_once
from tests.support import webhook_receiver
from tests.support.webhook_receiver import signed_headers

URL = "/v1/test-webhooks"


@pytest.fixture
def runtime(ps_runtime_factory) -> Runtime:
    built: Runtime = ps_runtime_factory(extra_plugins={"webhook_receiver": webhook_receiver})
    return built


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def references(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return list(session.scalars(select(IdLink.external_id).order_by(IdLink.id)))


def remembered(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookMessage)) or 0)


def test_a_signed_message_is_acted_on_once(client, runtime, ps_clock):
    body = b'{"ref": "first"}'
    headers = signed_headers(body, "msg_1", at=ps_clock.now())
    assert client.post(URL, content=body, headers=headers).status_code == 200
    replayed = client.post(URL, content=body, headers=headers)
    assert replayed.status_code == 409
    assert replayed.json()["error"]["code"] == "webhook_replayed"
    ps_clock.advance(minutes=1)
    resigned = signed_headers(body, "msg_1", at=ps_clock.now())
    assert client.post(URL, content=body, headers=resigned).status_code == 409  # same message
    other = b'{"ref": "second"}'
    fresh = signed_headers(other, "msg_2", at=ps_clock.now())
    assert client.post(URL, content=other, headers=fresh).status_code == 200
    assert references(runtime) == ["first", "second"]


def test_signatures_are_checked_before_anything_is_read_or_remembered(client, runtime, ps_clock):
    body = b'{"ref": "x"}'
    now = ps_clock.now()
    late = timedelta(seconds=1) + STANDARD_WEBHOOK_TOLERANCE
    forged = signed_headers(body, "msg_f", at=now, secret="whsec_" + "b3RoZXItc2VjcmV0")
    tampered = signed_headers(b'{"ref": "y"}', "msg_t", at=now)
    stale = signed_headers(body, "msg_s", at=now - late)
    early = signed_headers(body, "msg_e", at=now + late)
    no_id = {**signed_headers(body, "msg_n", at=now), "webhook-id": ""}
    for headers in (forged, tampered, stale, early, no_id, {"content-type": "application/json"}):
        refused = client.post(URL, content=body, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "webhook_signature_invalid"
    garbage = b"{not json at all"
    assert client.post(URL, content=garbage, headers=forged).status_code == 401
    assert remembered(runtime) == 0 and references(runtime) == []
    edge = signed_headers(body, "msg_edge", at=now - STANDARD_WEBHOOK_TOLERANCE)
    assert client.post(URL, content=body, headers=edge).status_code == 200


def test_a_message_whose_handling_failed_can_be_delivered_again(
    client, runtime, monkeypatch, ps_clock
):
    body = b'{"ref": "retried"}'
    headers = signed_headers(body, "msg_r", at=ps_clock.now())
    monkeypatch.setattr(webhook_receiver, "failing", True)
    assert client.post(URL, content=body, headers=headers).status_code == 503
    assert remembered(runtime) == 0 and references(runtime) == []
    monkeypatch.setattr(webhook_receiver, "failing", False)
    assert client.post(URL, content=body, headers=headers).status_code == 200
    assert references(runtime) == ["retried"]


def test_of_concurrent_copies_exactly_one_is_recorded(runtime, ps_clock):
    now = ps_clock.now()
    copies = 8
    start = threading.Barrier(copies)
    outcomes: list[bool] = []

    def deliver() -> None:
        start.wait(timeout=10)
        try:
            with runtime.db.transaction() as session:
                outcomes.append(
                    record_once(
                        session,
                        source="s",
                        message_id="same",
                        keep_until=now + timedelta(minutes=6),
                        now=now,
                    )
                )
        except Exception as exc:  # a unique violation would be a wrong answer, not a refusal
            outcomes.append(exc)  # type: ignore[arg-type]

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [False] * (copies - 1) + [True]


def test_a_record_is_kept_until_no_replay_could_verify_then_forgotten(runtime, ps_clock):
    now = ps_clock.now()
    keep_until = now + STANDARD_WEBHOOK_TOLERANCE

    def record(at: datetime, source: str = "s") -> bool:
        with runtime.db.transaction() as session:
            return record_once(
                session, source=source, message_id="m", keep_until=keep_until, now=at
            )

    assert record(now)
    assert record(now, source="another sender")  # ids are the sender's: scoped by source
    assert not record(keep_until)
    assert record(keep_until + timedelta(seconds=1))  # expired: the id is taken afresh
    assert forget_expired(runtime.db, keep_until) == 0

    runtime.tick()  # the scheduler forgets what expired, now and then
    assert remembered(runtime) == 2
    ps_clock.advance(STANDARD_WEBHOOK_TOLERANCE + FORGET_WEBHOOKS_EVERY)
    runtime.tick()
    assert remembered(runtime) == 0


def test_the_signed_url_is_rebuilt_from_the_public_base_url(runtime):
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/sms/inbound",
        "query_string": b"practice=acme",
        "headers": [(b"host", b"attacker.example"), (b"x-forwarded-host", b"evil.example")],
        "scheme": "http",
        "server": ("attacker.example", 80),
    }
    assert (
        public_url(runtime.settings, Request(scope))
        == "http://127.0.0.1:8400/v1/sms/inbound?practice=acme"
    )
