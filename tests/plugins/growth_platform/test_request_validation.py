"""What a client sends is checked before it reaches the database or a date calculation: control
characters (a NUL byte above all, which PostgreSQL refuses), blank names, dates at the edges of
the calendar, dates that are not ISO 8601 text (a number would be read as a Unix timestamp) and
consents that are not JSON booleans are each a 422 naming the field — on the booking form, the
staff calendar API, the time blocks, the slots, All Appointments and Action Required."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from integration_core import audit
from integration_core.api import encode_cursor
from integration_core.records import Appointment, AppointmentRequest
from integration_core.store import Event
from plugins.growth_platform.tables import Calendar, TimeBlock
from tests.support.booking import STAFF, booking

URL = "/v1/practices/acme/widget/requests"
CALENDAR = "/v1/practices/acme/calendars/dr_lee/downtown"
ACTION_REQUIRED = "/v1/practices/acme/portal/action-required"
SLOTS = "/v1/practices/acme/widget/slots"
APPOINTMENTS = "/v1/practices/acme/appointments"

SINGLE_LINE_FIELDS = [
    "provider",
    "location",
    "reason",
    "first_name",
    "last_name",
    "email",
    "phone",
    "insurance_carrier",
    "insurance_member_id",
    "insurance_group",
    "heard_about",
]
NOT_BLANK_FIELDS = ["provider", "location", "reason", "first_name", "last_name", "email", "phone"]
# C0 controls, DEL, C1 controls; one-line fields also refuse every kind of line break.
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]
LINE_BREAKS = ["\n", "\r", "\t", "\r\n", "\u2028", "\u2029"]
BLANKS = [" ", "   ", "\u00a0", "\u3000", "\u200b", "\ufeff ", "\u3164"]
EDGE_DATETIMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59Z",
]
EDGE_DATES = ["0001-01-01", "0001-01-02", "9999-12-25", "9999-12-31"]
# What pydantic's lax mode would read as a Unix timestamp: a string of digits in any part of a
# request, and a JSON number in a body too.
DIGITS = ["0", "86400", "1799107200", "20270105", "86400.5", "-1"]
NUMBERS: list[Any] = [0, 86400, 1799107200, 1799107200.5, -1]
FORMS = {
    "date": "must be a date written YYYY-MM-DD",
    "date-time": (
        "must be a date and time written YYYY-MM-DDThh:mm:ss with a UTC offset (Z or ±hh:mm)"
    ),
}


def stored(runtime) -> tuple[int, int, int, int]:
    """Requests, appointments, events and time blocks in the database."""
    with runtime.db.read() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table))
            for table in (AppointmentRequest, Appointment, Event, TimeBlock)
        )


def with_char(value: str, char: str) -> str:
    return f"{value[:2]}{char}{value[2:]}"


def invalid(response, field: str) -> str:
    """The message under ``field`` of a 422 in the one error shape."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request", error
    assert field in error["fields"], error
    return str(error["fields"][field])


# --- the booking form ---------------------------------------------------------------------


@pytest.mark.parametrize("field", [*SINGLE_LINE_FIELDS, "notes"])
def test_a_nul_byte_in_any_text_field_is_a_422_naming_it(client, runtime, field):
    for value in (with_char(booking()[field], "\x00"), "\x00", f"{booking()[field]}\x00"):
        invalid(client.post(URL, json=booking(**{field: value})), field)
    assert stored(runtime) == (0, 0, 0, 0)
    assert client.post(URL, json=booking()).status_code == 201


@pytest.mark.parametrize("field", SINGLE_LINE_FIELDS)
def test_one_line_fields_refuse_control_characters_and_line_breaks(client, runtime, field):
    for char in CONTROLS + LINE_BREAKS:
        message = invalid(client.post(URL, json=booking(**{field: with_char("Jane", char)})), field)
        assert message == "must be one line without control characters", repr(char)
    assert stored(runtime) == (0, 0, 0, 0)


def test_notes_keep_line_breaks_and_tabs_and_refuse_other_controls(client, runtime):
    for char in CONTROLS:
        invalid(client.post(URL, json=booking(notes=with_char("Knee pain", char))), "notes")
    assert stored(runtime) == (0, 0, 0, 0)
    notes = "Knee pain\r\nsince the marathon\n\tworse on stairs"
    response = client.post(URL, json=booking(notes=notes))
    assert response.status_code == 201, response.text
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, response.json()["request_id"])
    assert request is not None and request.notes == notes


