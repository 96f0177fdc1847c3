"""No answer repeats what was submitted: a distinctive canary, made invalid every way a field
can be (control characters, too long, the wrong JSON type, an unknown slug), is sent in each
parameter and body field of every route the server publishes, staff routes included. Each
answer is a client error, never a 500, and the canary appears nowhere in it; a 422 names the
parameter or field the canary spoiled, and no other."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.support.booking import MONDAY_MORNING, STAFF, booking, booking_overrides

CANARY = "Qx7Canary"
# Made invalid for any text field: a NUL byte, other control characters, a line break in a
# one-line field, longer than any field allows.
TEXT_CANARIES = [f"{CANARY}\x00", f"\x01{CANARY}", f"{CANARY}\x1b[0m", f"{CANARY}\n", CANARY * 250]
# Invalid as they are where a field is a slug, a format, a number, a boolean or a choice.
PLAIN_CANARIES = [CANARY, f"{CANARY}-2027-01-05", f"{CANARY}@"]
JSON_CANARIES: list[Any] = [[CANARY], {"value": CANARY}]

PRACTICE = "/v1/practices/{practice}"
# A valid request for each route: the canaries replace one part of it at a time. Written by hand
# rather than made from the OpenAPI document because a canary must be the only thing wrong with
# what is sent — a body a route accepts and ids of the right shape cannot be guessed from the
# document — for the answer to be about the part it spoiled. A route published under /v1/ and
# missing here fails ``test_every_route_is_covered`` until it is added.
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", f"{PRACTICE}/widget/options"): {},
    ("get", f"{PRACTICE}/widget/slots"): {"query": {"start": "2027-01-05", "end": "2027-01-06"}},
    ("post", f"{PRACTICE}/widget/requests"): {"body": booking()},
    ("get", f"{PRACTICE}/calendars"): {},
    ("get", f"{PRACTICE}/calendars/{{provider}}/{{location}}"): {},
    ("put", f"{PRACTICE}/calendars/{{provider}}/{{location}}"): {
        "body": {"days": {"mon": {"enabled": True, "ranges": [["09:00", "12:00"]]}}}
    },
    ("get", f"{PRACTICE}/calendars/{{provider}}/{{location}}/blocks"): {
        "query": {"week": "2027-01-04"}
    },
    ("post", f"{PRACTICE}/calendars/{{provider}}/{{location}}/blocks"): {
        "body": {"start": "2027-01-05T09:00:00-05:00"}
    },
    ("delete", f"{PRACTICE}/calendars/{{provider}}/{{location}}/blocks/{{block_id}}"): {
        "path": {"block_id": "blk_0"}
    },
    ("get", f"{PRACTICE}/portal/action-required"): {},
    ("get", f"{PRACTICE}/appointments"): {"query": {"start": "2027-01-05", "end": "2027-01-06"}},
    ("post", f"{PRACTICE}/appointments/{{appointment_id}}/cancel"): {
        "path": {"appointment_id": "apt_0"}
    },
    ("post", f"{PRACTICE}/requests/{{request_id}}/release-slot"): {"path": {"request_id": "req_0"}},
    ("get", f"{PRACTICE}/patients"): {},
    ("patch", f"{PRACTICE}/patients/{{patient_id}}"): {
        "path": {"patient_id": "pat_0"},
        "body": {"email": "jane.doe@example.com", "mobile_phone": "(617) 555-0142"},
    },
    ("post", f"{PRACTICE}/patients/{{patient_id}}/archive"): {"path": {"patient_id": "pat_0"}},
    ("post", f"{PRACTICE}/ehr/changes"): {},
    ("get", f"{PRACTICE}/deliveries/dead"): {},
    ("post", f"{PRACTICE}/deliveries/{{delivery_id}}/replay"): {"path": {"delivery_id": "dlv_0"}},
}
PATH_DEFAULTS = {"practice": "acme", "provider": "dr_lee", "location": "downtown"}
# Nested parts of a body that a top-level canary does not reach.
NESTED: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("put", f"{PRACTICE}/calendars/{{provider}}/{{location}}"): [
        {"days": {CANARY: {"enabled": True}}},
        {"days": {f"{CANARY}\x00": {"enabled": True}}},
        {"days": {"mon": {"enabled": CANARY}}},
        {"days": {"mon": {"enabled": True, "ranges": [[CANARY, "10:00"]]}}},
        {"days": {"mon": {"enabled": True, "ranges": [["09:00", f"{CANARY}\x00"]]}}},
        {"days": {"mon": {"enabled": True, "ranges": [[CANARY]]}}},
        {"days": {"mon": {"enabled": True, CANARY: 1}}},
    ]
}


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock):
    """The booking practice, with room for every failed staff authentication the canaries in
    ``practice`` make: past the usual ten a minute, each staff route would answer 429 without
    looking at what it was sent, and its parameters would go unchecked."""
    ps_clock.set(MONDAY_MORNING)
    unlimited = "100000/minute"
    limits = {"per_client": unlimited, "per_practice": unlimited, "staff_auth_failures": unlimited}
    return ps_runtime_factory(**booking_overrides(rate_limits=limits))


def body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """The top-level properties of an operation's JSON body, by name."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return {}
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return dict(schema.get("properties", {}))


