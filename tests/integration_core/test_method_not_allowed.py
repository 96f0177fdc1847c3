"""A 405 names in ``Allow`` exactly the methods its path accepts, whichever router — the
engine's or a plugin's — serves each, HEAD and OPTIONS included."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from integration_core.http.app import create_app
from tests.support import http_emitter
from tests.support.body_probe import BodyProbe

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture
def client(ps_runtime_factory):
    runtime = ps_runtime_factory(
        extra_plugins={"probe": BodyProbe(), "http_emitter": http_emitter},
        rate_limits={
            "per_client": "100000/minute",
            "per_practice": "100000/minute",
            "staff_auth_failures": "100000/minute",
        },
    )
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def allowed(answer) -> set[str]:
    return {method.strip() for method in answer.headers["allow"].split(",")}


def test_every_405_lists_the_methods_its_path_answers(client):
    paths = [*client.get("/openapi.json").json()["paths"], "/docs", "/openapi.json"]
    assert "/v1/practices/{practice}/calendars/{provider}/{location}" in paths  # a plugin's
    checked = 0
    for template in paths:
        path = re.sub(r"\{practice\}", "acme", template)
        path = re.sub(r"\{[a-z_]+\}", "x", path)
        answers = {method: client.request(method, path) for method in METHODS}
        accepted = {method for method, answer in answers.items() if answer.status_code != 405}
        assert accepted, template
        for method, answer in answers.items():
            if answer.status_code == 405:
                assert allowed(answer) == accepted, (method, template)
                if method != "HEAD":
                    assert answer.json()["error"]["code"] == "method_not_allowed"
                checked += 1
    assert checked > 50


def test_one_path_served_by_several_routes_lists_them_all(client):
    calendar = "/v1/practices/acme/calendars/dr_lee/downtown"
    answer = client.delete(calendar)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, PUT"
    assert answer.json() == {
        "error": {
            "code": "method_not_allowed",
            "message": "DELETE is not allowed here; the Allow header lists what is.",
            "fields": {},
        }
    }
    assert client.patch(f"{calendar}/blocks").headers["allow"] == "GET, POST"
    # A GET route of FastAPI's does not answer HEAD, so HEAD is not offered; Starlette's does.
    assert client.head("/healthz").headers["allow"] == "GET"
    assert client.post("/docs").headers["allow"] == "GET, HEAD"
    assert client.options("/v1/practices/acme/widget/requests").headers["allow"] == "POST"
