"""Every operation of the HTTP API, fuzzed from the app's own OpenAPI document (schemathesis).

Schemathesis reads ``/openapi.json`` of the real app (the booking practice of
``tests.support.booking``, on SQLite and on PostgreSQL), generates requests for every operation
— schema-valid ones and deliberately invalid ones, hostile strings included: NUL bytes, control
characters, far-off dates — sends them in process and checks every answer:

* never a 5xx (``not_a_server_error``);
* a documented status code, content type and headers, and a body matching the documented
  schema (``status_code_conformance``, ``content_type_conformance``,
  ``response_headers_conformance``, ``response_schema_conformance``);
* invalid data refused with a 4xx (``negative_data_rejection``), schema-valid data not refused
  (``positive_data_acceptance``) except for the business rules the schema cannot express,
  which :data:`BUSINESS_RULES` names operation by operation, each with its reason;
* methods a path does not serve answer 405 (``unsupported_method``), and the rest of the
  checks schemathesis enables by default.

Every route the app serves takes part, routes added later included: an operation leaves the
run only through :data:`EXCLUDED`, with its reason (there is none today). Generation is
derandomized and bounded (:data:`EXAMPLES`), so a run is reproducible and quick.

Two callers: ``staff`` sends a staff token of the practice on every request (and the metrics
token to ``/metrics``), ``anonymous`` sends none, so both sides of every authorization check are
fuzzed. Rate limits are raised for the run; the clock is the booking tests' Monday morning.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from integration_core.clock import ManualClock
from integration_core.http.app import create_app
from integration_core.testing import RuntimeFactory
from tests.support.booking import GROWTH, MONDAY_MORNING, PRACTICE, booking_overrides

STAFF_TOKEN = PRACTICE["staff_tokens"]["front_desk"]
METRICS_TOKEN = "metrics-token-for-the-fuzz-run"
UNLIMITED = "1000000/minute"

EXAMPLES = {"staff": 40, "anonymous": 10}
"""Generated requests per operation and caller, on top of schemathesis's coverage phase (each
operation's boundary and invalid values, and the methods its path does not serve, once each)."""

EXCLUDED: dict[str, str] = {}
"""Operations left out of the run, ``"METHOD /path"`` → why. Empty: every operation is fuzzed."""

# Schemathesis's default for positive_data_acceptance (a 5xx is not_a_server_error's to report);
# a business rule below adds 422 to it for its operation.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

BUSINESS_RULES: dict[str, str] = {
    "GET /v1/practices/{practice}/deliveries/dead": (
        "a cursor this list did not issue is a 422 naming cursor"
    ),
    "GET /v1/practices/{practice}/portal/action-required": (
        "a cursor this list did not issue is a 422 naming cursor"
    ),
    "GET /v1/practices/{practice}/appointments": (
        "a cursor this list did not issue, a provider or location the practice does not have, "
        "or an end date before the start date are 422s naming the field"
    ),
    "GET /v1/practices/{practice}/patients": (
        "a cursor this list did not issue is a 422 naming cursor"
    ),
    "PATCH /v1/practices/{practice}/patients/{patient_id}": (
        "an email address or a mobile phone number that does not parse is a 422 naming the field"
    ),
    "GET /v1/practices/{practice}/widget/slots": (
        "an unknown reason, location or provider, a provider who does not see patients at the "
        "location, a virtual visit for a reason that has none, end before start, more than 31 "
        "days, or dates the practice does not book are 422s naming the field"
    ),
    "POST /v1/practices/{practice}/widget/requests": (
        "an unknown provider, location or reason, a time that is not an open slot, an email or "
        "phone number that does not parse, an implausible date of birth, a refused privacy "
        "policy, a referral source from a returning patient, or an Idempotency-Key reused with "
        "another body are 422s naming the field"
    ),
    "PUT /v1/practices/{practice}/calendars/{provider}/{location}": (
        "a day that ends before it starts, or ranges outside the day or overlapping, are 422s "
        "naming the field"
    ),
    "GET /v1/practices/{practice}/calendars/{provider}/{location}/blocks": (
        "a week outside the dates a calendar can show is a 422 naming week"
    ),
    "POST /v1/practices/{practice}/calendars/{provider}/{location}/blocks": (
        "a start that is not the start of one of the calendar's slots is a 422 naming start"
    ),
}
"""Schema-valid requests an operation refuses with 422 by design, ``"METHOD /path"`` → the rule.
positive_data_acceptance stays on for these operations with 422 among the answers it accepts;
every other operation is held to accepting schema-valid data."""

