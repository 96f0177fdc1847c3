"""Booking requests: validation, storage with consent, idempotency, limits, atomicity, CORS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from integration_core.http.app import create_app
from integration_core.records import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Origin,
    SyncState,
)
from integration_core.store import Delivery, Event
from tests.support.booking import (
    MONDAY_MORNING,
    booking,
    booking_overrides,
    slots,
    starts,
)

URL = "/v1/practices/acme/widget/requests"


def counts(runtime) -> tuple[int, int, int]:
    with runtime.db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(AppointmentRequest)),
            session.scalar(select(func.count()).select_from(Appointment)),
            session.scalar(select(func.count()).select_from(Event)),
        )


def test_a_valid_request_is_stored_with_its_appointment_event_and_consents(client, runtime):
    response = client.post(URL, json=booking())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "requested"
    assert (body["start"], body["end"], body["time_zone"]) == (
        "2027-01-05T09:00:00-05:00",
        "2027-01-05T09:30:00-05:00",
        "America/New_York",
    )
    # (long enough never to turn up inside a random id)
    phi = ("Jane", "Doe", "jane.doe", "555-0142", "5550142", "1980-02-29", "XJH123456789", "Knee")
    for secret in phi:
        assert secret not in response.text
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, body["request_id"])
        appointment = session.get(Appointment, body["appointment_id"])
        event = session.scalars(select(Event)).one()
    assert request is not None and appointment is not None
    assert request.phone == "+16175550142"
    assert request.email == "jane.doe@example.com"
    assert request.privacy_consent_at == MONDAY_MORNING
    assert request.privacy_policy_version == "2027-01"
    assert request.sms_consent_at == MONDAY_MORNING and request.sms_policy_version == "2027-01"
    assert request.sync_state is SyncState.PENDING
    assert (request.insurance_carrier, request.insurance_member_id, request.insurance_group) == (
        "Blue Cross",
        "XJH123456789",
        "G-100",
    )
    assert request.referral_source == "A friend"
    assert appointment.status is AppointmentStatus.REQUESTED
    assert appointment.origin is Origin.WIDGET
    assert appointment.start_at == datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
    assert (event.kind, event.payload) == (
        "request",
        {"request_id": body["request_id"], "appointment_id": body["appointment_id"]},
    )
    # The slot is gone from the widget, at both of the provider's locations.
    assert "2027-01-05T09:00:00-05:00" not in starts(
        slots(client, start="2027-01-05", end="2027-01-05", provider="dr_lee")
    )


def test_without_sms_consent_no_consent_time_is_stored(client, runtime):
    body = client.post(URL, json=booking(sms_consent=False)).json()
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, body["request_id"])
    assert (
        request is not None
        and request.sms_consent_at is None
        and request.sms_policy_version is None
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_name": "   "}, "first_name"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"email": "jane.doe@"}, "email"),
        ({"email": "not an email"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"date_of_birth": "2030-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1890-05-05"}, "date_of_birth"),
        ({"date_of_birth": "1980-02-30"}, "date_of_birth"),
        ({"sex": "unspecified"}, "sex"),
        ({"privacy_consent": False}, "privacy_consent"),
        ({"new_patient": False}, "heard_about"),
        ({"insurance_member_id": "9" * 65}, "insurance_member_id"),
        ({"insurance_group": "g" * 65}, "insurance_group"),
        ({"insurance_carrier": "c" * 121}, "insurance_carrier"),
        ({"notes": "n" * 2001}, "notes"),
        ({"start": "2027-01-05T09:00:00"}, "start"),
        ({"provider": "dr_who"}, "provider"),
        ({"location": "mars"}, "location"),
        ({"reason": "surgery"}, "reason"),
        ({"virtual": True}, "virtual"),
        ({"provider": "dr_patel", "location": "uptown"}, "location"),
    ],
)
def test_every_field_is_validated_by_name_and_nothing_is_stored(client, runtime, change, field):
    response = client.post(URL, json=booking(**change))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["fields"], error
    for value in change.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in response.text
    assert counts(runtime) == (0, 0, 0)


def test_missing_fields_are_named(client):
    body = booking()
    del body["email"], body["privacy_consent"]
    fields = client.post(URL, json=body).json()["error"]["fields"]
    assert set(fields) == {"email", "privacy_consent"}


def test_all_problems_are_reported_at_once(client):
    fields = client.post(URL, json=booking(email="x@", phone="1", privacy_consent=False)).json()[
        "error"
    ]["fields"]
    assert set(fields) == {"email", "phone", "privacy_consent"}


def test_a_returning_patient_when_the_practice_does_not_separate_them_counts_as_new(
    ps_runtime_factory, ps_clock
):
    ps_clock.set(MONDAY_MORNING)
    overrides = booking_overrides()
    growth = overrides["plugins"]["config"]["growth_platform"]
    practice = {**growth["practices"]["acme"], "separate_new_returning": False}
    overrides["plugins"] = {"config": {"growth_platform": {"practices": {"acme": practice}}}}
    runtime = ps_runtime_factory(**overrides)
    with TestClient(create_app(runtime)) as client:
        options = client.get("/v1/practices/acme/widget/options").json()
        assert options["separates_new_and_returning"] is False
        body = client.post(URL, json=booking(new_patient=False, heard_about=None)).json()
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, body["request_id"])
    assert request is not None and request.new_patient is True


def test_an_idempotent_retry_returns_the_first_answer_and_creates_nothing(client, runtime):
    headers = {"Idempotency-Key": "booking-7f3a"}
    first = client.post(URL, json=booking(), headers=headers)
    again = client.post(URL, json=booking(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert counts(runtime) == (1, 1, 1)
    other = client.post(URL, json=booking(start="2027-01-05T09:30:00-05:00"), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert counts(runtime) == (1, 1, 1)
    # The key is scoped: another key books normally.
    assert (
        client.post(
            URL, json=booking(start="2027-01-05T09:30:00-05:00"), headers={"Idempotency-Key": "k2"}
        ).status_code
        == 201
    )


def test_a_taken_slot_is_a_409(client, runtime):
    assert client.post(URL, json=booking()).status_code == 201
    # Same provider, other location, same time: no longer offered, because it is taken.
    moved = client.post(URL, json=booking(location="uptown", start="2027-01-05T09:00:00-05:00"))
    assert moved.status_code == 409
    assert moved.json()["error"] == {
        "code": "slot_unavailable",
        "message": "That time is taken; choose another slot.",
        "fields": {"start": "taken; choose another slot"},
    }
    assert counts(runtime) == (1, 1, 1)


def test_the_request_and_its_event_are_both_stored_or_neither(runtime, monkeypatch):
    def broken_emit(session, event, **kwargs):
        raise RuntimeError("the database went away mid-transaction")

    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    monkeypatch.setattr(runtime.outbox, "emit", broken_emit)
    response = client.post(URL, json=booking())
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert counts(runtime) == (0, 0, 0)
    monkeypatch.undo()
    assert client.post(URL, json=booking()).status_code == 201
    assert counts(runtime) == (1, 1, 1)
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) >= 1


def test_public_routes_are_rate_limited(ps_runtime_factory, ps_clock):
    ps_clock.set(MONDAY_MORNING)
    runtime = ps_runtime_factory(
        **booking_overrides(rate_limits={"per_client": "2/minute", "per_practice": "100/minute"})
    )
    with TestClient(create_app(runtime)) as client:
        assert client.get("/v1/practices/acme/widget/options").status_code == 200
        assert client.post(URL, json=booking()).status_code == 201
        limited = client.post(URL, json=booking(start="2027-01-05T09:30:00-05:00"))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert counts(runtime) == (1, 1, 1)


def test_widget_options(client):
    options = client.get("/v1/practices/acme/widget/options").json()
    assert options["separates_new_and_returning"] is True and options["new_patient_default"] is True
    reasons = {r["id"]: r for r in options["reasons"]}
    assert reasons["follow_up"]["virtual_allowed"] is True
    assert reasons["checkup"]["providers"] == ["dr_lee", "dr_patel", "np_garcia"]
    assert {loc["id"]: loc["time_zone"] for loc in options["locations"]}[
        "lakeside"
    ] == "America/Chicago"
    assert {p["id"] for p in options["providers"]} == {"dr_lee", "dr_patel", "np_garcia"}


def test_cors_is_per_practice(client):
    allowed = {"Origin": "https://acme.example"}
    ok = client.get("/v1/practices/acme/widget/options", headers=allowed)
    assert ok.headers["access-control-allow-origin"] == "https://acme.example"
    invalid = client.post(URL, json=booking(email="x@"), headers=allowed)
    assert invalid.status_code == 422
    assert invalid.headers["access-control-allow-origin"] == "https://acme.example"
    stranger = client.get(
        "/v1/practices/acme/widget/options", headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in stranger.headers
    preflight = client.options(
        URL,
        headers={
            **allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"]
    refused = client.options(
        URL, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
