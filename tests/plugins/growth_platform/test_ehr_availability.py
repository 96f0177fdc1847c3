"""The widget's slots follow the EHR: appointments staff make or change there take the provider's
time at every location — a group once, a confirmed length beyond the slot all of it — and a
cancellation or a decline gives it back. Every change goes through the core's apply_change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from integration_core.records import Appointment, Origin
from tests.support.booking import booking, slots, starts

TUESDAY = "2027-01-05"
NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York


def open_at(client, provider: str = "dr_lee", location: str = "downtown") -> list[str]:
    """The local times (HH:MM) of the provider's open slots on Tuesday at the location."""
    found = slots(client, start=TUESDAY, end=TUESDAY, provider=provider, location=location)
    return [start[11:16] for start in starts(found)]


def request_at(client, start: str) -> dict:
    response = client.post(
        "/v1/practices/acme/widget/requests", json=booking(start=f"{TUESDAY}T{start}:00-05:00")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_appointment_made_in_the_ehr_takes_the_provider_at_every_location(client, ehr_desk):
    assert "09:00" in open_at(client) and "09:20" in open_at(client, location="uptown")
    applied = ehr_desk.announce("APT-UP", start=NINE, minutes=30, location="uptown")
    assert applied.outcome == "applied"

    assert "09:00" not in open_at(client)  # booked uptown: not downtown either
    assert open_at(client)[:1] == ["09:30"]
    uptown = open_at(client, location="uptown")
    assert {"08:40", "09:40"} <= set(uptown) and not {"09:00", "09:20"} & set(uptown)
    assert open_at(client, provider="dr_patel")[:1] == ["09:00"]  # another provider: untouched
    taken = client.post("/v1/practices/acme/widget/requests", json=booking())
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "slot_unavailable")


def test_a_group_takes_its_time_once_and_gives_it_back_when_cancelled(client, runtime, ehr_desk):
    group = {"PAT-1": "booked", "PAT-2": "booked", "PAT-3": "booked"}
    ten = NINE + timedelta(hours=1)
    ehr_desk.announce("APT-G", start=ten, minutes=60, attendees=group)
    ehr_desk.announce(
        "APT-G",
        start=ten,
        minutes=60,
        attendees={**group, "PAT-2": "checked_in"},
        kind="checked_in",
    )
    with runtime.db.read() as session:
        made = session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.origin == Origin.EHR)
        )
    assert made == 1  # three patients, one busy interval
    assert "10:00" not in open_at(client) and "10:30" not in open_at(client)
    assert "11:00" in open_at(client)

    cancelled = {patient: "cancelled" for patient in group}
    ehr_desk.announce(
        "APT-G", "cancelled", start=ten, minutes=60, attendees=cancelled, kind="cancelled"
    )
    assert {"10:00", "10:30"} <= set(open_at(client))


def test_a_request_confirmed_longer_than_its_slot_takes_every_slot_it_covers(client, ehr_desk):
    requested = request_at(client, "09:00")
    assert "09:30" in open_at(client)
    ehr_desk.took_over(requested["appointment_id"], "APT-W")
    ehr_desk.announce("APT-W", start=NINE, minutes=75, kind="confirmed")

    downtown = open_at(client)
    assert not {"09:00", "09:30", "10:00"} & set(downtown) and "10:30" in downtown
    uptown = open_at(client, location="uptown")
    assert not {"09:00", "09:20", "09:40", "10:00"} & set(uptown) and "10:20" in uptown
    refused = client.post(
        "/v1/practices/acme/widget/requests", json=booking(start=f"{TUESDAY}T09:30:00-05:00")
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "slot_unavailable")


def test_a_declined_request_gives_its_slot_back(client, ehr_desk):
    requested = request_at(client, "09:00")
    assert "09:00" not in open_at(client)
    ehr_desk.took_over(requested["appointment_id"], "APT-W")
    ehr_desk.announce("APT-W", "declined", start=NINE, kind="declined")
    assert "09:00" in open_at(client)
    request_at(client, "09:00")  # and another patient may have it


def test_an_appointment_cancelled_in_the_ehr_gives_its_time_back(client, ehr_desk):
    ehr_desk.announce("APT-9", start=NINE, minutes=60)
    assert not {"09:00", "09:30"} & set(open_at(client))
    ehr_desk.announce("APT-9", "cancelled", start=NINE, minutes=60, kind="cancelled")
    assert {"09:00", "09:30"} <= set(open_at(client))


def test_a_moved_appointment_frees_its_old_time_and_takes_the_new(client, ehr_desk):
    ehr_desk.announce("APT-9", start=NINE)
    ehr_desk.announce("APT-9", start=NINE + timedelta(hours=2), kind="rescheduled")
    downtown = open_at(client)
    assert "09:00" in downtown and "11:00" not in downtown


def test_a_visit_that_happened_or_was_missed_still_took_its_time(client, ehr_desk):
    ehr_desk.announce("APT-9", start=NINE)
    ehr_desk.announce("APT-9", "no_show", start=NINE, kind="no_show")
    ehr_desk.announce("APT-10", start=NINE + timedelta(hours=1))
    ehr_desk.announce("APT-10", "checked_in", start=NINE + timedelta(hours=1), kind="checked_in")
    assert not {"09:00", "10:00"} & set(open_at(client))


def test_an_appointment_for_a_provider_not_configured_blocks_nothing(client, ehr_desk):
    before = open_at(client)
    assert ehr_desk.announce("APT-X", start=NINE, provider="9999").outcome == "unmapped"
    assert open_at(client) == before
