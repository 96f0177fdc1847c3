"""One way only: staff cancel in the booking platform (the slot is free again, the EHR's
appointment is not cancelled, the patient is not told), and release the slot of a request whose
EHR sync failed (it leaves Action Required). The EHR stays the source of truth afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from integration_core import audit
from integration_core.links import external_id
from integration_core.store import Delivery, DeliveryStatus, Event
from integration_core.testing import drain
from plugins.growth_platform.tables import SyncFailure
from tests.support.booking import STAFF, booking, slots, starts
from tests.support.sandbox_ehr import book_and_sync

PRACTICE = "/v1/practices/acme"
NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York
NINE_LOCAL = "2027-01-05T09:00:00-05:00"


def cancel(client, appointment_id: str):
    return client.post(f"{PRACTICE}/appointments/{appointment_id}/cancel", headers=STAFF)


def release(client, request_id: str):
    return client.post(f"{PRACTICE}/requests/{request_id}/release-slot", headers=STAFF)


def open_at_nine(client) -> bool:
    found = slots(client, start="2027-01-05", end="2027-01-05", provider="dr_lee")
    return NINE_LOCAL in starts(found)


def shown(client) -> list[tuple[str, str | None]]:
    items = client.get(f"{PRACTICE}/appointments", headers=STAFF).json()["items"]
    return [(item["status"], item["cancellation"]) for item in items]


def events(runtime) -> int:
    with runtime.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def test_cancelling_here_frees_the_slot_and_says_the_ehrs_appointment_stands(
    client, runtime, ehr_desk
):
    appointment = ehr_desk.announce("APT-1", start=NINE).appointment_id
    assert not open_at_nine(client)
    before = events(runtime)

    response = cancel(client, appointment)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert {k: v for k, v in answer.items() if k != "message"} == {
        "appointment_id": appointment,
        "request_id": None,
        "status": "cancelled",
        "cancellation": "cancelled_here",
        "ehr_appointment": "not_cancelled",
    }
    assert "the appointment in the EHR is NOT cancelled" in answer["message"]
    assert "patient is not told" in answer["message"]
    assert open_at_nine(client)
    assert events(runtime) == before  # nothing tells the patient or writes to the EHR
    assert shown(client) == [("cancelled", "cancelled_here")]

    again = cancel(client, appointment)
    assert (again.status_code, again.json()) == (200, answer)
    with runtime.db.read() as session:
        trail = audit.entries(session, "acme")
    assert [(e.action, e.entity, e.entity_id) for e in trail if e.action != "read"] == [
        ("cancelled_here", "appointment", appointment)
    ]


def test_the_ehr_stays_the_source_of_truth_after_a_cancel_here(client, ehr_desk):
    appointment = ehr_desk.announce("APT-1", start=NINE).appointment_id
    assert cancel(client, appointment).status_code == 200
    ehr_desk.announce("APT-1", "checked_in", start=NINE, kind="checked_in")  # it took place
    assert shown(client) == [("checked_in", None)]
    assert not open_at_nine(client)


def test_what_cannot_be_cancelled_here(client, ehr_desk):
    arrived = ehr_desk.announce("APT-1", start=NINE).appointment_id
    ehr_desk.announce("APT-1", "checked_in", start=NINE, kind="checked_in")
    gone = ehr_desk.announce("APT-2", start=NINE.replace(hour=16)).appointment_id
    ehr_desk.announce("APT-2", "cancelled", start=NINE.replace(hour=16), kind="cancelled")
    for appointment, status, code in (
        (arrived, 409, "not_cancellable"),
        (gone, 409, "already_cancelled"),
        ("apt_unknown", 404, "not_found"),
    ):
        response = cancel(client, appointment)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_a_request_of_a_practice_without_an_ehr_is_cancelled_here(client):
    sent = client.post(f"{PRACTICE}/widget/requests", json=booking()).json()
    response = cancel(client, sent["appointment_id"])
    assert response.status_code == 200, response.text
    assert (response.json()["request_id"], response.json()["ehr_appointment"]) == (
        sent["request_id"],
        "none",
    )
    assert open_at_nine(client)


def test_a_request_on_its_way_to_the_ehr_is_not_cancelled_here(refusing_ehr):
    _, client, _ = refusing_ehr
    sent = client.post(f"{PRACTICE}/widget/requests", json=booking()).json()  # not synced yet
    response = cancel(client, sent["appointment_id"])
    assert (response.status_code, response.json()["error"]["code"]) == (409, "sync_pending")


def test_a_failed_syncs_slot_is_released_and_leaves_action_required(refusing_ehr):
    runtime, client, _ = refusing_ehr
    failed = book_and_sync(client, runtime)
    (item,) = client.get(f"{PRACTICE}/portal/action-required", headers=STAFF).json()["items"]
    assert item["status"] == "sync_failed"
    refused = cancel(client, failed["appointment_id"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "sync_failed")
    assert not open_at_nine(client)

    response = release(client, failed["request_id"])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert {k: v for k, v in answer.items() if k != "message"} == {
        "appointment_id": failed["appointment_id"],
        "request_id": failed["request_id"],
        "status": "cancelled",
        "cancellation": "released",
        "ehr_appointment": "none",
    }
    assert client.get(f"{PRACTICE}/portal/action-required", headers=STAFF).json()["items"] == []
    assert shown(client) == [("cancelled", "released")]
    assert open_at_nine(client)
    with runtime.db.read() as session:
        assert session.scalars(select(SyncFailure)).all() == []  # nothing left to replay
    assert release(client, failed["request_id"]).json() == answer


def test_a_released_requests_failed_sync_replayed_writes_nothing_to_the_ehr(refusing_ehr):
    runtime, client, adapter = refusing_ehr
    failed = book_and_sync(client, runtime)
    assert release(client, failed["request_id"]).status_code == 200
    adapter.refusing = False  # the cause is fixed, and someone replays the dead sync
    with runtime.db.read() as session:
        (dead,) = session.scalars(
            select(Delivery).where(
                Delivery.plugin == "ehr_sync", Delivery.status == DeliveryStatus.DEAD
            )
        ).all()
    assert runtime.runner.replay(dead.id)
    drain(runtime)
    with runtime.db.read() as session:
        linked = external_id(
            session,
            practice_id="acme",
            entity="appointment",
            local=failed["appointment_id"],
            system="ehr",
        )
    assert linked is None
    assert shown(client) == [("cancelled", "released")]


def test_only_a_failed_syncs_slot_is_released(refusing_ehr):
    runtime, client, adapter = refusing_ehr
    adapter.refusing = False
    synced = book_and_sync(client, runtime)
    response = release(client, synced["request_id"])
    assert (response.status_code, response.json()["error"]["code"]) == (409, "sync_not_failed")
    assert (release(client, "req_unknown").status_code, open_at_nine(client)) == (404, False)
