"""CORS preflights for the widget: allowed only for the practice's own origins, for the
methods the widget takes and the headers it reads; a refusal says which, in the error shape."""

from __future__ import annotations

import pytest

URL = "/v1/practices/acme/widget/requests"
ORIGIN = "https://acme.example"


def preflight(client, url=URL, origin=ORIGIN, method="POST", headers=None):
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    return client.options(url, headers=asked)


def test_an_allowed_preflight_is_answered_for_the_widget(client):
    answer = preflight(client, headers="Content-Type, Idempotency-Key, Accept-Language")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert answer.headers["vary"] == "Origin"
    assert preflight(client, "/v1/practices/acme/widget/slots", method="GET").status_code == 204


@pytest.mark.parametrize(
    ("url", "origin", "method", "headers", "code"),
    [
        (URL, "https://evil.example", "POST", None, "cors_origin_not_allowed"),
        (URL, "https://acme.example.evil.example", "POST", None, "cors_origin_not_allowed"),
        (URL, "http://acme.example", "POST", None, "cors_origin_not_allowed"),
        # Another practice's widget does not take acme's website.
        ("/v1/practices/globex/widget/requests", ORIGIN, "POST", None, "cors_origin_not_allowed"),
        (URL, ORIGIN, "DELETE", None, "cors_method_not_allowed"),
        (URL, ORIGIN, "PUT", "content-type", "cors_method_not_allowed"),
        (URL, ORIGIN, "POST", "content-type, x-staff-override", "cors_header_not_allowed"),
        (URL, ORIGIN, "POST", "authorization", "cors_header_not_allowed"),
    ],
)
def test_a_refused_preflight_answers_in_the_error_shape(client, url, origin, method, headers, code):
    answer = preflight(client, url, origin, method, headers)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["fields"] == {}
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-methods" not in answer.headers
