"""Validated types for what a client sends: body fields and query, path and header parameters.

Each refuses, as a 422 naming the field, what a database or a date calculation would otherwise
trip over, and says so in the OpenAPI document. Messages describe the rule, never the value.

* :class:`SingleLine` — names, ids, slugs, emails, phone numbers: at most ``max_length``
  characters as sent, no control characters (NUL above all, which PostgreSQL refuses), no line
  or paragraph separators. Surrounding whitespace is stripped once the checks have passed;
  ``not_blank`` requires something visible to remain (whitespace and invisible format
  characters alone are blank). The published ``pattern`` and ``maxLength`` are exactly the rule.
* :class:`MultiLine` — notes, feedback, review text: tab, line feed and carriage return are
  the only control characters allowed.
* :data:`BoundedDate`, :data:`BoundedDatetime` — a date, or a datetime with its UTC offset,
  written in ISO 8601 (``2027-01-05``, ``2027-01-05T09:00:00-05:00``) and between
  :data:`FIRST_DAY` and :data:`LAST_DAY` in its own offset *and* in UTC, so that converting it
  to a zone or adding a week or a year never overflows. A number, or a string of digits, is
  refused: pydantic would otherwise read it as a Unix timestamp.
* :data:`Identifier` — a slug or an id in a path or a body: one line, not blank, no longer
  than an id column. Whether it names something is the route's question (404 or 422 as
  before).
* :data:`PageCursor` — ``?cursor=`` of a list paged with
  :func:`~integration_core.http.pagination.next_cursor`: refused unless it holds a sort key
  that list could have made.

Use them as the type of a field or a parameter::

    first_name: Annotated[str, SingleLine(max_length=100, not_blank=True)]
    notes: Annotated[str, MultiLine(max_length=2000)] | None = None
    week: Annotated[BoundedDate, Query(description="first local date of the week")]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AwareDatetime, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from integration_core.http.errors import ApiError
from integration_core.http.pagination import decode_cursor

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "BoundedDate",
    "BoundedDatetime",
    "Identifier",
    "MultiLine",
    "PageCursor",
    "SingleLine",
]

FIRST_DAY = date(1900, 1, 1)
"""The earliest date a request may carry."""
LAST_DAY = date(2999, 12, 31)
"""The latest date a request may carry."""

# Character classes written so that Python's ``re`` and JSON Schema's ECMA-262 dialect read
# them alike: they are both the check and the ``pattern`` the OpenAPI document publishes.
_CONTROL = r"\x00-\x1f\x7f-\x9f"  # Unicode Cc: C0, DEL, C1
_LINE_BREAKS = r"\u2028\u2029"  # line and paragraph separators
_MULTI_LINE_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # Cc but tab, LF, CR
# Whitespace and characters that show nothing (format characters, Hangul fillers).
_INVISIBLE = (
    r" \u00a0\u00ad\u034f\u115f\u1160\u1680\u180e\u2000-\u200f\u202a-\u202f"
    r"\u205f-\u2064\u206a-\u206f\u3000\u3164\ufeff\uffa0"
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # lone halves; no encoder accepts them


class _Checked:
    """A rule in ``Annotated[…]``: pydantic parses the value, then calls ``_validate``."""

    def _validate(self, value: Any) -> Any:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))


@dataclass(frozen=True)
class _TextRule(_Checked):
    max_length: int
    not_blank: bool = False
    strip: bool = True

    _forbidden: ClassVar[str]
    _message: ClassVar[str]

    @property
    def pattern(self) -> str:
        """The rule as a JSON Schema ``pattern`` (ECMA-262, also a Python ``re`` pattern)."""
        allowed = f"[^{self._forbidden}]"
        if not self.not_blank:
            return f"^{allowed}*$"
        visible = f"[^{self._forbidden}{_INVISIBLE}]"
        return f"^{allowed}*{visible}{allowed}*$"

    def _validate(self, value: str) -> str:
        # Measured as sent, as ``maxLength`` says, and before any search of a long value.
        if len(value) > self.max_length:
            raise PydanticCustomError(
                "string_too_long",
                "at most {max_length} characters",
                {"max_length": self.max_length},
            )
        if re.search(f"[{self._forbidden}]", value) or _SURROGATE.search(value):
            raise PydanticCustomError("control_characters", self._message)
        if self.strip:
            value = value.strip()
        if self.not_blank and not re.search(f"[^{self._forbidden}{_INVISIBLE}]", value):
            raise PydanticCustomError("blank", "must not be blank")
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["maxLength"] = self.max_length
        json_schema["pattern"] = self.pattern
        if self.not_blank:
            json_schema["minLength"] = 1
        return json_schema


@dataclass(frozen=True)
class SingleLine(_TextRule):
    """One line of text: no control characters and no line breaks of any kind."""

    _forbidden = _CONTROL + _LINE_BREAKS
    _message = "must be one line without control characters"


@dataclass(frozen=True)
class MultiLine(_TextRule):
    """Free text over several lines: of the control characters, only tab, LF and CR."""

    _forbidden = _MULTI_LINE_CONTROL
    _message = "must not contain control characters other than tab and line breaks"


def _out_of_range() -> PydanticCustomError:
    return PydanticCustomError(
        "date_out_of_range",
        "must be between {first} and {last}",
        {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
    )


@dataclass(frozen=True)
class _Bounded(_Checked):
    """Keeps dates and datetimes where zone conversions and date arithmetic cannot overflow,
    and takes them from a client only as ISO 8601 text.

    Pydantic's lax mode reads a number, or a string of digits (``0``, ``"86400"``,
    ``"20270105"``), as a Unix timestamp: a date in 1970 that no client meant, and that the
    published ``format`` does not allow. So text must begin as ``written`` says before pydantic
    parses it; a ``date`` or ``datetime`` built in Python is taken as it is."""

    written: str
    """A regular expression the text must match from its start."""
    form: str
    """The form ``written`` asks for, as the message says it."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        bounded = super().__get_pydantic_core_schema__(source, handler)
        return core_schema.no_info_before_validator_function(self._written_as_iso, bounded)

    def _written_as_iso(self, value: Any) -> Any:
        if isinstance(value, date) or (
            isinstance(value, str) and re.match(self.written, value, re.ASCII)
        ):
            return value
        raise PydanticCustomError("iso_format", "must be {form}", {"form": self.form})

    def _validate(self, value: date) -> date:
        days = [value]
        if isinstance(value, datetime):
            try:
                days = [value.date(), value.astimezone(UTC).date()]
            except OverflowError:
                raise _out_of_range() from None
        if any(day < FIRST_DAY or day > LAST_DAY for day in days):
            raise _out_of_range()
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if json_schema.get("format") == "date-time":
            json_schema["formatMinimum"] = f"{FIRST_DAY.isoformat()}T00:00:00Z"
            json_schema["formatMaximum"] = f"{LAST_DAY.isoformat()}T23:59:59Z"
        else:
            json_schema["formatMinimum"] = FIRST_DAY.isoformat()
            json_schema["formatMaximum"] = LAST_DAY.isoformat()
        return json_schema


