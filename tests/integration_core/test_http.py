"""The HTTP layer: health, the error shape, staff tokens and audit, rate limits."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import text

from integration_core import audit, hookimpl
from integration_core.http.app import create_app
from integration_core.http.security import public_rate_limit
from integration_core.testing import drain
from tests.support import http_emitter
from tests.support.events import emit_request
from tests.support.ledger import Failing
from tests.support.schema import ONE_MIGRATION_BEHIND

FRONT_DESK = {"Authorization": "Bearer token-front-desk"}
MANAGER = {"Authorization": "Bearer token-manager"}


class Ping(BaseModel):
    value: int


class Probe:
    """A route exercising the public-route dependency."""

    @hookimpl
    def register_routes(self, routes):
        router = APIRouter()

        @router.post("/v1/practices/{practice}/ping", dependencies=[Depends(public_rate_limit)])
        def ping(practice: str, body: Ping) -> Ping:
            return body

        routes.add(router)


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def client(ps_runtime_factory, probe):
    runtime = ps_runtime_factory(
        extra_plugins={"probe": probe, "http_emitter": http_emitter},
        rate_limits={"per_client": "3/minute", "per_practice": "100/minute"},
    )
    with TestClient(create_app(runtime)) as test_client:
        test_client.runtime = runtime  # type: ignore[attr-defined]
        yield test_client


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {
        "status": "ready",
        "database": True,
        "schema_at_head": True,
        "broker": True,
    }


def test_a_schema_behind_is_not_ready(ps_runtime_factory):
    runtime = ps_runtime_factory()
    with runtime.db.transaction() as session:  # as if the last migration had not run yet
        session.execute(text(ONE_MIGRATION_BEHIND))
    with TestClient(create_app(runtime)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["message"] == "database=True schema_at_head=False broker=True"


def test_errors_have_one_shape_and_name_the_field(client):
    missing = client.get("/v1/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"

    invalid = client.post("/v1/practices/acme/ping", json={"value": "not a number"})
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "invalid_request"
    assert set(error["fields"]) == {"value"}
    assert "not a number" not in invalid.text  # submitted values are never echoed


def test_a_body_that_is_not_json_is_named_as_the_body(client):
    answer = client.post(
        "/v1/practices/acme/ping",
        content=b'{"value": 1, oops',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {"body": "not valid JSON"}


def test_staff_routes_need_a_named_token_of_that_practice(client):
    assert client.post("/v1/practices/acme/test-events", json={}).status_code == 401
    wrong = client.post(
        "/v1/practices/acme/test-events", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    assert wrong.headers["www-authenticate"] == "Bearer"
    other_practice = client.post("/v1/practices/globex/test-events", json={}, headers=FRONT_DESK)
    assert other_practice.status_code == 401
    # Two tokens valid at once (rotation).
    assert (
        client.post("/v1/practices/acme/test-events", json={}, headers=FRONT_DESK).status_code
        == 201
    )
    assert (
        client.post("/v1/practices/acme/test-events", json={}, headers=MANAGER).status_code == 201
    )


def test_dead_deliveries_are_listed_paged_replayed_and_audited_by_token_name(ps_runtime_factory):
    runtime = ps_runtime_factory(extra_plugins={"failing": Failing(permanent=True)})
    emit_request(runtime, n=3)
    drain(runtime)
    with TestClient(create_app(runtime)) as client:
        first = client.get("/v1/practices/acme/deliveries/dead?limit=2", headers=FRONT_DESK).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = client.get(
            f"/v1/practices/acme/deliveries/dead?limit=2&cursor={first['next_cursor']}",
            headers=FRONT_DESK,
        ).json()
        assert len(second["items"]) == 1 and second["next_cursor"] is None
        ids = [item["id"] for item in first["items"] + second["items"]]
        assert len(set(ids)) == 3
        assert {item["error_code"] for item in first["items"]} == {"refused"}

        bad_cursor = client.get("/v1/practices/acme/deliveries/dead?cursor=zzz", headers=FRONT_DESK)
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["error"]["fields"] == {"cursor": "not a cursor from this list"}

        replayed = client.post(f"/v1/practices/acme/deliveries/{ids[0]}/replay", headers=MANAGER)
        assert replayed.status_code == 202
        again = client.post(f"/v1/practices/acme/deliveries/{ids[0]}/replay", headers=MANAGER)
        assert again.status_code == 409
    with runtime.db.read() as session:
        trail = [
            (e.actor, e.action, e.entity_id, e.outcome) for e in audit.entries(session, "acme")
        ]
    assert trail[:2] == [
        ("manager", "replay", ids[0], "refused"),
        ("manager", "replay", ids[0], "ok"),
    ]
    assert ("front_desk", "list", None, "ok") in trail


def test_public_routes_are_rate_limited_with_retry_after(client):
    for _ in range(3):
        assert client.post("/v1/practices/acme/ping", json={"value": 1}).status_code == 200
    limited = client.post("/v1/practices/acme/ping", json={"value": 1})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # Another practice's widget is not affected by this client's use of acme's.
    assert client.post("/v1/practices/globex/ping", json={"value": 1}).status_code == 200


def test_openapi_describes_every_route(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/practices/{practice}/deliveries/dead" in spec["paths"]
    assert "/v1/practices/{practice}/test-events" in spec["paths"]
