"""How ``KareoLikeAdapter`` reads the sandbox EHR's changes beyond the contract: the webhook
secret it is given (none: every webhook refused), header names in any case, messages of other
types, answers it cannot read (refused without quoting them), and the visit reason a patient
asked for, passed on to staff."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from integration_core.api import ExternalRejected, InvalidWebhook, NewAppointment
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from tests.support.kareo_contract import WEBHOOK_SECRET
from tests.support.webhook_receiver import signed_headers

SIGNED_AT = datetime(2027, 1, 4, 14, 3, 12, tzinfo=UTC)
STAFF_REASON = "Dr. Okafor is away; Marguerite prefers mornings"

CHANGE: dict[str, Any] = {
    "id": "CHG-3F1A9C2B7D01",
    "sequence": 17,
    "type": "appointment.checked_in",
    "appointment_id": "APT-9E3B1C0A2F44",
    "version": 3,
    "occurred_at": "2027-01-04T14:03:11.204000+00:00",
    "patient_id": "PAT-1A2B3C4D5E6F",
    "appointment": {
        "id": "APT-9E3B1C0A2F44",
        "status": "Confirmed",
        "provider_id": "1001",
        "location_id": "main",
        "start": "2027-01-05T14:00:00+00:00",
        "end": "2027-01-05T14:45:00+00:00",
        "duration_minutes": 45,
        "appointment_type": "Telehealth",
        "visit_reason_id": 1,
        "intake_forms": ["Medical History"],
        "group": True,
        "patients": [
            {"patient_id": "PAT-1A2B3C4D5E6F", "status": "Checked In"},
            {"patient_id": "PAT-6F5E4D3C2B1A", "status": "No Show"},
        ],
        "staff_reason": STAFF_REASON,
    },
}


def message(change: dict[str, Any], kind: str = "appointment.changed") -> bytes:
    return json.dumps({"type": kind, "data": change}).encode()


def adapter(secret: str | None = WEBHOOK_SECRET, **answers: Any) -> KareoLikeAdapter:
    """An adapter whose EHR answers each path of ``answers`` (``changes`` for the feed) with
    that JSON."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path.rpartition("/")[2]])

    return KareoLikeAdapter(
        "http://ehr",
        "key",
        transport=httpx.MockTransport(answer),
        transient_retries=0,
        webhook_secret=secret,
    )


def test_a_webhook_is_read_into_the_change_it_announces() -> None:
    body = message(CHANGE)
    verified = adapter().parse_webhook(
        signed_headers(body, CHANGE["id"], at=SIGNED_AT, secret=WEBHOOK_SECRET),
        body,
        now=SIGNED_AT,
    )
    assert (verified.message_id, verified.signed_at) == (CHANGE["id"], SIGNED_AT)
    (change,) = verified.changes
    assert change.model_dump(include={"kind", "state", "group", "visit_reason_id"}) == {
        "kind": "checked_in",
        "state": "booked",
        "group": True,
        "visit_reason_id": "1",
    }
    assert [(a.patient_id, a.state) for a in change.attendees] == [
        ("PAT-1A2B3C4D5E6F", "checked_in"),
        ("PAT-6F5E4D3C2B1A", "no_show"),
    ]
    assert change.telehealth and change.staff_reason == STAFF_REASON


def test_header_names_may_come_in_any_case() -> None:
    body = message(CHANGE)
    headers = signed_headers(body, CHANGE["id"], at=SIGNED_AT, secret=WEBHOOK_SECRET)
    shouted = {name.title(): value for name, value in headers.items()}
    assert adapter().parse_webhook(shouted, body, now=SIGNED_AT).message_id == CHANGE["id"]


def test_without_a_secret_every_webhook_is_refused() -> None:
    body = message(CHANGE)
    headers = signed_headers(body, CHANGE["id"], at=SIGNED_AT, secret=WEBHOOK_SECRET)
    with pytest.raises(InvalidWebhook) as refused:
        adapter(secret=None).parse_webhook(headers, body, now=SIGNED_AT)
    assert refused.value.code == "webhook_not_configured"


def test_a_signed_message_of_another_type_announces_no_change() -> None:
    body = message({"id": "EVT-1"}, kind="practice.updated")
    headers = signed_headers(body, "EVT-1", at=SIGNED_AT, secret=WEBHOOK_SECRET)
    assert adapter().parse_webhook(headers, body, now=SIGNED_AT).changes == ()


@pytest.mark.parametrize(
    "broken",
    [
        {**CHANGE, "appointment": {**CHANGE["appointment"], "status": "Rebooked"}},
        {**CHANGE, "type": "patient.updated"},
        {key: value for key, value in CHANGE.items() if key != "version"},
    ],
    ids=["unknown_status", "not_an_appointment", "no_version"],
)
def test_a_change_it_cannot_read_is_refused_without_quoting_it(broken: dict[str, Any]) -> None:
    body = message(broken)
    headers = signed_headers(body, CHANGE["id"], at=SIGNED_AT, secret=WEBHOOK_SECRET)
    with pytest.raises(InvalidWebhook) as refused:
        adapter().parse_webhook(headers, body, now=SIGNED_AT)
    assert "Okafor" not in str(refused.value) and refused.value.__cause__ is None
    feed = adapter(changes={"changes": [broken], "next_cursor": "17"})
    with pytest.raises(ExternalRejected) as unreadable:
        feed.read_changes(None)
    assert unreadable.value.code == "ehr_unreadable_answer"
    assert "Okafor" not in str(unreadable.value) and unreadable.value.__cause__ is None


def test_the_feed_is_read_from_the_cursor_given() -> None:
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, json={"changes": [CHANGE], "next_cursor": "17"})

    reader = KareoLikeAdapter("http://ehr", "key", transport=httpx.MockTransport(answer))
    page = reader.read_changes("16", limit=1)
    assert [(change.change_id, change.version) for change in page.changes] == [(CHANGE["id"], 3)]
    assert (page.cursor, dict(asked[0].params)) == ("17", {"after": "16", "limit": "1"})
    reader.read_changes(None)
    assert dict(asked[1].params) == {"limit": "100"}


def test_the_visit_reason_the_patient_chose_is_sent() -> None:
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(422, json={"error": {"code": "invalid_request", "message": "."}})

    creator = KareoLikeAdapter(
        "http://ehr", "key", transport=httpx.MockTransport(answer), transient_retries=0
    )
    wanted = NewAppointment(
        patient_id="PAT-1",
        provider_id="1001",
        location_id="main",
        start=SIGNED_AT,
        duration_minutes=30,
        telehealth=False,
        patient_note="",
        requested_reason="annual-physical",
    )
    with pytest.raises(ExternalRejected):
        creator.create_tentative_appointment(wanted, idempotency_key="k")
    assert sent[0]["requested_reason"] == "annual-physical"