_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_DAY = _Bounded(written=_ISO_DATE + r"\Z", form="a date written YYYY-MM-DD")
# The date, then the hour and minute; seconds, a fraction and the offset are pydantic's to read.
_MOMENT = _Bounded(
    written=_ISO_DATE + r"[Tt]\d{2}:\d{2}",
    form="a date and time written YYYY-MM-DDThh:mm:ss with a UTC offset (Z or ±hh:mm)",
)

BoundedDate = Annotated[date, _DAY]
"""A plain date written ``YYYY-MM-DD``, between :data:`FIRST_DAY` and :data:`LAST_DAY`."""
BoundedDatetime = Annotated[AwareDatetime, _MOMENT]
"""A datetime written in ISO 8601 with a UTC offset, between :data:`FIRST_DAY` and
:data:`LAST_DAY` both in that offset and in UTC."""

IDENTIFIER_LENGTH = 64
Identifier = Annotated[str, SingleLine(max_length=IDENTIFIER_LENGTH, not_blank=True)]
"""A slug or an id: one line, not blank, at most 64 characters — the longest slug settings
accept and the width of every id column — so a route may look it up, or audit it, as it is.
Whether it names anything is for the route to say."""

_NOT_A_CURSOR = "not a cursor from this list"


def _page_cursor(value: str) -> str:
    try:
        at, key = decode_cursor(value, 2)
    except ApiError:
        raise PydanticCustomError("cursor_invalid", _NOT_A_CURSOR) from None
    if not isinstance(at, str) or not isinstance(key, str):
        raise PydanticCustomError("cursor_invalid", _NOT_A_CURSOR)
    try:
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("no UTC offset")
        _MOMENT._validate(moment)
        SingleLine(max_length=IDENTIFIER_LENGTH, not_blank=True)._validate(key)
    except (ValueError, PydanticCustomError):
        raise PydanticCustomError("cursor_invalid", _NOT_A_CURSOR) from None
    return value


PageCursor = Annotated[str, SingleLine(max_length=1000), AfterValidator(_page_cursor)]
"""``?cursor=`` of a list paged by (an aware datetime, an id), as ``next_cursor`` makes it."""
