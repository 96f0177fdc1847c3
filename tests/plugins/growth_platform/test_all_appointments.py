"""All Appointments: widget requests and appointments made in the EHR in one list, each as the
product shows it — its time on the location's clock, the widget's reason, the status in the
product's words (a decline a cancellation that says so), its patients (a group's each in their
own status) — filtered, paged with a cursor, every read audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration_core import audit
from tests.support.booking import STAFF, booking

APPOINTMENTS = "/v1/practices/acme/appointments"
NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York


def listed(client, **params) -> list[dict]:
    response = client.get(APPOINTMENTS, params=params, headers=STAFF)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def request_at(client, **overrides) -> dict:
    response = client.post("/v1/practices/acme/widget/requests", json=booking(**overrides))
    assert response.status_code == 201, response.text
    client.app.state.runtime.clock.advance(seconds=1)
    return dict(response.json())


def test_a_widget_request_shows_as_the_patient_sent_it(client):
    sent = request_at(client)
    (item,) = listed(client)
    assert item == {
        "appointment_id": sent["appointment_id"],
        "request_id": sent["request_id"],
        "start": "2027-01-05T09:00:00-05:00",
        "end": "2027-01-05T09:30:00-05:00",
        "time_zone": "America/New_York",
        "provider": {"id": "dr_lee", "name": "Dr. Lee"},
        "location": {"id": "downtown", "name": "Downtown"},
        "reason": {"id": "checkup", "name": "Annual checkup"},
        "requested_at": "2027-01-04T13:00:00Z",
        "patient_type": "new",
        "status": "pending_request",
        "status_label": "Pending Request",
        "cancellation": None,
        "patients": [
            {
                "patient_id": None,
                "first_name": "Jane",
                "last_name": "Doe",
                "email": "jane.doe@example.com",
                "phone": "+16175550142",
                "date_of_birth": "1980-02-29",
                "status": "pending_request",
            }
        ],
        "origin": "widget",
        "group": False,
        "virtual": False,
    }


def test_an_appointment_made_in_the_ehr_shows_its_kept_patient_and_no_reason(
    client, runtime, ehr_desk, ehr_patients, settle
):
    ehr_patients.enter("PAT-1")
    applied = ehr_desk.announce("APT-1", start=NINE, minutes=45, location="uptown")
    settle()
    (item,) = listed(client)
    (patient,) = item["patients"]
    assert {k: item[k] for k in ("request_id", "reason", "requested_at", "patient_type")} == {
        "request_id": None,
        "reason": None,
        "requested_at": None,
        "patient_type": None,
    }
    assert (item["appointment_id"], item["origin"], item["group"]) == (
        applied.appointment_id,
        "ehr",
        False,
    )
    assert (item["start"], item["end"], item["location"]["name"]) == (
        "2027-01-05T09:00:00-05:00",
        "2027-01-05T09:45:00-05:00",
        "Uptown",
    )
    assert (item["status"], item["status_label"]) == ("booked", "Booked")
    assert patient["patient_id"] is not None
    assert {k: v for k, v in patient.items() if k != "patient_id"} == {
        "first_name": "Rosa",
        "last_name": "Diaz",
        "email": "rosa.diaz@example.com",
        "phone": "+16175550123",
        "date_of_birth": "1975-06-01",
        "status": "booked",
    }


def test_a_patient_not_read_from_the_ehr_yet_shows_without_details(client, ehr_desk):
    ehr_desk.announce("APT-1", start=NINE)  # its patient is read by a delivery not run yet
    (item,) = listed(client)
    assert item["patients"] == [
        {
            "patient_id": None,
            "first_name": None,
            "last_name": None,
            "email": None,
            "phone": None,
            "date_of_birth": None,
            "status": "booked",
        }
    ]


def test_a_group_lists_every_patient_in_their_own_status(client, ehr_desk, ehr_patients, settle):
    for patient, name in (("PAT-1", "Ann"), ("PAT-2", "Ben"), ("PAT-3", "Cy")):
        ehr_patients.enter(patient, first_name=name)
    group = {"PAT-1": "booked", "PAT-2": "booked", "PAT-3": "booked"}
    ehr_desk.announce("APT-G", start=NINE, minutes=60, attendees=group)
    ehr_desk.announce(
        "APT-G",
        start=NINE,
        minutes=60,
        attendees={**group, "PAT-1": "checked_out", "PAT-2": "checked_in"},
        kind="checked_in",
    )
    settle()
    (item,) = listed(client)
    assert (item["group"], item["status"]) == (True, "booked")
    assert [(p["first_name"], p["status"]) for p in item["patients"]] == [
        ("Ann", "checked_out"),
        ("Ben", "checked_in"),
        ("Cy", "booked"),
    ]


def test_every_status_in_the_products_words(client, ehr_desk):
    hour = timedelta(hours=1)
    ends = {
        "APT-B": ("booked", "booked", "Booked", None),
        "APT-I": ("checked_in", "checked_in", "Checked in", None),
        "APT-O": ("checked_out", "checked_out", "Checked out", None),
        "APT-N": ("no_show", "no_show", "No-show", None),
        "APT-C": ("cancelled", "cancelled", "Canceled", "cancelled_in_ehr"),
    }
    for offset, (appointment, (state, *_)) in enumerate(ends.items()):
        ehr_desk.announce(appointment, start=NINE + offset * hour)
        if state != "booked":
            ehr_desk.announce(appointment, state, start=NINE + offset * hour, kind=state)
    declined = request_at(client, start="2027-01-05T15:00:00-05:00")
    ehr_desk.took_over(declined["appointment_id"], "APT-D")
    ehr_desk.announce(
        "APT-D", "declined", start=NINE + 6 * hour, kind="declined", attendees={"P": "declined"}
    )
    shown = {
        (item["status"], item["status_label"], item["cancellation"]) for item in listed(client)
    }
    assert shown == {tuple(status) for _, *status in ends.values()} | {
        ("cancelled", "Canceled", "declined")  # a decline is a cancellation that says so
    }


def test_filters_by_status_provider_location_and_local_dates(client, ehr_desk):
    request_at(client)  # Dr. Lee downtown, Tuesday 09:00 New York: pending
    ehr_desk.announce("APT-P", start=NINE + timedelta(hours=1), provider="1002")  # Dr. Patel
    # NP Garcia at Lakeside, Tuesday 23:30 in Chicago: Wednesday 00:30 in New York.
    ehr_desk.announce(
        "APT-L", start=datetime(2027, 1, 6, 5, 30, tzinfo=UTC), provider="1003", location="lakeside"
    )

    def ids(**params) -> list[str]:
        return [f"{i['provider']['id']}@{i['location']['id']}" for i in listed(client, **params)]

    assert ids(status="pending_request") == ["dr_lee@downtown"]
    assert ids(status="booked") == ["dr_patel@downtown", "np_garcia@lakeside"]
    assert ids(provider="dr_patel") == ["dr_patel@downtown"]
    assert ids(location="lakeside") == ["np_garcia@lakeside"]
    # Dates are each location's own: Tuesday at Lakeside is Tuesday in Chicago.
    assert ids(start="2027-01-05", end="2027-01-05") == [
        "dr_lee@downtown",
        "dr_patel@downtown",
        "np_garcia@lakeside",
    ]
    assert ids(start="2027-01-06") == []
    assert ids(end="2027-01-04") == []


def test_a_filter_that_names_nothing_is_refused_naming_it(client):
    response = client.get(
        APPOINTMENTS,
        params={
            "provider": "dr_nobody",
            "location": "nowhere",
            "start": "2027-01-06",
            "end": "2027-01-05",
        },
        headers=STAFF,
    )
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"provider", "location", "end"}
    assert "dr_nobody" not in response.text and "nowhere" not in response.text
    unknown = client.get(APPOINTMENTS, params={"status": "tentative"}, headers=STAFF)
    assert (unknown.status_code, set(unknown.json()["error"]["fields"])) == (422, {"status"})
    timestamp = client.get(APPOINTMENTS, params={"start": "0"}, headers=STAFF)
    assert (timestamp.status_code, set(timestamp.json()["error"]["fields"])) == (422, {"start"})


@pytest.mark.parametrize("name", ["start", "end"])
def test_dates_at_the_edges_of_the_calendar_are_a_422_naming_the_parameter(client, runtime, name):
    out_of_range = "must be between 1900-01-01 and 2999-12-31"
    not_a_date = "must be a date written YYYY-MM-DD"
    week = {"start": "2027-01-04", "end": "2027-01-10"}
    for value, message in [
        ("0001-01-01", out_of_range),
        ("0001-01-02", out_of_range),
        ("1899-12-31", out_of_range),
        ("3000-01-01", out_of_range),
        ("9999-12-25", out_of_range),
        ("9999-12-31", out_of_range),
        # A time and an offset have no place in a local date, at the edges or not.
        ("0001-01-01T00:00:00+14:00", not_a_date),
        ("0001-01-01T00:00:00-12:00", not_a_date),
        ("9999-12-31T23:59:59+14:00", not_a_date),
        ("9999-12-31T23:59:59-12:00", not_a_date),
        ("2027-01-05T00:00:00Z", not_a_date),
    ]:
        for location in ({}, {"location": "uptown"}):
            params = {**week, **location, name: value}
            response = client.get(APPOINTMENTS, params=params, headers=STAFF)
            assert response.status_code == 422, (value, response.text)
            assert response.json()["error"]["fields"] == {name: message}, value
    with runtime.db.read() as session:
        assert audit.entries(session, "acme") == []
    assert listed(client, **{**week, name: "1900-01-01" if name == "start" else "2999-12-31"}) == []


def test_a_range_from_year_one_to_year_9999_names_both_ends(client):
    response = client.get(
        APPOINTMENTS, params={"start": "0001-01-01", "end": "9999-12-31"}, headers=STAFF
    )
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"start", "end"}
    assert listed(client, start="1900-01-01", end="2999-12-31") == []


def test_pages_by_start_with_a_cursor(client):
    made = [
        request_at(client, start=f"2027-01-05T{time}:00-05:00")["appointment_id"]
        for time in ("11:00", "09:00", "10:30", "09:30", "10:00")
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(APPOINTMENTS, params=params, headers=STAFF).json()
        seen += [(item["start"][11:16], item["appointment_id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [time for time, _ in seen] == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert sorted(a for _, a in seen) == sorted(made)


def test_every_read_is_audited_like_action_required(client, runtime):
    request_at(client)
    listed(client)
    listed(client, status="booked")
    with runtime.db.read() as session:
        trail = audit.entries(session, "acme")
    assert [(e.actor, e.action, e.entity, e.entity_id, e.outcome) for e in trail] == [
        ("front_desk", "read", "all_appointments", None, "0 rows"),
        ("front_desk", "read", "all_appointments", None, "1 rows"),
    ]


def test_staff_only(client):
    assert client.get(APPOINTMENTS).status_code == 401
    other = client.get(APPOINTMENTS, headers={"Authorization": "Bearer not-a-token"})
    assert other.status_code == 401
