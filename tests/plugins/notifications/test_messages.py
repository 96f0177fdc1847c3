"""Who gets told what: the practice on a new request (texts without PHI), the patient once the
request is in the EHR, the practice again when a sync fails — each message once."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from integration_core.http.app import create_app
from integration_core.store import Delivery, DeliveryStatus
from integration_core.testing import drain
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from tests.support.booking import MONDAY_MORNING
from tests.support.sandbox_ehr import API_KEY, book_and_sync, sync_overrides

PHI = ["Jane", "Doe", "jane.doe", "555-0142", "5550142", "1980-02-29", "XJH123456789", "Knee"]


@pytest.fixture
def outbox(tmp_path):
    return tmp_path / "messages"


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock, sandbox_url, network, outbox):
    ps_clock.set(MONDAY_MORNING)
    overrides = copy.deepcopy(sync_overrides(sandbox_url, outbox))
    overrides["plugins"]["config"]["notifications"] = {
        "file_folder": str(outbox),
        "practices": {
            "acme": {
                "alert_emails": ["frontdesk@acme.example"],
                "alert_phones": ["+16175550999"],
                "email_channel": "file",
                "sms_channel": "file",
            }
        },
    }
    runtime = ps_runtime_factory(**overrides)
    runtime.ehr.use(
        "acme",
        KareoLikeAdapter("http://sandbox-ehr", API_KEY, transport=network, transient_retries=0),
    )
    return runtime


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def messages(outbox):
    return {
        path.name.split("-")[0] + ":" + path.read_text().splitlines()[0][4:]: path.read_text()
        for path in outbox.iterdir()
    }


def test_practice_and_patient_are_told_once_each(client, runtime, outbox):
    book_and_sync(client, runtime)
    sent = messages(outbox)
    assert set(sent) == {
        "email:frontdesk@acme.example",
        "sms:+16175550999",
        "email:jane.doe@example.com",
    }
    alert_text = sent["sms:+16175550999"]
    for value in PHI:
        assert value not in alert_text
    assert "1 appointment request(s) waiting" in alert_text
    assert "/v1/practices/acme/portal/action-required" in alert_text
    staff_email = sent["email:frontdesk@acme.example"]
    assert "Dr. Lee" in staff_email and "Tue 05 Jan 2027, 09:00 EST" in staff_email
    assert "Reason for visit: Annual checkup\n" in staff_email  # its name, not its slug
    for value in PHI:
        assert value not in staff_email
    patient_email = sent["email:jane.doe@example.com"]
    assert "Hello Jane" in patient_email and "not yet a confirmed appointment" in patient_email

    # Run every notification again, as a replay after a later failure would: nothing is sent
    # twice (the send ledger).
    with runtime.db.transaction() as session:
        notifying = list(
            session.scalars(select(Delivery).where(Delivery.plugin == "notifications"))
        )
        for row in notifying:
            row.status, row.last_error_code = DeliveryStatus.DEAD, "external_unavailable"
    assert all(runtime.runner.replay(row.id) for row in notifying)
    drain(runtime)
    assert all(runtime.runner.run(row.id) is None for row in notifying)  # done again
    assert len(list(outbox.iterdir())) == 3


def test_a_failed_sync_alerts_the_practice(client, runtime, outbox, network, ps_clock):
    network.down = True
    book_and_sync(client, runtime)
    for _ in range(int(runtime.settings.retry.window_seconds // 900) + 4):
        ps_clock.advance(seconds=900)
        runtime.tick()
        drain(runtime)
    sent = messages(outbox)
    assert "email:jane.doe@example.com" not in sent  # nothing reached the EHR: no receipt yet
    texts = [
        body
        for name, body in ((p.name, p.read_text()) for p in outbox.iterdir())
        if "needs attention" in body
    ]
    assert len(texts) == 2  # email and text to the practice
    assert all("external_unavailable" in body for body in texts)
