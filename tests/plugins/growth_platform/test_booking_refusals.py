"""Why a booking's start is refused. A taken slot is ``409 slot_unavailable`` whichever check
finds it; a start no one could book is a 422 with its own code and ``fields.start`` saying what
to change; calendar-edge datetimes are refused like any other, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from integration_core.records import Appointment, AppointmentStatus, Origin
from plugins.growth_platform import widget
from plugins.growth_platform.availability import (
    NotOffered,
    StartProblem,
    find_slot,
    why_not_offered,
)
from plugins.growth_platform.tables import Calendar, TimeBlock
from tests.support.booking import MONDAY_MORNING, STAFF, book, booking, put_calendar

URL = "/v1/practices/acme/widget/requests"
NEW_YORK = ZoneInfo("America/New_York")
TAKEN = {
    "code": "slot_unavailable",
    "message": "That time is taken; choose another slot.",
    "fields": {"start": "taken; choose another slot"},
}
NIGHTS = {
    "slot_minutes": 30,
    "day_start": "00:00",
    "day_end": "04:00",
    "min_notice_minutes": 0,
    "horizon_days": 365,
    "days": {day: {"enabled": True} for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


def stored(runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(Appointment))


def refused(client, runtime, status: int, code: str, **change) -> dict:
    """Post the booking with ``change``; it is refused with ``status`` and ``code``, nothing
    is stored, and the start sent is not echoed. Returns the error."""
    response = client.post(URL, json=booking(**change))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    if "start" in change:
        assert change["start"] not in response.text
    assert stored(runtime) == 0
    return error


# The 422s, each with its own code -------------------------------------------------------------


def test_a_start_in_the_past(client, runtime):
    error = refused(client, runtime, 422, "start_in_past", start="2027-01-01T09:00:00-05:00")
    assert error == {
        "code": "start_in_past",
        "message": "That time has passed; choose one of the open slots.",
        "fields": {"start": "this time has passed; choose a later slot"},
    }


def test_a_start_within_the_minimum_notice(client, runtime, ps_clock):
    ps_clock.set(datetime(2027, 1, 4, 13, 30, tzinfo=UTC))  # 08:30 in New York
    error = refused(client, runtime, 422, "too_short_notice", start="2027-01-04T09:00:00-05:00")
    assert error["fields"] == {
        "start": "bookings need 60 minutes' notice; choose a later slot",
    }
    assert error["message"] == "That time is too soon to book online; choose a later slot."
    # Exactly the notice away is bookable.
    ps_clock.set(MONDAY_MORNING)  # 08:00
    assert client.post(URL, json=booking(start="2027-01-04T09:00:00-05:00")).status_code == 201


def test_a_start_beyond_the_booking_horizon(client, runtime):
    # 60 days (the default horizon) from Monday 4 January 08:00 ends on 5 March at 08:00.
    error = refused(
        client, runtime, 422, "beyond_booking_horizon", start="2027-03-05T09:00:00-05:00"
    )
    assert error["fields"] == {
        "start": "bookings open at most 60 days ahead; choose an earlier slot",
    }
    assert client.post(URL, json=booking(start="2027-03-04T16:30:00-05:00")).status_code == 201


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        (  # the lunch break
            {"start": "2027-01-05T12:00:00-05:00"},
            "outside the hours on Tuesdays here (09:00–12:00, 13:00–17:00); "
            "choose a time within them",
        ),
        (  # the same instant, in UTC
            {"start": "2027-01-05T17:00:00Z"},
            "outside the hours on Tuesdays here (09:00–12:00, 13:00–17:00); "
            "choose a time within them",
        ),
        (  # within day_start..day_end, before the day's first range
            {"start": "2027-01-05T08:30:00-05:00"},
            "outside the hours on Tuesdays here (09:00–12:00, 13:00–17:00); "
            "choose a time within them",
        ),
        (  # the end of the day
            {"start": "2027-01-05T17:00:00-05:00"},
            "outside the hours on Tuesdays here (09:00–12:00, 13:00–17:00); "
            "choose a time within them",
        ),
        (  # a weekday whose toggle is off
            {"start": "2027-01-09T10:00:00-05:00"},
            "no bookings on Saturdays here; choose another day",
        ),
        (  # uptown: Monday and Tuesday only
            {"location": "uptown", "start": "2027-01-06T10:00:00-05:00"},
            "no bookings on Wednesdays here; choose another day",
        ),
        (  # another time zone: 08:00–16:00 in Chicago
            {"provider": "np_garcia", "location": "lakeside", "start": "2027-01-11T07:30:00-06:00"},
            "outside the hours on Mondays here (08:00–16:00); choose a time within them",
        ),
    ],
)
def test_a_start_outside_the_calendars_hours(client, runtime, change, hint):
    error = refused(client, runtime, 422, "outside_calendar_hours", **change)
    assert error["fields"] == {"start": hint}
    assert error["message"] == (
        "The provider does not see patients at that time here; choose one of the open slots."
    )


@pytest.mark.parametrize(
    ("change", "minutes"),
    [
        ({"start": "2027-01-05T09:10:00-05:00"}, 30),
        ({"start": "2027-01-05T16:45:00-05:00"}, 30),  # in the hours, but no slot fits
        ({"start": "2027-01-05T09:00:30-05:00"}, 30),
        ({"start": "2027-01-05T09:00:00.250-05:00"}, 30),
        ({"location": "uptown", "start": "2027-01-05T09:30:00-05:00"}, 20),
    ],
)
def test_a_start_off_the_slot_grid(client, runtime, change, minutes):
    error = refused(client, runtime, 422, "off_slot_grid", **change)
    assert error["fields"] == {
        "start": f"not the start of a slot (slots are {minutes} minutes long); "
        "choose a start the slots list offers"
    }
    assert error["message"] == "That is not the start of a slot; choose one of the open slots."


def test_the_repeated_hour_is_booked_at_its_first_occurrence_only(client, runtime, ps_clock):
    ps_clock.set(datetime(2027, 11, 1, tzinfo=UTC))
    put_calendar(client, "dr_lee", "downtown", NIGHTS)
    # 01:30 comes twice on 7 November in New York: first at -04:00, then at -05:00.
    refused(client, runtime, 422, "off_slot_grid", start="2027-11-07T01:30:00-05:00")
    assert client.post(URL, json=booking(start="2027-11-07T01:30:00-04:00")).status_code == 201


def test_the_start_problem_is_the_code_and_every_field_is_named(client, runtime):
    error = refused(
        client,
        runtime,
        422,
        "outside_calendar_hours",
        start="2027-01-05T12:00:00-05:00",
        email="x@",
    )
    assert set(error["fields"]) == {"start", "email"}


def test_a_provider_without_a_calendar_at_a_location(client, runtime):
    with runtime.db.transaction() as session:
        session.execute(
            delete(Calendar).where(
                Calendar.provider_id == "dr_lee", Calendar.location_id == "uptown"
            )
        )
    error = refused(
        client, runtime, 422, "invalid_request", location="uptown", start="2027-01-05T09:00-05:00"
    )
    assert error["fields"] == {"location": "this provider takes no online bookings here"}


# Taken: 409, whichever check finds it -------------------------------------------------------------


def test_a_slot_blocked_by_staff_is_taken(client, runtime):
    block = client.post(
        "/v1/practices/acme/calendars/dr_lee/downtown/blocks",
        json={"start": "2027-01-05T10:00:00-05:00"},
        headers=STAFF,
    )
    assert block.status_code == 201, block.text
    error = refused(client, runtime, 409, "slot_unavailable", start="2027-01-05T10:00:00-05:00")
    assert error == TAKEN
    # The block is the calendar's: the provider's other location is not blocked.
    moved = booking(location="uptown", start="2027-01-05T10:00:00-05:00")
    assert client.post(URL, json=moved).status_code == 201


@pytest.mark.parametrize(
    "status", [AppointmentStatus.BOOKED, AppointmentStatus.TENTATIVE, AppointmentStatus.REQUESTED]
)
def test_a_slot_taken_by_an_ehr_appointment_at_another_location(client, runtime, status):
    # A group visit in the EHR at uptown, 10:00–11:00 on Tuesday.
    book(runtime, "dr_lee", "uptown", datetime(2027, 1, 5, 15, 0, tzinfo=UTC), 60, status=status)
    response = client.post(URL, json=booking(start="2027-01-05T10:30:00-05:00"))
    assert response.status_code == 409, response.text
    assert response.json()["error"] == TAKEN


def test_a_taken_slot_is_a_409_whatever_else_is_wrong(client, runtime):
    book(runtime, "dr_lee", "downtown", datetime(2027, 1, 5, 14, 0, tzinfo=UTC), 30)
    response = client.post(URL, json=booking(email="x@"))
    assert response.status_code == 409
    assert response.json()["error"] == TAKEN


def _block(runtime, start: datetime, end: datetime) -> None:
    with runtime.db.transaction() as session:
        session.add(
            TimeBlock(
                id="blk_late",
                practice_id="acme",
                provider_id="dr_lee",
                location_id="downtown",
                start_at=start,
                end_at=end,
                created_at=runtime.clock.now(),
                created_by="front_desk",
            )
        )


def _appointment(runtime, start: datetime, end: datetime) -> None:
    book(runtime, "dr_lee", "uptown", start, int((end - start).total_seconds() // 60))


@pytest.mark.parametrize("take", [_block, _appointment], ids=["time block", "appointment"])
def test_a_slot_taken_after_the_check_is_refused_inside_the_transaction(
    client, runtime, monkeypatch, take
):
    found_open = widget.find_slot

    def taken_meanwhile(session, **kwargs):
        slot = found_open(session, **kwargs)
        take(runtime, slot.start, slot.end)  # between the check and the transaction
        return slot

    monkeypatch.setattr(widget, "find_slot", taken_meanwhile)
    response = client.post(URL, json=booking())
    assert response.status_code == 409, response.text
    assert response.json()["error"] == TAKEN
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).where(Appointment.origin == Origin.WIDGET)) == 0


def test_a_lost_race_with_an_idempotency_key_of_another_request_is_a_409(client, runtime):
    assert client.post(URL, json=booking(), headers={"Idempotency-Key": "first"}).status_code == 201
    again = client.post(
        URL, json=booking(email="other@example.com"), headers={"Idempotency-Key": "second"}
    )
    assert again.status_code == 409
    assert again.json()["error"] == TAKEN


# Calendar-edge datetimes ----------------------------------------------------------------------


EDGE_OFFSETS = ["Z", "+14:00", "-12:00", "+23:59", "-23:59"]
EDGE_STARTS = [
    ("0001-01-01T00:00:00", StartProblem.START_IN_PAST),
    ("0001-01-01T09:00:00", StartProblem.START_IN_PAST),
    ("1900-01-01T00:00:00", StartProblem.START_IN_PAST),
    ("2999-12-31T23:59:59.999999", StartProblem.BEYOND_BOOKING_HORIZON),
    ("9999-12-31T09:00:00", StartProblem.BEYOND_BOOKING_HORIZON),
    ("9999-12-31T23:59:59.999999", StartProblem.BEYOND_BOOKING_HORIZON),
]


@pytest.mark.parametrize(("moment", "problem"), EDGE_STARTS)
def test_a_start_at_the_edge_of_the_calendar_is_a_422_naming_it(client, runtime, moment, problem):
    for offset in EDGE_OFFSETS:
        for change in ({}, {"provider": "np_garcia", "location": "lakeside"}):
            response = client.post(
                URL,
                json=booking(start=moment + offset, **change),
                headers={"Idempotency-Key": f"edge{offset}{len(change)}"},
            )
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            # The body's own bounds on dates, if any, may refuse it before the calendar does.
            assert error["code"] in (problem.value, "invalid_request"), error
            assert set(error["fields"]) == {"start"}
    assert stored(runtime) == 0


@pytest.mark.parametrize(("moment", "problem"), EDGE_STARTS)
def test_finding_a_slot_at_the_edge_of_the_calendar(runtime, moment, problem):
    with runtime.db.read() as session:
        for offset in EDGE_OFFSETS:
            found = find_slot(
                session,
                practice_id="acme",
                provider_id="dr_lee",
                location_id="downtown",
                zone=NEW_YORK,
                start=datetime.fromisoformat(moment + offset),
                now=MONDAY_MORNING,
            )
            assert isinstance(found, NotOffered) and found.problem is problem, offset


# The order of the diagnosis, and the contract -----------------------------------------------------


class _Calendar:
    """Mondays 09:00–17:00 in 30-minute slots, two hours' notice, two weeks ahead."""

    provider_id = "dr_lee"
    location_id = "downtown"
    slot_minutes = 30
    day_start = "09:00"
    day_end = "17:00"
    min_notice_minutes = 120
    horizon_days = 14
    days_json = '{"mon": {"enabled": true}}'


