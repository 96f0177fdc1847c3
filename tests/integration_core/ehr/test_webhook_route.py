"""``POST /v1/practices/{practice}/ehr/changes`` in process, on SQLite and PostgreSQL.

The booking practice syncs to the in-process sandbox EHR through the Kareo-like adapter, which
verifies each notification with the practice's webhook secret. A message is acted on once (a
replay is a 409) and a change once whatever message brings it; a message that does not verify
is a 401 that records nothing, so the EHR can still send it correctly. No refusal repeats what
was sent. (With real processes and the sandbox's own webhooks: tests/e2e/test_ehr_changes.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from integration_core.clock import ManualClock
from integration_core.ehr.change_tables import ChangeSeen
from integration_core.http.app import create_app
from integration_core.http.errors import ErrorBody
from integration_core.http.webhooks import STANDARD_WEBHOOK_TOLERANCE
from integration_core.records import Appointment
from integration_core.runtime import Runtime
from integration_core.store import Event, WebhookMessage
from tests.support.booking import MONDAY_MORNING
from tests.support.ehr_webhooks import (
    CHANGES,
    SECRET,
    announce,
    made_in_ehr,
    notification,
    webhook_overrides,
)
from tests.support.kareo_contract import OTHER_WEBHOOK_SECRET
from tests.support.webhook_receiver import signed_headers

TUESDAY_NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
CHANGE = made_in_ehr("APT-ROUTE7", "PAT-ROUTE7", TUESDAY_NINE)
MESSAGE_ID = "msg_route7"
SENT = ("APT-ROUTE7", "PAT-ROUTE7", MESSAGE_ID)
"""What a message carries that no answer may repeat."""


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock, sandbox_url, tmp_path) -> Runtime:
    ps_clock.set(MONDAY_MORNING)
    built: Runtime = ps_runtime_factory(**webhook_overrides(sandbox_url, tmp_path / "messages"))
    return built


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def recorded(runtime: Runtime) -> dict[str, int]:
    """How many messages, changes, appointments and events the engine holds."""
    with runtime.db.read() as session:
        return {
            table.__name__: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (WebhookMessage, ChangeSeen, Appointment, Event)
        }


NOTHING = {"WebhookMessage": 0, "ChangeSeen": 0, "Appointment": 0, "Event": 0}


def outcomes(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert [c["change_id"] for c in response.json()["changes"]] == [CHANGE["id"]]
    return [c["outcome"] for c in response.json()["changes"]]


def refused(response: Response, status: int, code: str) -> None:
    """An error in the project's shape, with ``code``, quoting nothing the message carried."""
    assert response.status_code == status, response.text
    assert ErrorBody.model_validate(response.json()).error.code == code
    assert not [value for value in SENT if value in response.text]


def test_a_message_is_acted_on_once_and_its_change_once(client, runtime, ps_clock):
    now = ps_clock.now()
    assert outcomes(announce(client, CHANGE, message_id=MESSAGE_ID, at=now)) == ["applied"]
    applied = recorded(runtime)
    assert applied["ChangeSeen"] == applied["Appointment"] == 1

    replayed = announce(client, CHANGE, message_id=MESSAGE_ID, at=now)
    refused(replayed, 409, "webhook_replayed")
    assert recorded(runtime) == applied

    resent = announce(client, CHANGE, message_id="msg_route7_again", at=now)
    assert outcomes(resent) == ["duplicate"]
    assert recorded(runtime) == {**applied, "WebhookMessage": 2}  # the message, not the change


Unverified = Callable[[bytes, ManualClock], tuple[bytes, dict[str, str]]]


def signed(body: bytes, clock: ManualClock, secret: str = SECRET) -> dict[str, str]:
    return signed_headers(body, MESSAGE_ID, at=clock.now(), secret=secret)


def tampered(body: bytes, clock: ManualClock) -> tuple[bytes, dict[str, str]]:
    return body.replace(b'"Confirmed"', b'"Cancelled"'), signed(body, clock)


def wrong_secret(body: bytes, clock: ManualClock) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, clock, secret=OTHER_WEBHOOK_SECRET)


def late(body: bytes, clock: ManualClock) -> tuple[bytes, dict[str, str]]:
    """Signed, then received after the tolerance has passed on the engine's clock."""
    headers = signed(body, clock)
    clock.advance(STANDARD_WEBHOOK_TOLERANCE + timedelta(seconds=1))
    return body, headers


def unsigned(body: bytes, clock: ManualClock) -> tuple[bytes, dict[str, str]]:
    headers = signed(body, clock)
    del headers["webhook-signature"]
    return body, headers


def not_json(body: bytes, clock: ManualClock) -> tuple[bytes, dict[str, str]]:
    """Signed with the practice's secret, but not a message the EHR sends."""
    garbage = b"{" + MESSAGE_ID.encode()
    return garbage, signed(garbage, clock)


@pytest.mark.parametrize(
    "unverified",
    [tampered, wrong_secret, late, unsigned, not_json],
    ids=lambda case: case.__name__,
)
def test_a_message_that_does_not_verify_records_nothing_and_can_be_sent_again(
    client, runtime, ps_clock, unverified: Unverified
):
    content, headers = unverified(notification(CHANGE), ps_clock)
    refused(
        client.post(CHANGES, content=content, headers=headers), 401, "webhook_signature_invalid"
    )
    assert recorded(runtime) == NOTHING
    sent_right = announce(client, CHANGE, message_id=MESSAGE_ID, at=ps_clock.now())
    assert outcomes(sent_right) == ["applied"]


def test_a_practice_the_engine_does_not_serve_is_not_found(client, runtime, ps_clock):
    body = notification(CHANGE)
    response = client.post(
        "/v1/practices/elsewhere/ehr/changes",
        content=body,
        headers=signed(body, ps_clock),
    )
    refused(response, 404, "not_found")
    assert recorded(runtime) == NOTHING


def spoiled(where: str, value: object) -> dict[str, Any]:
    """:data:`CHANGE` with one value (``where``: a key of the change, or ``appointment.`` and
    one of the appointment's) out of what an EHR sends."""
    change = json.loads(json.dumps(CHANGE))
    inside, _, key = where.rpartition(".")
    (change[inside] if inside else change)[key] = value
    return change


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("version", 2**63),
        ("version", 0),
        ("id", ""),
        ("id", "CHG-\u0000"),
        ("type", None),
        ("occurred_at", "9999-12-31T23:59:59-12:00"),
        ("occurred_at", 0),
        ("appointment.start", "0001-01-01T00:00:00+14:00"),
        ("appointment.start", "2027-01-05T09:00:00"),
        ("appointment.duration_minutes", 10**30),
        ("appointment.duration_minutes", -30),
        ("appointment.group", "yes"),
        ("appointment.intake_forms", "MARKERZQ"),
        ("appointment.staff_reason", "x" * 100_000),
    ],
)
def test_a_signed_change_outside_what_the_ehr_sends_is_refused_not_stored(
    client, runtime, ps_clock, where, value
):
    response = announce(client, spoiled(where, value), message_id=MESSAGE_ID, at=ps_clock.now())
    refused(response, 401, "webhook_signature_invalid")
    assert recorded(runtime) == NOTHING


def test_a_signed_body_nested_beyond_reason_is_refused(client, runtime, ps_clock):
    body = b'{"type": "appointment.changed", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = client.post(CHANGES, content=body, headers=signed(body, ps_clock))
    refused(response, 401, "webhook_signature_invalid")
    assert recorded(runtime) == NOTHING