HOSTILE = [
    "\x00",
    "a\x00b",
    "\x1b[2J\x07",
    "\r\n",
    " \t ",
    "\u200b",
    "\u202eevil",
    "\u2028",
    "x" * 300,
    "'; DROP TABLE appointments; --",
    "../../etc/passwd",
    "%00",
]
"""Strings that have broken servers before: NUL (PostgreSQL refuses it), control and escape
characters, line and paragraph separators, whitespace and invisible characters only, a
direction override, longer than any column, SQL and path syntax."""
# The ends of what Python's dates hold and of what requests may carry, a leap day, and the
# night the clocks go forward in New York.
EDGE_DAYS = ["0001-01-01", "1900-01-01", "2000-02-29", "2999-12-31", "9999-12-31"]
EDGE_TIMES = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-12:00", "2027-03-14T02:30:00-05:00"]
_SLOTS = [f"2027-01-05T{time}:00-05:00" for time in ("09:00", "09:30", "10:00", "11:30")]

# Values the generated requests draw from part of the time (BINDINGS: parameter → dictionary,
# how often), so that they get past "no such provider" into the routes' own logic and the
# database, or carry an edge case; the rest of the time values are generated like everything
# else. A dictionary stands in for a schema-valid value only with entries the schema accepts,
# and in an invalid (negative) request only with entries it refuses.
DICTIONARIES: dict[str, list[str]] = {
    "hostile": HOSTILE,
    "practices": ["acme"],
    "providers": sorted(PRACTICE["providers"]),
    "locations": sorted(PRACTICE["locations"]),
    "reasons": sorted(GROWTH["practices"]["acme"]["reasons"]),
    # The clock is Monday 4 January 2027, 08:00 in New York; Dr. Lee sees patients downtown on
    # Tuesday morning, so a booking request or a time block for one of these slots can be
    # accepted, and a second one for the same slot refused.
    "days": ["2027-01-04", "2027-01-05", "2027-01-11", *EDGE_DAYS],
    "booking_providers": ["dr_lee"],
    "booking_locations": ["downtown"],
    "slot_starts": [*_SLOTS, *EDGE_TIMES],
    "emails": ["jane.doe@example.com"],
    "phones": ["(617) 555-0142"],
    "birth_dates": ["1980-02-29", *EDGE_DAYS],
}
BINDINGS: dict[str, tuple[str, float]] = {
    "path.practice": ("practices", 0.9),
    "path.provider": ("providers", 0.8),
    "path.location": ("locations", 0.8),
    "query.start": ("days", 0.7),
    "query.end": ("days", 0.7),
    "query.week": ("days", 0.7),
    "query.reason": ("reasons", 0.5),
    "query.provider": ("providers", 0.5),
    "query.location": ("locations", 0.5),
    "body.provider": ("booking_providers", 0.8),
    "body.location": ("booking_locations", 0.8),
    "body.reason": ("reasons", 0.8),
    "body.start": ("slot_starts", 0.8),
    "body.email": ("emails", 0.8),
    "body.phone": ("phones", 0.8),
    "body.date_of_birth": ("birth_dates", 0.8),
    "query.cursor": ("hostile", 0.3),
    # The free text of a booking request, which gets as far as the database.
    **{
        f"body.{field}": ("hostile", 0.3)
        for field in (
            "first_name",
            "last_name",
            "insurance_carrier",
            "insurance_member_id",
            "insurance_group",
            "notes",
            "heard_about",
        )
    },
}
HOSTILE_SHARE = 0.2
"""How often any other plain string parameter (in a path or a query) is one of :data:`HOSTILE`."""


