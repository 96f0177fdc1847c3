"""Every operation of the HTTP API, fuzzed from the app's own OpenAPI document (schemathesis).

Schemathesis reads ``/openapi.json`` of the real app (the booking practice of
``tests.support.booking``, on SQLite and on PostgreSQL, syncing to the in-process sandbox EHR
through the Kareo-like adapter, which verifies the EHR's notifications with the practice's
webhook secret), generates requests for every operation — schema-valid ones and deliberately
invalid ones, hostile strings included: NUL bytes, control characters, far-off dates — sends
them in process and checks every answer:

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

The routes that take an id would only ever answer 404 to generated ids, so the run first makes
what they act on (:func:`seed`) and generated requests draw its ids part of the time: a patient
kept from an appointment made in the EHR, that appointment, a widget request whose EHR sync
failed with its dead delivery, and a time block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select

from integration_core.clock import ManualClock
from integration_core.ehr.change_tables import Attendee
from integration_core.http.app import create_app
from integration_core.runtime import Runtime
from integration_core.store import Delivery, DeliveryStatus
from integration_core.testing import RuntimeFactory, drain
from plugins.ehr_kareo_like.plugin import build_adapter, inprocess_sandbox
from tests.support.booking import GROWTH, MONDAY_MORNING, PRACTICE, STAFF, booking_overrides
from tests.support.ehr_webhooks import announce, made_in_ehr, webhook_overrides
from tests.support.sandbox_ehr import API_KEY, RefusesAppointments, book_and_sync, existing_patient

STAFF_TOKEN = PRACTICE["staff_tokens"]["front_desk"]
METRICS_TOKEN = "metrics-token-for-the-fuzz-run"
UNLIMITED = "1000000/minute"

EXAMPLES = {"staff": 40, "anonymous": 10}
"""Generated requests per operation and caller, on top of schemathesis's coverage phase (each
operation's boundary and invalid values, and the methods its path does not serve, once each)."""

EXCLUDED: dict[str, str] = {}
"""Operations left out of the run, ``"METHOD /path"`` → why. Empty: every operation is fuzzed."""

# Schemathesis's default for positive_data_acceptance (a 5xx is not_a_server_error's to report);
# a business rule below adds its status to it for its operation.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

BUSINESS_RULES: dict[str, tuple[str, str]] = {
    "GET /v1/practices/{practice}/deliveries/dead": (
        "422",
        "a cursor this list did not issue is a 422 naming cursor",
    ),
    "GET /v1/practices/{practice}/portal/action-required": (
        "422",
        "a cursor this list did not issue is a 422 naming cursor",
    ),
    "GET /v1/practices/{practice}/appointments": (
        "422",
        "a cursor this list did not issue, a provider or location the practice does not have, "
        "or an end date before the start date are 422s naming the field",
    ),
    "GET /v1/practices/{practice}/patients": (
        "422",
        "a cursor this list did not issue is a 422 naming cursor",
    ),
    "PATCH /v1/practices/{practice}/patients/{patient_id}": (
        "422",
        "an email address or a mobile phone number that does not parse is a 422 naming the field",
    ),
    "GET /v1/practices/{practice}/widget/slots": (
        "422",
        "an unknown reason, location or provider, a provider who does not see patients at the "
        "location, a virtual visit for a reason that has none, end before start, more than 31 "
        "days, or dates the practice does not book are 422s naming the field",
    ),
    "POST /v1/practices/{practice}/widget/requests": (
        "422",
        "an unknown provider, location or reason, a time that is not an open slot, an email or "
        "phone number that does not parse, an implausible date of birth, a refused privacy "
        "policy, a referral source from a returning patient, or an Idempotency-Key reused with "
        "another body are 422s naming the field",
    ),
    "PUT /v1/practices/{practice}/calendars/{provider}/{location}": (
        "422",
        "a day that ends before it starts, or ranges outside the day or overlapping, are 422s "
        "naming the field",
    ),
    "GET /v1/practices/{practice}/calendars/{provider}/{location}/blocks": (
        "422",
        "a week outside the dates a calendar can show is a 422 naming week",
    ),
    "POST /v1/practices/{practice}/calendars/{provider}/{location}/blocks": (
        "422",
        "a start that is not the start of one of the calendar's slots is a 422 naming start",
    ),
    "POST /v1/practices/{practice}/ehr/changes": (
        "401",
        "its body is the EHR's notification, signed with the practice's webhook secret in "
        "webhook-* headers the schema does not describe (the signature covers the raw bytes): "
        "a request made up from the schema is never signed, so it is a 401 "
        "webhook_signature_invalid, whoever sends it",
    ),
}
"""Schema-valid requests an operation refuses by design, ``"METHOD /path"`` → (status, rule).
positive_data_acceptance stays on for these operations with the status among the answers it
accepts (401 already is: a staff route refuses the anonymous caller so); every other operation
is held to accepting schema-valid data."""

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
# and in an invalid (negative) request only with entries it refuses. The ids of what the run
# made before it starts are dictionaries too, known only then (seed()).
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
    "path.patient_id": ("patients", 0.8),
    "path.appointment_id": ("appointments", 0.8),
    "path.request_id": ("requests", 0.8),
    "path.delivery_id": ("deliveries", 0.8),
    "path.block_id": ("blocks", 0.8),
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
# Away from the slots above, so that what the run seeds takes none of them.
TUESDAY_AFTERNOON = datetime(2027, 1, 5, 20, 0, tzinfo=UTC)  # 15:00 in New York
FAILED_SYNC_START = "2027-01-05T14:00:00-05:00"
BLOCKED_START = "2027-01-05T16:00:00-05:00"


