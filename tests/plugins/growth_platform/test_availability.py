"""Slots: calendars, breaks, toggles, notice, horizon, blocks, busy providers, time zones, DST,
and dates at the edges of the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from integration_core.records import AppointmentStatus
from plugins.growth_platform.availability import open_slots
from tests.support.booking import MONDAY_MORNING, STAFF, book, put_calendar, slots, starts

TELEHEALTH_NIGHTS = {
    "slot_minutes": 30,
    "day_start": "00:00",
    "day_end": "04:00",
    "min_notice_minutes": 0,
    "horizon_days": 365,
    "days": {day: {"enabled": True} for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
ORDINARY = {
    "slot_minutes": 30,
    "day_start": "09:00",
    "day_end": "17:00",
    "min_notice_minutes": 0,
    "horizon_days": 365,
    "days": {day: {"enabled": True} for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


def test_a_weekday_with_a_lunch_break(client):
    found = slots(client, start="2027-01-05", end="2027-01-05", provider="dr_patel")
    assert starts(found)[:2] == ["2027-01-05T09:00:00-05:00", "2027-01-05T09:30:00-05:00"]
    assert "2027-01-05T12:00:00-05:00" not in starts(found)
    assert "2027-01-05T12:30:00-05:00" not in starts(found)
    assert starts(found)[-1] == "2027-01-05T16:30:00-05:00"
    assert len(found) == 14  # 6 before lunch, 8 after
    assert found[0] == {
        "provider": "dr_patel",
        "location": "downtown",
        "start": "2027-01-05T09:00:00-05:00",
        "end": "2027-01-05T09:30:00-05:00",
        "time_zone": "America/New_York",
    }


def test_weekday_toggles_and_whole_day_ranges(client):
    # dr_lee at uptown: Monday and Tuesday on, no ranges → day_start..day_end in 20-minute slots.
    uptown = slots(
        client, start="2027-01-05", end="2027-01-09", provider="dr_lee", location="uptown"
    )
    days = {slot["start"][:10] for slot in uptown}
    assert days == {"2027-01-05"}  # of Tuesday to Saturday, only Tuesday is on
    assert len(uptown) == 27  # 08:00–17:00 in 20-minute slots
    # np_garcia's Saturday toggle is off.
    assert slots(client, start="2027-01-09", end="2027-01-09", provider="np_garcia") == []


def test_minimum_notice_past_slots_and_horizon(client, ps_clock):
    ps_clock.set(datetime(2027, 1, 4, 15, 10, tzinfo=UTC))  # 10:10 in New York
    today = starts(slots(client, start="2027-01-04", end="2027-01-04", provider="dr_patel"))
    # 60 minutes' notice from 10:10 → the first bookable slot is 11:30.
    assert today[0] == "2027-01-04T11:30:00-05:00"
    # The 60-day horizon (the default): 5 March is in, 8 March is out.
    assert slots(client, start="2027-03-05", end="2027-03-05", provider="dr_patel")
    assert slots(client, start="2027-03-08", end="2027-03-08", provider="dr_patel") == []


def test_another_time_zone(client):
    lakeside = slots(client, start="2027-01-11", end="2027-01-11", provider="np_garcia")
    assert lakeside[0]["start"] == "2027-01-11T08:00:00-06:00"
    assert lakeside[0]["time_zone"] == "America/Chicago"
    assert lakeside[-1]["start"] == "2027-01-11T15:30:00-06:00"


def test_dst_days_with_ordinary_hours(client, ps_clock):
    ps_clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    put_calendar(client, "dr_patel", "downtown", ORDINARY)
    spring = starts(slots(client, start="2027-03-14", end="2027-03-14", provider="dr_patel"))
    assert len(spring) == 16
    assert spring[0] == "2027-03-14T09:00:00-04:00"
    ps_clock.set(datetime(2027, 11, 1, tzinfo=UTC))
    autumn = starts(slots(client, start="2027-11-07", end="2027-11-07", provider="dr_patel"))
    assert len(autumn) == 16
    assert autumn[0] == "2027-11-07T09:00:00-05:00"


def test_the_missing_hour_has_no_slots(client, ps_clock):
    ps_clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    put_calendar(client, "dr_lee", "downtown", TELEHEALTH_NIGHTS)
    night = starts(
        slots(client, start="2027-03-14", end="2027-03-14", provider="dr_lee", location="downtown")
    )
    assert night == [
        "2027-03-14T00:00:00-05:00",
        "2027-03-14T00:30:00-05:00",
        "2027-03-14T01:00:00-05:00",
        "2027-03-14T01:30:00-05:00",
        "2027-03-14T03:00:00-04:00",
        "2027-03-14T03:30:00-04:00",
    ]


def test_the_repeated_hour_offers_each_wall_clock_slot_once(client, ps_clock):
    ps_clock.set(datetime(2027, 11, 1, tzinfo=UTC))
    put_calendar(client, "dr_lee", "downtown", TELEHEALTH_NIGHTS)
    night = slots(
        client, start="2027-11-07", end="2027-11-07", provider="dr_lee", location="downtown"
    )
    assert starts(night) == [
        "2027-11-07T00:00:00-04:00",
        "2027-11-07T00:30:00-04:00",
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:30:00-04:00",
        "2027-11-07T02:00:00-05:00",
        "2027-11-07T02:30:00-05:00",
        "2027-11-07T03:00:00-05:00",
        "2027-11-07T03:30:00-05:00",
    ]
    instants = [datetime.fromisoformat(s).astimezone(UTC) for s in starts(night)]
    assert len(set(instants)) == len(instants)
    for slot in night:  # each slot lasts 30 real minutes
        length = datetime.fromisoformat(slot["end"]) - datetime.fromisoformat(slot["start"])
        assert length == timedelta(minutes=30)


def test_time_blocks_remove_and_restore_exactly_their_slots(client):
    before = starts(slots(client, start="2027-01-05", end="2027-01-05", provider="dr_patel"))
    blocked = []
    for start in ("2027-01-05T10:00:00-05:00", "2027-01-05T14:30:00-05:00"):
        response = client.post(
            "/v1/practices/acme/calendars/dr_patel/downtown/blocks",
            json={"start": start},
            headers=STAFF,
        )
        assert response.status_code == 201, response.text
        blocked.append(response.json()["id"])
    again = client.post(
        "/v1/practices/acme/calendars/dr_patel/downtown/blocks",
        json={"start": "2027-01-05T10:00:00-05:00"},
        headers=STAFF,
    )
    assert again.status_code == 200 and again.json()["id"] == blocked[0]
    during = starts(slots(client, start="2027-01-05", end="2027-01-05", provider="dr_patel"))
    assert sorted(set(before) - set(during)) == [
        "2027-01-05T10:00:00-05:00",
        "2027-01-05T14:30:00-05:00",
    ]
    assert set(during) <= set(before)
    week = client.get(
        "/v1/practices/acme/calendars/dr_patel/downtown/blocks",
        params={"week": "2027-01-04"},
        headers=STAFF,
    ).json()["items"]
    assert [b["start"] for b in week] == ["2027-01-05T10:00:00-05:00", "2027-01-05T14:30:00-05:00"]

    assert (
        client.delete(
            f"/v1/practices/acme/calendars/dr_patel/downtown/blocks/{blocked[0]}", headers=STAFF
        ).status_code
        == 204
    )
    after = starts(slots(client, start="2027-01-05", end="2027-01-05", provider="dr_patel"))
    assert sorted(set(before) - set(after)) == ["2027-01-05T14:30:00-05:00"]
    missing = client.delete(
        f"/v1/practices/acme/calendars/dr_patel/downtown/blocks/{blocked[0]}", headers=STAFF
    )
    assert missing.status_code == 404


def test_a_block_must_be_a_slot_of_the_calendar(client):
    off_grid = client.post(
        "/v1/practices/acme/calendars/dr_patel/downtown/blocks",
        json={"start": "2027-01-05T10:10:00-05:00"},
        headers=STAFF,
    )
    assert off_grid.status_code == 422
    assert off_grid.json()["error"]["fields"] == {
        "start": "not the start of a slot of this calendar"
    }


def test_a_busy_provider_loses_slots_at_every_location_whatever_the_origin(client, runtime):
    # An EHR appointment (a group visit, say) at uptown 10:00–11:00 on Tuesday.
    book(runtime, "dr_lee", "uptown", datetime(2027, 1, 5, 15, 0, tzinfo=UTC), 60)
    downtown = starts(
        slots(client, start="2027-01-05", end="2027-01-05", provider="dr_lee", location="downtown")
    )
    assert "2027-01-05T09:30:00-05:00" in downtown
    assert "2027-01-05T10:00:00-05:00" not in downtown
    assert "2027-01-05T10:30:00-05:00" not in downtown
    assert "2027-01-05T11:00:00-05:00" in downtown
    # Another provider is not affected.
    assert "2027-01-05T10:00:00-05:00" in starts(
        slots(client, start="2027-01-05", end="2027-01-05", provider="dr_patel")
    )


def test_overlapping_ehr_appointments_and_cancelled_ones(client, runtime):
    book(runtime, "dr_patel", "downtown", datetime(2027, 1, 5, 14, 0, tzinfo=UTC), 45)
    book(
        runtime, "dr_patel", "downtown", datetime(2027, 1, 5, 14, 30, tzinfo=UTC), 60
    )  # overlaps the first
    book(
        runtime,
        "dr_patel",
        "downtown",
        datetime(2027, 1, 5, 19, 0, tzinfo=UTC),
        30,
        status=AppointmentStatus.CANCELLED,
    )
    day = starts(slots(client, start="2027-01-05", end="2027-01-05", provider="dr_patel"))
    for taken in ("09:00", "09:30", "10:00"):
        assert f"2027-01-05T{taken}:00-05:00" not in day
    assert "2027-01-05T10:30:00-05:00" in day
    assert "2027-01-05T14:00:00-05:00" in day  # the cancelled one frees its slot


def test_filters_by_reason_location_and_virtual_visit(client):
    everyone = slots(client, start="2027-01-05", end="2027-01-05")
    assert {s["provider"] for s in everyone} == {
        "dr_lee",
        "dr_patel",
    }  # np_garcia is off on Tuesdays
    follow_up = slots(client, start="2027-01-05", end="2027-01-05", reason="follow_up")
    assert {s["provider"] for s in follow_up} == {"dr_lee"}
    virtual = slots(
        client, start="2027-01-11", end="2027-01-11", reason="follow_up", virtual="true"
    )
    assert {s["provider"] for s in virtual} == {"dr_lee", "np_garcia"}
    not_virtual = client.get(
        "/v1/practices/acme/widget/slots",
        params={"start": "2027-01-05", "end": "2027-01-05", "reason": "checkup", "virtual": "true"},
    )
    assert not_virtual.status_code == 422
    assert not_virtual.json()["error"]["fields"] == {
        "virtual": "this reason cannot be booked as a virtual visit"
    }
    uptown = slots(client, start="2027-01-05", end="2027-01-05", location="uptown")
    assert {s["location"] for s in uptown} == {"uptown"}


def test_bad_ranges_name_the_field(client):
    for params, field in [
        ({"start": "2027-01-05", "end": "2027-01-04"}, "end"),
        ({"start": "2027-01-05", "end": "2027-03-05"}, "end"),
        ({"start": "2027-01-05", "end": "2027-01-05", "provider": "dr_who"}, "provider"),
        ({"start": "2027-01-05", "end": "2027-01-05", "location": "mars"}, "location"),
        ({"start": "2027-01-05", "end": "2027-01-05", "reason": "surgery"}, "reason"),
        ({"start": "tomorrow", "end": "2027-01-05"}, "start"),
    ]:
        response = client.get("/v1/practices/acme/widget/slots", params=params)
        assert response.status_code == 422, params
        assert field in response.json()["error"]["fields"], params
    assert (
        client.get(
            "/v1/practices/globex/widget/slots", params={"start": "2027-01-05", "end": "2027-01-05"}
        ).status_code
        == 404
    )


def test_a_fixed_number_of_queries_whatever_the_number_of_providers(client, runtime):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        slots(client, start="2027-01-05", end="2027-01-11", provider="dr_patel")
        one = len(statements)
        statements.clear()
        slots(client, start="2027-01-05", end="2027-02-03")
        everyone = len(statements)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    assert one == everyone == 2  # calendars, then blocks and appointments together


OUT_OF_RANGE = "must be between 1900-01-01 and 2999-12-31"
OUT_OF_REACH = "must be within 366 days of today"
NOT_A_DATE = "must be a date written YYYY-MM-DD"


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        (
            {"start": "0001-01-01", "end": "0001-01-01"},
            {"start": OUT_OF_RANGE, "end": OUT_OF_RANGE},
        ),
        ({"start": "0001-01-01", "end": "2027-01-05"}, {"start": OUT_OF_RANGE}),
        (
            {"start": "9999-12-31", "end": "9999-12-31"},
            {"start": OUT_OF_RANGE, "end": OUT_OF_RANGE},
        ),
        ({"start": "2027-01-05", "end": "9999-12-31"}, {"end": OUT_OF_RANGE}),
        (
            {"start": "9999-12-30", "end": "0001-01-02"},
            {"start": OUT_OF_RANGE, "end": OUT_OF_RANGE},
        ),
        (
            {"start": "1900-01-01", "end": "2999-12-31"},
            {"start": OUT_OF_REACH, "end": OUT_OF_REACH},
        ),
        (
            {"start": "2028-01-06", "end": "2028-01-07"},
            {"start": OUT_OF_REACH, "end": OUT_OF_REACH},
        ),
        # Numbers that pydantic would read as Unix timestamps (1970 and 2027).
        ({"start": "0", "end": "2027-01-05"}, {"start": NOT_A_DATE}),
        ({"start": "86400", "end": "1799107200"}, {"start": NOT_A_DATE, "end": NOT_A_DATE}),
        ({"start": "2027-01-05", "end": "1799107200"}, {"end": NOT_A_DATE}),
    ],
)
def test_slots_at_the_edge_of_the_calendar_name_the_parameter(client, params, fields):
    for extra in ({}, {"provider": "np_garcia"}, {"location": "uptown", "reason": "follow_up"}):
        response = client.get("/v1/practices/acme/widget/slots", params={**params, **extra})
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {
            "code": "invalid_request",
            "message": "Some fields are not valid.",
            "fields": fields,
        }


def test_slots_a_year_either_way_are_answered(client):
    for start in ("2026-01-04", "2028-01-04"):
        response = client.get(
            "/v1/practices/acme/widget/slots", params={"start": start, "end": start}
        )
        assert (response.status_code, response.json()) == (200, {"slots": []})


def test_open_slots_on_any_dates_lays_out_only_the_bookable_ones(runtime):
    def found(first: date, last: date) -> list:
        with runtime.db.read() as session:
            return open_slots(
                session,
                practice_id="acme",
                zones={"downtown": ZoneInfo("America/New_York")},
                first_day=first,
                last_day=last,
                now=MONDAY_MORNING,
                providers=["dr_lee"],
                locations=["downtown"],
            )

    assert found(date.min, date(1, 1, 31)) == []
    assert found(date(9999, 12, 1), date.max) == []
    bookable = found(date(2027, 1, 3), date(2027, 3, 6))  # the 60-day horizon, a day each side
    assert bookable and found(date.min, date.max) == bookable
