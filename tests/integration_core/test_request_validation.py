"""The engine's staff routes check their parameters before the database sees them: a cursor
this list could not have made, or an id with control characters, is a 422 naming it — never a
500 from PostgreSQL refusing a NUL byte or a date beyond the calendar — and nothing is audited
under a value that was refused."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from integration_core import audit
from integration_core.api import encode_cursor
from integration_core.http.app import create_app
from integration_core.testing import drain
from tests.support import http_emitter
from tests.support.events import emit_request
from tests.support.ledger import Failing

FRONT_DESK = {"Authorization": "Bearer token-front-desk"}
DEAD = "/v1/practices/acme/deliveries/dead"
CANARY = "Qx7Canary"


@pytest.fixture
def dead(ps_runtime_factory):
    """``(runtime, client, ids)``: three dead deliveries of ``acme``."""
    runtime = ps_runtime_factory(extra_plugins={"failing": Failing(permanent=True)})
    emit_request(runtime, n=3)
    drain(runtime)
    with TestClient(create_app(runtime)) as client:
        listed = client.get(DEAD, headers=FRONT_DESK).json()["items"]
        yield runtime, client, [item["id"] for item in listed]


def invalid(response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"], error
    assert CANARY.lower() not in response.text.lower()


@pytest.mark.parametrize(
    "cursor",
    [
        f"{CANARY}\x00",
        encode_cursor("2027-01-04T13:00:00+00:00", f"{CANARY}\x00"),
        encode_cursor("2027-01-04T13:00:00+00:00", f"dlv_{CANARY}\x1b"),
        encode_cursor("2027-01-04T13:00:00+00:00", None),
        encode_cursor("2027-01-04T13:00:00", "dlv_1"),
        encode_cursor("0001-01-01T00:00:00+14:00", "dlv_1"),
        encode_cursor("0001-01-01T00:00:00-12:00", "dlv_1"),
        encode_cursor("9999-12-31T23:59:59-12:00", "dlv_1"),
        encode_cursor("9999-12-31T23:59:59+14:00", "dlv_1"),
        encode_cursor(CANARY, "dlv_1"),
        encode_cursor("2027-01-04T13:00:00+00:00", "dlv_1", "extra"),
    ],
)
def test_a_cursor_this_list_could_not_have_made_is_a_422_naming_it(dead, cursor):
    _, client, _ = dead
    invalid(client.get(DEAD, params={"cursor": cursor}, headers=FRONT_DESK), "cursor")


def test_a_cursor_it_made_still_pages(dead):
    _, client, ids = dead
    first = client.get(DEAD, params={"limit": 2}, headers=FRONT_DESK).json()
    rest = client.get(
        DEAD, params={"limit": 2, "cursor": first["next_cursor"]}, headers=FRONT_DESK
    ).json()
    assert [item["id"] for item in first["items"] + rest["items"]] == ids


def test_a_delivery_id_with_control_characters_is_a_422_and_is_not_audited(dead):
    runtime, client, ids = dead
    for char in ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\n", "\u2028"]:
        url = f"/v1/practices/acme/deliveries/{quote(f'{ids[0]}{char}', safe='')}/replay"
        invalid(client.post(url, headers=FRONT_DESK), "delivery_id")
    unknown = client.post(f"/v1/practices/acme/deliveries/{CANARY}/replay", headers=FRONT_DESK)
    assert unknown.status_code == 404 and CANARY not in unknown.text
    replayed = client.post(f"/v1/practices/acme/deliveries/{ids[0]}/replay", headers=FRONT_DESK)
    assert replayed.status_code == 202
    with runtime.db.read() as session:
        replays = [e.entity_id for e in audit.entries(session, "acme") if e.action == "replay"]
    assert sorted(replays) == sorted([CANARY, ids[0]])


def test_a_plugins_staff_route_does_not_repeat_a_canary_either(ps_runtime_factory):
    runtime = ps_runtime_factory(extra_plugins={"http_emitter": http_emitter})
    url = "/v1/practices/acme/test-events"
    with TestClient(create_app(runtime)) as client:
        for count in (CANARY, f"{CANARY}\x00", [CANARY], {"n": CANARY}, CANARY * 50):
            invalid(client.post(url, json={"count": count}, headers=FRONT_DESK), "count")
        answer = client.post(url, json={"count": 1, CANARY: 1}, headers=FRONT_DESK)
        assert answer.status_code == 201