@pytest.mark.parametrize(
    ("start", "problem"),
    [
        # A past Sunday, off the grid: that it has passed is what matters.
        ("2027-01-03T10:10:00-05:00", StartProblem.START_IN_PAST),
        # Within the notice, outside the hours and off the grid.
        ("2027-01-04T08:10:00-05:00", StartProblem.TOO_SHORT_NOTICE),
        # A Sunday, off the grid, too far ahead.
        ("2027-01-24T10:10:00-05:00", StartProblem.BEYOND_BOOKING_HORIZON),
        # The next Monday: before the hours, off the grid.
        ("2027-01-11T08:10:00-05:00", StartProblem.OUTSIDE_CALENDAR_HOURS),
        ("2027-01-11T10:10:00-05:00", StartProblem.OFF_SLOT_GRID),
        # Every rule holds: the slot is not offered because it is taken.
        ("2027-01-11T10:00:00-05:00", StartProblem.TAKEN),
    ],
)
def test_the_diagnosis_names_the_first_problem_a_patient_can_act_on(start, problem):
    found = why_not_offered(
        _Calendar(), NEW_YORK, datetime.fromisoformat(start), now=MONDAY_MORNING
    )
    assert isinstance(found, NotOffered) and found.problem is problem


def test_the_codes_are_documented_in_the_openapi_contract(client):
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/practices/{practice}/widget/requests"]["post"]
    for status in ("409", "422"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "slot_unavailable" in operation["responses"]["409"]["description"]
    for problem in StartProblem:
        assert problem.value in operation["description"]
        if problem is not StartProblem.TAKEN:
            assert f"`{problem.value}`" in operation["responses"]["422"]["description"]
