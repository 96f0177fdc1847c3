"""Acme's webhooks as ``parse_webhook`` reads them, beyond the kit (which proves that they tell
the feed's changes, and that a tampered, foreign or stale one is refused): header names in any
case, events without changes, and each refusal's code, its message free of what the body held."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import API_KEY, WEBHOOK_SECRET
from integration_core.api import InvalidWebhook

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_server import FakeAcmeEHR
from acme_ehr.fake_webhooks import SentWebhook, WebhookSigner

SIGNED_AT = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
SECRET_NAME = "Zephyrine"


def signed(body: object) -> SentWebhook:
    """``body`` as Acme would send it, signed at :data:`SIGNED_AT`."""
    return WebhookSigner(WEBHOOK_SECRET, lambda: SIGNED_AT).sign(json.dumps(body))


def test_header_names_are_read_in_any_case(adapter: AcmeEHRAdapter) -> None:
    message = signed({"event": "journal.appended", "entries": []})
    headers = {name.title(): value for name, value in message.headers.items()}
    parsed = adapter.parse_webhook(headers, message.body, now=SIGNED_AT)
    assert (parsed.message_id, parsed.signed_at, parsed.changes) == (
        message.headers["webhook-id"],
        SIGNED_AT,
        (),
    )


def test_an_event_the_adapter_does_not_know_is_read_as_no_changes(
    adapter: AcmeEHRAdapter,
) -> None:
    message = signed({"event": "person.merged", "people": ["pp_1", "pp_2"]})
    assert adapter.parse_webhook(message.headers, message.body, now=SIGNED_AT).changes == ()


def test_a_webhook_without_a_signature_is_refused(adapter: AcmeEHRAdapter) -> None:
    message = signed({"event": "journal.appended", "entries": []})
    headers = {k: v for k, v in message.headers.items() if k != "webhook-signature"}
    with pytest.raises(InvalidWebhook) as caught:
        adapter.parse_webhook(headers, message.body, now=SIGNED_AT)
    assert caught.value.code == "webhook_signature_invalid"


def test_a_signed_body_the_adapter_cannot_read_is_refused_without_patient_data(
    adapter: AcmeEHRAdapter,
) -> None:
    message = signed({"event": "journal.appended", "entries": [{"staffNote": SECRET_NAME}]})
    with pytest.raises(InvalidWebhook) as caught:
        adapter.parse_webhook(message.headers, message.body, now=SIGNED_AT)
    assert caught.value.code == "webhook_unreadable"
    assert SECRET_NAME not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_without_a_webhook_secret_every_webhook_is_refused(acme_ehr: FakeAcmeEHR) -> None:
    adapter = AcmeEHRAdapter(acme_ehr.base_url, API_KEY)
    message = signed({"event": "journal.appended", "entries": []})
    with pytest.raises(InvalidWebhook) as caught:
        adapter.parse_webhook(message.headers, message.body, now=SIGNED_AT)
    assert caught.value.code == "webhook_not_configured"
    adapter.close()