def send(client, method: str, template: str, request: dict[str, Any]):
    path = {**PATH_DEFAULTS, **request.get("path", {})}
    url = template.format(**{name: quote(value, safe="") for name, value in path.items()})
    return client.request(
        method.upper(),
        url,
        params=request.get("query"),
        json=request.get("body"),
        headers={**STAFF, **request.get("headers", {})},
    )


def variants(spec: dict[str, Any], method: str, template: str) -> list[tuple[str, str, dict]]:
    """Every way to make one part of the route's valid request a canary: where it is, the name
    of the parameter or top-level body field it spoiled, and the request."""
    operation = spec["paths"][template][method]
    base = ROUTES[(method, template)]
    found: list[tuple[str, str, dict]] = []
    for parameter in operation.get("parameters", []):
        where, name = parameter["in"], parameter["name"]
        canaries = TEXT_CANARIES + PLAIN_CANARIES
        if where == "header":  # a header cannot carry NUL or a line break at all
            canaries = [f"{CANARY}\x01", f"{CANARY}\x7f", f"\t{CANARY}\x1f", CANARY * 30]
        for value in canaries:
            part = {**base.get(where, {}), name: value}
            found.append((where, name, {**base, where: part}))
    for name in body_fields(spec, operation):
        for value in TEXT_CANARIES + PLAIN_CANARIES + JSON_CANARIES:
            if value in PLAIN_CANARIES and name in PLAIN_TEXT_FIELDS:
                continue  # a valid name or note: the form would be accepted
            found.append(("body", name, {**base, "body": {**base["body"], name: value}}))
    for nested in NESTED.get((method, template), []):
        (name,) = nested
        found.append(("body", name, {**base, "body": {**base["body"], **nested}}))
    return found


def names_only(fields: dict[str, str], name: str) -> bool:
    """Whether a 422's ``fields`` name the spoiled parameter or field, and nothing else: the
    name itself, or a part of it (``days.mon.enabled``) as the error handler names one."""
    return bool(fields) and all(key == name or key.startswith(f"{name}.") for key in fields)


# Free text for which a printable canary is valid.
PLAIN_TEXT_FIELDS = {
    "first_name",
    "last_name",
    "insurance_carrier",
    "insurance_member_id",
    "insurance_group",
    "notes",
    "heard_about",
}


def test_every_route_is_covered(client):
    spec = client.get("/openapi.json").json()
    published = {
        (method, path)
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert published == set(ROUTES)


def test_no_answer_repeats_a_canary(client, runtime):
    spec = client.get("/openapi.json").json()
    checked = 0
    for method, template in sorted(ROUTES):
        assert send(client, method, template, ROUTES[(method, template)]).status_code < 500
        for where, name, request in variants(spec, method, template):
            response = send(client, method, template, request)
            label = (method, template, where, name, response.status_code, response.text)
            assert 400 <= response.status_code < 500 and response.status_code != 429, label
            assert CANARY.lower() not in response.text.lower(), label
            if response.status_code == 422:
                assert names_only(response.json()["error"]["fields"], name), label
            checked += 1
    assert checked > 400  # every parameter and field of every route, several ways
