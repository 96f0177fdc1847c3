"""The staff portal's Action Required list, and the staff calendar API."""

from __future__ import annotations

from sqlalchemy import select

from integration_core import audit
from integration_core.booking import set_sync_state
from integration_core.records import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    SyncState,
)
from integration_core.store import Delivery
from integration_core.testing import drain
from plugins.growth_platform.tables import Calendar, SyncFailure
from tests.support.booking import STAFF, booking
from tests.support.sandbox_ehr import book_and_sync

ACTION_REQUIRED = "/v1/practices/acme/portal/action-required"


def submit(client, **overrides) -> dict:
    """Book, then let a second pass so requests have distinct times."""
    response = client.post("/v1/practices/acme/widget/requests", json=booking(**overrides))
    assert response.status_code == 201, response.text
    client.app.state.runtime.clock.advance(seconds=1)
    return dict(response.json())


def test_action_required_shows_what_staff_need_and_is_audited(client, runtime):
    first = submit(client)
    second = submit(
        client,
        provider="np_garcia",
        location="lakeside",
        reason="follow_up",
        virtual=True,
        start="2027-01-11T08:00:00-06:00",
        new_patient=False,
        heard_about=None,
        first_name="Ann",
        email="ann@example.com",
    )
    page = client.get(ACTION_REQUIRED, headers=STAFF)
    assert page.status_code == 200
    items = page.json()["items"]
    assert [item["request_id"] for item in items] == [first["request_id"], second["request_id"]]
    assert items[0] == {
        "kind": "request",
        "request_id": first["request_id"],
        "appointment_id": first["appointment_id"],
        "requested_start": "2027-01-05T09:00:00-05:00",
        "time_zone": "America/New_York",
        "provider": {"id": "dr_lee", "name": "Dr. Lee"},
        "location": {"id": "downtown", "name": "Downtown"},
        "reason": {"id": "checkup", "name": "Annual checkup"},
        "requested_at": "2027-01-04T13:00:00Z",
        "patient_type": "new",
        "status": "pending_request",
        "sync_error_code": None,
        "delivery_id": None,
        "patient": {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane.doe@example.com",
            "phone": "+16175550142",
        },
        "origin": "widget",
        "virtual": False,
    }
    assert items[1]["patient_type"] == "returning"
    assert items[1]["time_zone"] == "America/Chicago" and items[1]["virtual"] is True
    with runtime.db.read() as session:
        trail = audit.entries(session, "acme")
    assert [(e.actor, e.action, e.entity, e.outcome) for e in trail] == [
        ("front_desk", "read", "action_required", "2 rows")
    ]


def test_sync_failures_show_with_their_reason_and_booked_requests_leave(client, runtime):
    failed = submit(client)
    booked = submit(client, start="2027-01-05T09:30:00-05:00")
    with runtime.db.transaction() as session:
        set_sync_state(session, failed["request_id"], SyncState.SYNC_FAILED, "external_unavailable")
        appointment = session.get(Appointment, booked["appointment_id"])
        assert appointment is not None
        appointment.status = AppointmentStatus.BOOKED
    items = client.get(ACTION_REQUIRED, headers=STAFF).json()["items"]
    assert [(i["request_id"], i["status"], i["sync_error_code"]) for i in items] == [
        (failed["request_id"], "sync_failed", "external_unavailable")
    ]
    with runtime.db.transaction() as session:
        set_sync_state(session, failed["request_id"], SyncState.SYNCED)
    items = client.get(ACTION_REQUIRED, headers=STAFF).json()["items"]
    assert items[0]["status"] == "pending_request" and items[0]["sync_error_code"] is None


def test_a_sync_that_died_names_the_delivery_to_replay_and_a_replay_clears_it(refusing_ehr):
    runtime, client, adapter = refusing_ehr
    booked = book_and_sync(client, runtime)  # refused: dead at once, then sync_failed
    (dead,) = runtime.runner.dead("acme")
    assert (dead.plugin, dead.last_error_code) == ("ehr_sync", "ehr_rejected")
    (item,) = client.get(ACTION_REQUIRED, headers=STAFF).json()["items"]
    assert (item["request_id"], item["status"], item["sync_error_code"], item["delivery_id"]) == (
        booked["request_id"],
        "sync_failed",
        "ehr_rejected",
        dead.id,
    )

    # Replayed before the cause is fixed: it fails again, and the same delivery is the one.
    assert runtime.runner.replay(item["delivery_id"])
    drain(runtime)
    (again,) = client.get(ACTION_REQUIRED, headers=STAFF).json()["items"]
    assert (again["status"], again["delivery_id"]) == ("sync_failed", dead.id)

    adapter.refusing = False
    assert runtime.runner.replay(again["delivery_id"])
    drain(runtime)
    (item,) = client.get(ACTION_REQUIRED, headers=STAFF).json()["items"]
    assert (item["request_id"], item["status"], item["sync_error_code"], item["delivery_id"]) == (
        booked["request_id"],
        "pending_request",  # tentative in the EHR, waiting for staff to confirm
        None,
        None,
    )
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, booked["request_id"])
        appointment = session.get(Appointment, booked["appointment_id"])
        assert session.get(Delivery, dead.id).status.value == "done"
        assert session.scalars(select(SyncFailure)).all() == []
    assert request.sync_state is SyncState.SYNCED
    assert appointment.status is AppointmentStatus.TENTATIVE