def fuzz_config(caller: str) -> dict[str, Any]:
    """The schemathesis configuration (``schemathesis.toml``'s keys) for one caller.

    ``staff`` always names the practice (in every phase, so that even the coverage phase's
    boundary values reach the routes) and always accepts the privacy policy (so booking
    requests get as far as the database); ``anonymous`` leaves both to generation.
    """
    operations: list[dict[str, Any]] = [
        {"include-name": name, "enabled": False} for name in EXCLUDED
    ]
    operations += [
        {
            "include-name": name,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
        }
        for name in BUSINESS_RULES
    ]
    parameters: dict[str, Any] = {
        key: {"dictionary": name, "probability": probability}
        for key, (name, probability) in BINDINGS.items()
    }
    config: dict[str, Any] = {
        "generation": {
            "mode": "all",  # schema-valid and invalid requests
            "max-examples": EXAMPLES[caller],
            "deterministic": True,
            "database": "none",
            "allow-x00": True,
            "codec": "utf-8",
            "dictionaries": {"string": {"dictionary": "hostile", "probability": HOSTILE_SHARE}},
        },
        # A hung route fails its request instead of hanging the suite.
        "request-timeout": 10,
        "dictionaries": {name: {"values": values} for name, values in DICTIONARIES.items()},
        "parameters": parameters,
        "operations": operations,
    }
    if caller == "staff":
        parameters["path.practice"] = "acme"
        parameters["body.privacy_consent"] = True
        config["headers"] = {"Authorization": f"Bearer {STAFF_TOKEN}"}
        operations.append(
            {
                "include-name": "GET /metrics",
                "headers": {"Authorization": f"Bearer {METRICS_TOKEN}"},
            }
        )
    return config


@pytest.fixture(params=["staff", "anonymous"])
def caller(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api_schema(
    request: pytest.FixtureRequest,
    caller: str,
    ps_runtime_factory: RuntimeFactory,
    ps_clock: ManualClock,
) -> schemathesis.BaseSchema:
    """The real app's OpenAPI document, loaded by schemathesis with the caller's settings."""
    # schemathesis 4.32's from_fixture reads the test item's ``_nodeid``, which pytest 9.2 no
    # longer has (it keeps ``nodeid``); giving it the value keeps its subtest reports working.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    ps_clock.set(MONDAY_MORNING)
    runtime = ps_runtime_factory(
        **booking_overrides(
            metrics={"token": METRICS_TOKEN},
            rate_limits={
                "per_client": UNLIMITED,
                "per_practice": UNLIMITED,
                "staff_auth_failures": UNLIMITED,
            },
        )
    )
    app = create_app(runtime)
    config = SchemathesisConfig.from_dict(fuzz_config(caller))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@pytest.mark.slow
def test_every_operation_holds_to_its_contract(case: schemathesis.Case) -> None:
    """One subtest per operation; a failure shows the request as a curl command."""
    case.call_and_validate()


@pytest.mark.parametrize("ps_database_url", ["sqlite"], indirect=True)
def test_the_configuration_names_only_operations_the_app_serves(
    ps_runtime_factory: RuntimeFactory,
) -> None:
    """A business rule or exclusion for a route that moved would silently stop applying."""
    runtime = ps_runtime_factory(**booking_overrides())
    paths = create_app(runtime).openapi()["paths"]
    served = {(method.upper(), path) for path, item in paths.items() for method in item}
    named = {tuple(name.split(" ", 1)) for name in [*BUSINESS_RULES, *EXCLUDED, "GET /metrics"]}
    assert named <= served, named - served
