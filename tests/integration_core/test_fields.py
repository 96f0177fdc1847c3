"""The validated field types (``integration_core.http.fields``) and how a 422 names a field
without repeating what was sent."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError, field_validator

from integration_core.api import (
    BoundedDate,
    BoundedDatetime,
    MultiLine,
    PageCursor,
    SingleLine,
    encode_cursor,
    install_error_handlers,
)

NAME = TypeAdapter(Annotated[str, SingleLine(max_length=20, not_blank=True)])
LINE = TypeAdapter(Annotated[str, SingleLine(max_length=20)])
NOTES = TypeAdapter(Annotated[str, MultiLine(max_length=100)])
DAY = TypeAdapter(BoundedDate)
MOMENT = TypeAdapter(BoundedDatetime)
CURSOR = TypeAdapter(PageCursor)

# Every kind of character a text field must refuse: C0 controls, DEL, C1 controls, Unicode
# line breaks and lone surrogates (which no encoder, PostgreSQL's included, accepts).
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
LINE_BREAKS = ["\n", "\r", "\t", "\u2028", "\u2029"]
BLANKS = ["", " ", "   ", "\u00a0", "\u3000 ", "\u200b", "\u2060\ufeff", "\u3164", "\u115f\u1160"]
EDGE_DATETIMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:00:00+01:00",  # 1899 in UTC
    "2999-12-31T23:00:00-05:00",  # 3000 in UTC
    "3000-01-01T00:00:00Z",
]
EDGE_DATES = ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-25", "9999-12-31"]
# What pydantic's lax mode would read as a Unix timestamp: numbers and strings of digits.
TIMESTAMPS: list[object] = [0, "0", 86400, "86400", 1799107200, "20270105", 1.5, "86400.5", True]
DATE_FORM = "must be a date written YYYY-MM-DD"
MOMENT_FORM = "must be a date and time written YYYY-MM-DDThh:mm:ss with a UTC offset (Z or ±hh:mm)"


def refused(adapter: TypeAdapter[Any], value: object) -> str:
    """The error type of a refused value."""
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    (error,) = caught.value.errors()
    return str(error["type"])


@pytest.mark.parametrize("char", CONTROLS + LINE_BREAKS + ["\ud800", "\udfff"])
def test_a_single_line_refuses_control_characters_and_line_breaks_anywhere(char):
    for value in (char, f"Ja{char}ne", f"Jane{char}", f"{char}Jane"):
        assert refused(LINE, value) == "control_characters", repr(value)


@pytest.mark.parametrize("char", [*CONTROLS, "\ud800"])
def test_multi_line_text_refuses_control_characters_but_tab_and_line_breaks(char):
    assert refused(NOTES, f"first line\n{char}second") == "control_characters"


def test_multi_line_text_keeps_tabs_and_line_breaks():
    text = "Knee pain\r\nsince the marathon\n\tand stairs\u2028too"
    assert NOTES.validate_python(f"  {text}  ") == text


@pytest.mark.parametrize("value", BLANKS)
def test_a_name_is_not_blank(value):
    assert refused(NAME, value) == "blank"
    assert LINE.validate_python(value) == value.strip()


def test_text_is_measured_as_sent_and_stored_stripped():
    assert NAME.validate_python("  Zoë Ng  ") == "Zoë Ng"
    assert NAME.validate_python("李小龍") == "李小龍"
    assert NAME.validate_python(" " * 5 + "x" * 10 + " " * 5) == "x" * 10
    assert refused(NAME, "x" * 21) == "string_too_long"
    assert refused(NAME, "x" * 20 + " ") == "string_too_long"  # as maxLength says
    assert refused(NAME, 42) == "string_type"


@pytest.mark.parametrize(
    ("adapter", "samples"),
    [
        (
            NAME,
            [
                "Jane",
                " Jane ",
                "Zoë",
                "a\x00",
                "   ",
                "\u3000",
                "\u200b",
                "a\nb",
                "\x1c",
                "ok\u2028",
            ],
        ),
        (LINE, ["Jane", "", "  ", "a\x00", "a\tb", "\x85", "x\u2029"]),
        (NOTES, ["a\nb", "\t", "", "a\x00", "a\x0bb", "\x7f", "a\u2028b"]),
    ],
)
def test_the_published_pattern_says_what_validation_does(adapter, samples):
    schema = adapter.json_schema()
    pattern = re.compile(schema["pattern"])  # ECMA-262 and Python agree on these classes
    for value in samples:
        try:
            adapter.validate_python(value)
            valid = True
        except ValidationError:
            valid = False
        assert (pattern.fullmatch(value) is not None) is valid, repr(value)


def test_a_names_schema_says_not_blank_and_bounded():
    schema = NAME.json_schema()
    assert schema["minLength"] == 1 and schema["maxLength"] == 20
    assert "minLength" not in LINE.json_schema()


@pytest.mark.parametrize("value", EDGE_DATETIMES)
def test_datetimes_at_the_edges_of_the_calendar_are_refused_in_any_offset(value):
    assert refused(MOMENT, value) == "date_out_of_range"


@pytest.mark.parametrize("value", EDGE_DATES)
def test_dates_at_the_edges_of_the_calendar_are_refused(value):
    assert refused(DAY, value) == "date_out_of_range"


def test_dates_and_datetimes_inside_the_range_are_kept():
    assert DAY.validate_python("1900-01-01") == date(1900, 1, 1)
    assert DAY.validate_python("2999-12-31") == date(2999, 12, 31)
    assert MOMENT.validate_python("2999-12-31T23:59:59Z") == datetime(
        2999, 12, 31, 23, 59, 59, tzinfo=UTC
    )
    assert refused(MOMENT, "2027-01-05T09:00:00") == "timezone_aware"
    assert DAY.json_schema()["formatMinimum"] == "1900-01-01"
    assert MOMENT.json_schema()["format"] == "date-time"


@pytest.mark.parametrize("value", TIMESTAMPS)
def test_a_number_or_a_string_of_digits_is_not_read_as_a_timestamp(value):
    assert refused(DAY, value) == "iso_format"
    assert refused(MOMENT, value) == "iso_format"


@pytest.mark.parametrize(
    "value", ["2027-1-5", "2027-01-05T00:00:00", "2027-01-05 ", "２０２７-01-05", None, [2027]]
)
def test_a_date_is_written_year_month_day_and_nothing_else(value):
    assert refused(DAY, value) == "iso_format"


@pytest.mark.parametrize(
    "value", ["2027-01-05", "2027-01-05 09:00:00Z", "9:00:00Z", "20270105T090000Z", None]
)
def test_a_datetime_is_an_iso_date_then_a_time(value):
    assert refused(MOMENT, value) == "iso_format"


def test_iso_text_and_python_values_are_kept():
    assert DAY.validate_python(date(2027, 1, 5)) == date(2027, 1, 5)
    assert MOMENT.validate_python("2027-01-05t09:00Z") == datetime(2027, 1, 5, 9, tzinfo=UTC)
    moment = datetime(2027, 1, 5, 9, tzinfo=UTC)
    assert MOMENT.validate_python(moment) == moment
    assert DAY.validate_json('"2027-01-05"') == date(2027, 1, 5)


def test_a_cursor_must_hold_a_sort_key_its_list_could_have_made():
    good = encode_cursor("2027-01-04T13:00:00+00:00", "req_0123")
    assert CURSOR.validate_python(good) == good
    for key in (
        ["2027-01-04T13:00:00+00:00", "req\x00"],
        ["2027-01-04T13:00:00+00:00", ""],
        ["2027-01-04T13:00:00", "req_0123"],
        ["0001-01-01T00:00:00+14:00", "req_0123"],
        ["9999-12-31T23:59:59-12:00", "req_0123"],
        ["2027-01-04", None],
        [1, 2],
        ["2027-01-04T13:00:00+00:00"],
    ):
        assert refused(CURSOR, encode_cursor(*key)) == "cursor_invalid", key
    assert refused(CURSOR, "zzz") == "cursor_invalid"
    assert refused(CURSOR, good + "\x00") == "control_characters"


# --- the 422 handler ---------------------------------------------------------------------

CANARY = "Qx7Canary"


class Echoing(BaseModel):
    """A model whose validator quotes the value, as a careless plugin's might."""

    code: str = ""
    tags: dict[str, int] = {}

    @field_validator("code")
    @classmethod
    def _quote(cls, value: str) -> str:
        if value != "ok":
            raise ValueError(f"{value!r} is not a code we know")
        return value