@pytest.mark.parametrize("field", NOT_BLANK_FIELDS)
def test_whitespace_alone_is_not_a_name(client, runtime, field):
    for blank in BLANKS:
        assert invalid(client.post(URL, json=booking(**{field: blank})), field) == (
            "must not be blank"
        ), repr(blank)
    assert stored(runtime) == (0, 0, 0, 0)


def test_names_are_stored_without_surrounding_whitespace(client, runtime):
    response = client.post(URL, json=booking(first_name="  Zoë\u00a0", last_name="\u3000Ng "))
    assert response.status_code == 201, response.text
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, response.json()["request_id"])
    assert request is not None and (request.first_name, request.last_name) == ("Zoë", "Ng")


def test_the_contract_says_names_are_one_visible_line(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["BookingBody"]
    properties = schema["properties"]
    for field in [*SINGLE_LINE_FIELDS, "notes"]:
        rule = properties[field]
        rule = next((option for option in rule.get("anyOf", []) if "pattern" in option), rule)
        assert rule["type"] == "string" and rule["maxLength"] > 0, field
        pattern = re.compile(rule["pattern"])
        assert pattern.fullmatch(booking()[field]), field
        for char in CONTROLS:
            assert not pattern.fullmatch(with_char(booking()[field], char)), (field, char)
    for field in NOT_BLANK_FIELDS:
        assert properties[field]["minLength"] == 1, field
        for blank in BLANKS:
            assert not re.fullmatch(properties[field]["pattern"], blank), (field, blank)
    notes = next(option for option in properties["notes"]["anyOf"] if "pattern" in option)
    assert re.fullmatch(notes["pattern"], "line one\r\nline two\tend")
    for field in ("privacy_consent", "sms_consent"):
        assert properties[field]["type"] == "boolean"
    assert properties["date_of_birth"]["formatMinimum"] == "1900-01-01"
    assert properties["start"]["formatMaximum"].startswith("2999-12-31")


@pytest.mark.parametrize("field", ["start", "date_of_birth"])
def test_dates_at_the_edges_of_the_calendar_are_a_422_naming_the_field(client, runtime, field):
    values = EDGE_DATETIMES if field == "start" else EDGE_DATES
    for value in values:
        invalid(client.post(URL, json=booking(**{field: value})), field)
        keyed = client.post(URL, json=booking(**{field: value}), headers={"Idempotency-Key": "k"})
        invalid(keyed, field)
    assert stored(runtime) == (0, 0, 0, 0)


@pytest.mark.parametrize("field", ["privacy_consent", "sms_consent"])
def test_consent_is_json_true_or_false_only(client, runtime, field):
    for value in ("yes", "true", "True", "on", "1", 1, 0, 1.0, "false", None, [], {}):
        invalid(client.post(URL, json=booking(**{field: value})), field)
    assert stored(runtime) == (0, 0, 0, 0)
    assert client.post(URL, json=booking(**{field: True})).status_code == 201


def test_an_idempotency_key_with_control_characters_is_a_422_naming_the_header(client, runtime):
    for char in ["\x01", "\x07", "\t", "\x1b", "\x7f"]:
        response = client.post(URL, json=booking(), headers={"Idempotency-Key": f"k{char}1"})
        assert invalid(response, "Idempotency-Key"), repr(char)
    assert stored(runtime) == (0, 0, 0, 0)
    assert client.post(URL, json=booking(), headers={"Idempotency-Key": "k-1"}).status_code == 201


# --- the staff calendar API and time blocks -----------------------------------------------


def staff_routes(provider: str, location: str, block: str = "blk_1") -> list[tuple[str, str]]:
    base = f"/v1/practices/acme/calendars/{quote(provider, safe='')}/{quote(location, safe='')}"
    return [
        ("GET", base),
        ("PUT", base),
        ("GET", f"{base}/blocks?week=2027-01-04"),
        ("POST", f"{base}/blocks"),
        ("DELETE", f"{base}/blocks/{quote(block, safe='')}"),
    ]


def staff_call(client, method: str, url: str):
    body = {"start": "2027-01-05T09:00:00-05:00"} if url.endswith("/blocks") else {}
    return client.request(
        method, url, json=body if method in ("PUT", "POST") else None, headers=STAFF
    )


def test_control_characters_in_a_path_are_a_422_naming_the_parameter(client, runtime):
    for char in ["\x00", "\x01", "\x1f", "\x7f", "\x85", "\u2028"]:
        for name, (provider, location, block) in {
            "provider": (with_char("dr_lee", char), "downtown", "blk_1"),
            "location": ("dr_lee", with_char("downtown", char), "blk_1"),
        }.items():
            for method, url in staff_routes(provider, location, block):
                invalid(staff_call(client, method, url), name)
        invalid(
            staff_call(client, "DELETE", f"{CALENDAR}/blocks/{quote('blk' + char)}"), "block_id"
        )
    for method, url in staff_routes("d" * 65, "downtown"):  # longer than any slug or id
        invalid(staff_call(client, method, url), "provider")
    assert stored(runtime) == (0, 0, 0, 0)


def test_unknown_slugs_and_ids_stay_404(client):
    unknown = [("dr_who", "downtown"), ("dr_lee", "mars"), ("DR_LEE", "downtown"), ("d" * 64, "x")]
    for provider, location in unknown:
        for method, url in staff_routes(provider, location):
            response = staff_call(client, method, url)
            assert response.status_code == 404, (method, url, response.text)
    assert client.delete(f"{CALENDAR}/blocks/blk_nope", headers=STAFF).status_code == 404


def test_a_calendar_with_control_characters_is_refused_by_field(client, runtime):
    with runtime.db.read() as session:
        before = session.scalar(select(Calendar.days).where(Calendar.provider_id == "dr_lee"))
    for change, field in [
        ({"day_start": "08:00\x00"}, "day_start"),
        ({"day_end": "\x0017:00"}, "day_end"),
        ({"days": {"mon\x00": {"enabled": True}}}, "days"),
        ({"days": {"mon": {"enabled": True, "ranges": [["09:00\x00", "10:00"]]}}}, "days"),
        ({"days": {"mon": {"enabled": True, "ranges": [["09:00", "10:00\n"]]}}}, "days"),
        ({"days": {"\x00": {"enabled": True}}}, "days"),
    ]:
        assert invalid(client.put(CALENDAR, json=change, headers=STAFF), field), change
    with runtime.db.read() as session:
        after = session.scalar(select(Calendar.days).where(Calendar.provider_id == "dr_lee"))
    assert after == before


def test_a_day_that_ends_before_it_starts_is_refused_even_without_days(client):
    before = client.get(CALENDAR, headers=STAFF).json()
    for change in (
        {"day_end": "00:00"},
        {"day_start": "18:00"},
        {"day_start": "12:00", "day_end": "12:00"},
    ):
        invalid(client.put(CALENDAR, json=change, headers=STAFF), "days")
    assert client.get(CALENDAR, headers=STAFF).json() == before


def test_a_calendars_contract_says_what_a_time_of_day_is(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    body = schemas["CalendarBody"]["properties"]
    for field in ("day_start", "day_end"):
        pattern = re.compile(body[field]["pattern"])
        assert pattern.fullmatch("08:00") and pattern.fullmatch("24:00")
        assert not pattern.fullmatch("08:00\x00") and not pattern.fullmatch("24:30")


@pytest.mark.parametrize("week", [*EDGE_DATES, "1899-12-31", "3000-01-01"])
def test_a_week_at_the_edges_of_the_calendar_is_a_422_naming_it(client, week):
    invalid(client.get(f"{CALENDAR}/blocks", params={"week": week}, headers=STAFF), "week")


def test_weeks_at_the_ends_of_the_range_are_listed(client):
    for week in ("1900-01-01", "2999-12-31", "2999-12-25"):
        response = client.get(f"{CALENDAR}/blocks", params={"week": week}, headers=STAFF)
        assert response.status_code == 200, response.text
        assert response.json() == {"items": []}


@pytest.mark.parametrize("start", EDGE_DATETIMES)
def test_a_block_at_the_edges_of_the_calendar_is_a_422_naming_its_start(client, runtime, start):
    invalid(client.post(f"{CALENDAR}/blocks", json={"start": start}, headers=STAFF), "start")
    assert stored(runtime) == (0, 0, 0, 0)


def test_a_block_late_in_the_range_is_still_a_slot_question(client, runtime):
    # Monday 31 December 2999: a slot of the calendar, far ahead but inside the range.
    start = "2999-12-30T09:00:00-05:00"
    blocked = client.post(f"{CALENDAR}/blocks", json={"start": start}, headers=STAFF)
    assert blocked.status_code == 201, blocked.text
    week = client.get(f"{CALENDAR}/blocks", params={"week": "2999-12-30"}, headers=STAFF).json()
    assert [item["start"] for item in week["items"]] == [start]


# --- Action Required ----------------------------------------------------------------------


def test_a_cursor_that_this_list_could_not_have_made_is_a_422_naming_it(client):
    assert client.post(URL, json=booking()).status_code == 201
    cursors = [
        "\x00",
        "abc\x00",
        encode_cursor("2027-01-04T13:00:00+00:00", "req\x00"),
        encode_cursor("2027-01-04T13:00:00+00:00", "req\x1b"),
        encode_cursor("2027-01-04", None),
        encode_cursor("2027-01-04T13:00:00", "req_1"),
        *(encode_cursor(moment, "req_1") for moment in EDGE_DATETIMES),
    ]
    for cursor in cursors:
        response = client.get(ACTION_REQUIRED, params={"cursor": cursor}, headers=STAFF)
        assert invalid(response, "cursor"), cursor
    ok = client.get(
        ACTION_REQUIRED,
        params={"cursor": encode_cursor("2027-01-01T00:00:00+00:00", "req_0")},
        headers=STAFF,
    )
    assert ok.status_code == 200 and len(ok.json()["items"]) == 1


# --- every date a route takes -------------------------------------------------------------

PRACTICE = "/v1/practices/{practice}"
BOOK = f"{PRACTICE}/widget/requests"
BLOCKS = f"{PRACTICE}/calendars/{{provider}}/{{location}}/blocks"
# Every date parameter and top-level body field of the app as (method, route, where, name,
# format); ``test_every_date_input_is_listed`` fails until a new one is added here.
DATE_INPUTS: list[tuple[str, str, str, str, str]] = [
    ("post", BOOK, "body", "start", "date-time"),
    ("post", BOOK, "body", "date_of_birth", "date"),
    ("get", f"{PRACTICE}/widget/slots", "query", "start", "date"),
    ("get", f"{PRACTICE}/widget/slots", "query", "end", "date"),
    ("get", BLOCKS, "query", "week", "date"),
    ("post", BLOCKS, "body", "start", "date-time"),
    ("get", f"{PRACTICE}/appointments", "query", "start", "date"),
    ("get", f"{PRACTICE}/appointments", "query", "end", "date"),
]
# A valid request of each of those routes, which one date at a time spoils.
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("post", BOOK): {"body": booking()},
    ("get", f"{PRACTICE}/widget/slots"): {"query": {"start": "2027-01-05", "end": "2027-01-06"}},
    ("get", BLOCKS): {"query": {"week": "2027-01-04"}},
    ("post", BLOCKS): {"body": {"start": "2027-01-05T09:00:00-05:00"}},
    ("get", f"{PRACTICE}/appointments"): {"query": {"start": "2027-01-05", "end": "2027-01-06"}},
}


def resolved(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return dict(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def date_formats(schema: dict[str, Any], spec: dict[str, Any]) -> set[str]:
    """The date ``format`` that ``schema``, or one of its options, has."""
    schema = resolved(schema, spec)
    found = set(FORMS) & {schema.get("format")}
    for option in schema.get("anyOf", []):
        found |= date_formats(option, spec)
    return found


def send_with(client, method: str, route: str, where: str, name: str, value: object):
    """The route's valid request with ``value`` as its ``where`` part ``name``."""
    request = VALID[(method, route)]
    url = route.format(practice="acme", provider="dr_lee", location="downtown")
    query, body = dict(request.get("query", {})), request.get("body")
    if where == "query":
        query[name] = value
    else:
        body = {**body, name: value}
    return client.request(method.upper(), url, params=query, json=body, headers=STAFF)


def test_every_date_input_is_listed(client):
    spec = client.get("/openapi.json").json()
    published = set()
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for form in date_formats(parameter["schema"], spec):
                    published.add((method, route, parameter["in"], parameter["name"], form))
            content = operation.get("requestBody", {}).get("content", {})
            body = resolved(content.get("application/json", {}).get("schema", {}), spec)
            for name, field in body.get("properties", {}).items():
                for form in date_formats(field, spec):
                    published.add((method, route, "body", name, form))
    assert published == set(DATE_INPUTS)


@pytest.mark.parametrize(("method", "route", "where", "name", "form"), DATE_INPUTS)
def test_a_timestamp_for_a_date_is_a_422_naming_it_and_the_form(
    client, runtime, method, route, where, name, form
):
    for value in DIGITS + (NUMBERS if where == "body" else []):
        response = send_with(client, method, route, where, name, value)
        assert invalid(response, name) == FORMS[form], value
    assert stored(runtime) == (0, 0, 0, 0)
    with runtime.db.read() as session:
        assert audit.entries(session, "acme") == []  # All Appointments audits only what it read
    valid = VALID[(method, route)][where][name]
    assert send_with(client, method, route, where, name, valid).is_success