def fuzz_config(caller: str, seeded: Mapping[str, list[str]]) -> dict[str, Any]:
    """The schemathesis configuration (``schemathesis.toml``'s keys) for one caller, drawing
    ids from ``seeded`` (dictionary → ids, :func:`seed`'s).

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
            "checks": {
                "positive_data_acceptance": {"expected-statuses": sorted({*ACCEPTED, status})}
            },
        }
        for name, (status, _) in BUSINESS_RULES.items()
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
        "dictionaries": {
            name: {"values": values} for name, values in {**DICTIONARIES, **seeded}.items()
        },
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
    sandbox_url: str,
    tmp_path: Path,
) -> schemathesis.BaseSchema:
    """The real app's OpenAPI document, loaded by schemathesis with the caller's settings."""
    # schemathesis 4.32's from_fixture reads the test item's ``_nodeid``, which pytest 9.2 no
    # longer has (it keeps ``nodeid``); giving it the value keeps its subtest reports working.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    ps_clock.set(MONDAY_MORNING)
    runtime = ps_runtime_factory(
        **{
            **webhook_overrides(sandbox_url, tmp_path / "messages"),
            "metrics": {"token": METRICS_TOKEN},
            "rate_limits": {
                "per_client": UNLIMITED,
                "per_practice": UNLIMITED,
                "staff_auth_failures": UNLIMITED,
            },
        }
    )
    app = create_app(runtime)
    config = SchemathesisConfig.from_dict(fuzz_config(caller, seed(runtime, app, sandbox_url)))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def seed(runtime: Runtime, app: FastAPI, sandbox_url: str) -> dict[str, list[str]]:
    """Make what the routes taking an id act on, the way it comes about, and return its ids by
    dictionary (:data:`BINDINGS`): a widget request whose EHR sync failed (the EHR refused it), its
    appointment and its dead delivery; then, with the practice's own adapter back, an
    appointment staff made in the EHR, announced through the EHR change route, whose patient
    the booking platform keeps; and a slot of Dr. Lee's downtown calendar blocked by staff."""
    client = TestClient(app)
    store, transport = inprocess_sandbox(sandbox_url, API_KEY)
    refusing = RefusesAppointments(
        "http://sandbox-ehr", API_KEY, transport=transport, transient_retries=0
    )
    runtime.ehr.use("acme", refusing)
    failed = book_and_sync(client, runtime, start=FAILED_SYNC_START)
    runtime.ehr.use("acme", build_adapter("acme", runtime.settings))
    patient = existing_patient(store, "Rosa", "Diaz", date(1975, 6, 1))
    made = made_in_ehr("APT-FUZZ", patient, TUESDAY_AFTERNOON)
    announced = announce(client, made, message_id="msg_fuzz", at=runtime.clock.now())
    assert announced.status_code == 200, announced.text
    drain(runtime)  # the patient is read from the EHR and kept
    block = client.post(
        "/v1/practices/acme/calendars/dr_lee/downtown/blocks",
        json={"start": BLOCKED_START},
        headers=STAFF,
    )
    assert block.status_code == 201, block.text
    with runtime.db.read() as session:
        kept = session.scalars(select(Attendee)).one()
        dead = session.scalars(
            select(Delivery.id).where(Delivery.status == DeliveryStatus.DEAD)
        ).all()
    assert kept.patient_id is not None and dead
    return {
        "patients": [kept.patient_id],
        "appointments": [kept.appointment_id, failed["appointment_id"]],
        "requests": [failed["request_id"]],
        "deliveries": list(dead),
        "blocks": [block.json()["id"]],
    }


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@pytest.mark.slow
def test_every_operation_holds_to_its_contract(case: schemathesis.Case) -> None:
    """One subtest per operation; a failure shows the request as a curl command."""
    case.call_and_validate()


@pytest.fixture
def paths(ps_runtime_factory: RuntimeFactory) -> dict[str, Any]:
    """The paths of the app's OpenAPI document."""
    runtime = ps_runtime_factory(**booking_overrides())
    return dict(create_app(runtime).openapi()["paths"])


@pytest.mark.parametrize("ps_database_url", ["sqlite"], indirect=True)
def test_the_configuration_names_only_operations_the_app_serves(paths: dict[str, Any]) -> None:
    """A business rule or exclusion for a route that moved would silently stop applying."""
    served = {(method.upper(), path) for path, item in paths.items() for method in item}
    named = {tuple(name.split(" ", 1)) for name in [*BUSINESS_RULES, *EXCLUDED, "GET /metrics"]}
    assert named <= served, named - served


@pytest.mark.parametrize("ps_database_url", ["sqlite"], indirect=True)
def test_every_path_parameter_draws_on_values_the_app_knows(paths: dict[str, Any]) -> None:
    """A route taking a new kind of id would otherwise only ever answer 404 to the run."""
    parameters = {f"path.{name}" for path in paths for name in re.findall(r"\{(\w+)\}", path)}
    assert parameters <= BINDINGS.keys(), parameters - BINDINGS.keys()