class Visit(BaseModel):
    day: BoundedDate
    at: BoundedDatetime | None = None


@pytest.fixture
def handler_client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    def echo(body: Echoing) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/search")
    def search(q: Annotated[str, SingleLine(max_length=50), Query()]) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/week")
    def week(start: BoundedDate, until: BoundedDatetime | None = None) -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/visit")
    def visit(body: Visit) -> dict[str, str]:
        return {"status": "ok"}

    return TestClient(app)


def test_a_message_that_repeats_the_value_is_replaced(handler_client):
    for value in (CANARY, f"{CANARY}\x00", f"x{CANARY}\n"):
        answer = handler_client.post("/echo", json={"code": value})
        assert answer.status_code == 422
        assert answer.json()["error"]["fields"] == {"code": "not valid"}
        assert CANARY.lower() not in answer.text.lower()
    # A message that does not repeat the value is kept.
    answer = handler_client.post("/echo", json={"code": 12})
    assert answer.json()["error"]["fields"] == {"code": "Input should be a valid string"}


def test_a_key_that_is_not_a_name_is_not_repeated(handler_client):
    for key in (f"{CANARY}\x00", f"{CANARY} and more", f"{CANARY}.x", "\u2028"):
        answer = handler_client.post("/echo", json={"tags": {key: "many"}})
        assert answer.status_code == 422
        assert set(answer.json()["error"]["fields"]) == {"tags"}
        assert CANARY.lower() not in answer.text.lower()
    named = handler_client.post("/echo", json={"tags": {"ok": "many"}})
    assert set(named.json()["error"]["fields"]) == {"tags.ok"}


