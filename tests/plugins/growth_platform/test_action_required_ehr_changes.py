"""Action Required also lists the appointments in the EHR the core could not mirror (a provider
or location not configured): one item per appointment, with the key to set, among the requests
oldest first, until the configuration knows the id or a change of the appointment applies."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from integration_core.http.app import create_app
from plugins.growth_platform.tables import UnmappedChange
from tests.support.booking import STAFF, booking, booking_overrides

ACTION_REQUIRED = "/v1/practices/acme/portal/action-required"
NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York


def items(client, **params) -> list[dict]:
    response = client.get(ACTION_REQUIRED, params=params, headers=STAFF)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_an_appointment_for_a_provider_not_configured_shows_what_to_set(
    client, runtime, ehr_desk, settle
):
    first_seen = runtime.clock.now()
    assert ehr_desk.announce("APT-X", start=NINE, provider="9999").outcome == "unmapped"
    settle()
    runtime.clock.advance(seconds=60)
    ehr_desk.announce("APT-X", start=NINE.replace(hour=15), provider="9999", kind="rescheduled")
    settle()
    (item,) = items(client)
    assert item == {
        "kind": "ehr_change",
        "id": item["id"],
        "ehr_appointment_id": "APT-X",
        "change_id": "CHG-APT-X-2",
        "reason_code": "unknown_provider",
        "ehr_id": "9999",
        "changes": 2,
        "first_seen_at": first_seen.isoformat().replace("+00:00", "Z"),
        "last_seen_at": runtime.clock.now().isoformat().replace("+00:00", "Z"),
        "configure": 'practices.acme.providers.<provider>.ehr_id = "9999"',
        "message": item["message"],
    }
    assert "not configured" in item["message"] and "next change in the EHR" in item["message"]


def test_an_unknown_location_names_the_location_key(client, ehr_desk, settle):
    ehr_desk.announce("APT-X", start=NINE, location="harbor")
    settle()
    (item,) = items(client)
    assert (item["reason_code"], item["configure"]) == (
        "unknown_location",
        'practices.acme.locations.<location>.ehr_id = "harbor"',
    )


def test_requests_and_ehr_changes_come_oldest_first_across_pages(client, runtime, ehr_desk, settle):
    order = []
    for step, time in enumerate(("10:00", "10:30", "11:00")):
        sent = client.post(
            "/v1/practices/acme/widget/requests", json=booking(start=f"2027-01-05T{time}:00-05:00")
        )
        order.append(sent.json()["request_id"])
        runtime.clock.advance(seconds=1)
        ehr_desk.announce(f"APT-X{step}", start=NINE, provider="9999")
        settle()
        runtime.clock.advance(seconds=1)
        order.append(f"APT-X{step}")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(ACTION_REQUIRED, params=params, headers=STAFF).json()
        seen += [item.get("request_id") or item["ehr_appointment_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == order


def test_the_item_leaves_once_a_change_of_the_appointment_applies(
    client, runtime, ehr_desk, ehr_patients, settle
):
    ehr_patients.enter("PAT-1")
    ehr_desk.announce("APT-X", start=NINE, provider="9999")
    settle()
    assert len(items(client)) == 1
    # Staff move it to a provider the configuration knows: that change applies.
    assert ehr_desk.announce("APT-X", start=NINE, kind="rescheduled").outcome == "applied"
    settle()
    assert items(client) == []
    with runtime.db.read() as session:
        assert session.scalars(select(UnmappedChange)).all() == []


def test_the_item_leaves_once_the_configuration_knows_the_id(
    client, ehr_desk, settle, ps_runtime_factory
):
    ehr_desk.announce("APT-X", start=NINE, provider="9999")
    settle()
    assert len(items(client)) == 1
    overrides = copy.deepcopy(booking_overrides())
    overrides["practices"]["acme"]["providers"]["dr_patel"]["ehr_id"] = "9999"
    with TestClient(create_app(ps_runtime_factory(**overrides))) as configured:
        assert items(configured) == []


def test_the_row_holds_ids_and_codes_only(runtime, ehr_desk, settle):
    ehr_desk.announce("APT-X", start=NINE, provider="9999")
    settle()
    with runtime.db.read() as session:
        (row,) = session.scalars(select(UnmappedChange)).all()
    assert set(vars(row)) - {"_sa_instance_state"} == {
        "id",
        "practice_id",
        "ehr_appointment_id",
        "change_id",
        "reason_code",
        "ehr_id",
        "changes",
        "first_seen_at",
        "last_seen_at",
    }