def test_the_delivery_to_replay_is_documented_in_the_openapi_contract(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    field = schemas["ActionRequiredItem"]["properties"]["delivery_id"]
    assert "delivery_id" in schemas["ActionRequiredItem"]["required"]
    assert {"type": "string"} in field["anyOf"] and {"type": "null"} in field["anyOf"]
    assert "practice-sync dead-letters replay <delivery_id>" in field["description"]


def test_action_required_pages_with_a_cursor(client):
    made = [
        submit(client, start=f"2027-01-05T{h}:00-05:00")["request_id"]
        for h in ("09:00", "09:30", "10:00", "10:30", "11:00")
    ]
    seen, cursor = [], None
    for _ in made:  # a page holds at least one item, so there are no more pages than items
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(ACTION_REQUIRED, params=params, headers=STAFF).json()
        seen += [item["request_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made


def test_action_required_needs_a_staff_token(client):
    assert client.get(ACTION_REQUIRED).status_code == 401
    assert (
        client.get(
            ACTION_REQUIRED, headers={"Authorization": "Bearer token-front-desk-x"}
        ).status_code
        == 401
    )


def test_staff_edit_calendars_and_bad_ones_name_the_field(client, runtime):
    listed = client.get("/v1/practices/acme/calendars", headers=STAFF).json()["items"]
    assert {(c["provider"], c["location"]) for c in listed} == {
        ("dr_lee", "downtown"),
        ("dr_lee", "uptown"),
        ("dr_patel", "downtown"),
        ("np_garcia", "lakeside"),
    }
    body = {
        "slot_minutes": 15,
        "day_start": "07:00",
        "day_end": "12:00",
        "min_notice_minutes": 0,
        "horizon_days": 30,
        "days": {"tue": {"enabled": True, "ranges": [["07:00", "08:00"], ["10:00", "11:00"]]}},
    }
    saved = client.put("/v1/practices/acme/calendars/dr_patel/downtown", json=body, headers=STAFF)
    assert saved.status_code == 200
    assert saved.json()["updated_by"] == "front_desk"
    fetched = client.get("/v1/practices/acme/calendars/dr_patel/downtown", headers=STAFF).json()
    assert fetched["days"] == {
        "tue": {"enabled": True, "ranges": [["07:00", "08:00"], ["10:00", "11:00"]]}
    }
    day = client.get(
        "/v1/practices/acme/widget/slots",
        params={"start": "2027-01-05", "end": "2027-01-05", "provider": "dr_patel"},
    ).json()["slots"]
    assert len(day) == 8 and day[0]["start"] == "2027-01-05T07:00:00-05:00"

    for change, field in [
        ({"slot_minutes": 1}, "slot_minutes"),
        ({"day_start": "7am"}, "day_start"),
        ({"day_end": "06:00"}, "days"),
        (
            {
                "days": {
                    "tue": {"enabled": True, "ranges": [["07:00", "09:00"], ["08:00", "10:00"]]}
                }
            },
            "days",
        ),
        ({"days": {"tue": {"enabled": True, "ranges": [["06:00", "08:00"]]}}}, "days"),
        ({"days": {"someday": {"enabled": True}}}, "days"),
        ({"horizon_days": 0}, "horizon_days"),
    ]:
        bad = client.put(
            "/v1/practices/acme/calendars/dr_patel/downtown", json={**body, **change}, headers=STAFF
        )
        assert bad.status_code == 422, change
        assert field in bad.json()["error"]["fields"], (change, bad.json())
    assert (
        client.put(
            "/v1/practices/acme/calendars/dr_patel/uptown", json=body, headers=STAFF
        ).status_code
        == 404
    )
    with runtime.db.read() as session:
        actions = {(e.actor, e.action, e.entity) for e in audit.entries(session, "acme")}
    assert ("front_desk", "update", "calendar") in actions


def test_config_seeds_are_imported_once(client, runtime):
    body = {
        "slot_minutes": 60,
        "day_start": "10:00",
        "day_end": "12:00",
        "days": {"mon": {"enabled": True}},
    }
    assert (
        client.put(
            "/v1/practices/acme/calendars/dr_lee/uptown", json=body, headers=STAFF
        ).status_code
        == 200
    )
    runtime.migrate()  # a restart: seeds must not overwrite what staff changed
    kept = client.get("/v1/practices/acme/calendars/dr_lee/uptown", headers=STAFF).json()
    assert (kept["slot_minutes"], kept["updated_by"]) == (60, "front_desk")
    with runtime.db.read() as session:
        assert len(session.scalars(select(Calendar)).all()) == 4