def test_a_query_parameter_with_control_characters_is_named(handler_client):
    answer = handler_client.get("/search", params={"q": f"{CANARY}\x00"})
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_request",
        "message": "Some fields are not valid.",
        "fields": {"q": "must be one line without control characters"},
    }
    assert handler_client.get("/search", params={"q": "fine"}).status_code == 200


@pytest.mark.parametrize("value", TIMESTAMPS)
def test_a_timestamp_for_a_date_is_a_422_saying_the_form(handler_client, value):
    for params, field, form in (
        ({"start": value}, "start", DATE_FORM),
        ({"start": "2027-01-05", "until": value}, "until", MOMENT_FORM),
    ):
        answer = handler_client.get("/week", params=params)
        assert answer.status_code == 422
        assert answer.json()["error"]["fields"] == {field: form}
    for body, field, form in (
        ({"day": value}, "day", DATE_FORM),
        ({"day": "2027-01-05", "at": value}, "at", MOMENT_FORM),
    ):
        answer = handler_client.post("/visit", json=body)
        assert answer.status_code == 422
        assert answer.json()["error"]["fields"] == {field: form}
    assert handler_client.get("/week", params={"start": "2027-01-05"}).status_code == 200


def test_a_dates_contract_keeps_its_format(handler_client):
    spec = handler_client.get("/openapi.json").json()
    (start, until) = spec["paths"]["/week"]["get"]["parameters"]
    assert start["schema"]["format"] == "date"
    assert until["schema"]["anyOf"][0]["format"] == "date-time"
    visit = spec["components"]["schemas"]["Visit"]["properties"]
    assert visit["day"]["format"] == "date"
    assert visit["at"]["anyOf"][0]["format"] == "date-time"
