"""The sandbox EHR refuses hostile input as practice-sync's own API does, on SQLite and
PostgreSQL: a control character (NUL above all, which PostgreSQL refuses) in any path, query
or body field of any route is a 422 naming that field, never a 5xx; dates are ISO strings,
never numbers read as Unix time; consents are JSON booleans; a body over the limit is a 413
before it is parsed, declared or streamed; and a 405 names every method of its path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from plugins.ehr_kareo_like.sandbox.api import MAX_BODY_BYTES, create_sandbox_app
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.sandbox_ehr import existing_patient

API_KEY = "hostile-input-key"
HEADERS = {"X-API-Key": API_KEY}
HOSTILE = {"NUL": "\x00", "escape": "\x1b"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DATES = ("date", "date-time")


@pytest.fixture
def app(store: SandboxStore) -> FastAPI:
    return create_sandbox_app(store, API_KEY)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A 500 must come back as an answer to assert on, not as the route's exception.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class Operation:
    """One operation of the sandbox's OpenAPI document, with its schemas resolved."""

    def __init__(self, document: dict[str, Any], path: str, method: str) -> None:
        self.document = document
        self.path = path
        self.method = method.upper()
        self.spec: dict[str, Any] = document["paths"][path][method]

    def __repr__(self) -> str:
        return f"{self.method} {self.path}"

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with a ``$ref``, or the one non-null member of an ``anyOf``, followed."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return self.resolve(self.document["components"]["schemas"][name])
        members = [item for item in schema.get("anyOf", []) if item.get("type") != "null"]
        return self.resolve(members[0]) if len(members) == 1 else schema

    def parameters(self, where: str) -> dict[str, dict[str, Any]]:
        """The operation's ``where`` (path, query) parameters by name, with their schemas."""
        return {
            item["name"]: self.resolve(item["schema"])
            for item in self.spec.get("parameters", [])
            if item["in"] == where
        }

    def body_fields(self) -> dict[str, dict[str, Any]]:
        """The JSON body's top-level fields by name, with their schemas (none without a body)."""
        content = self.spec.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return {}
        body = self.resolve(content["application/json"]["schema"])
        return {name: self.resolve(field) for name, field in body["properties"].items()}

    def url(self, **values: str) -> str:
        """The path with each parameter ``values`` names (percent-encoded), the rest ``x``."""
        path = self.path
        for name in self.parameters("path"):
            path = path.replace(f"{{{name}}}", quote(values.get(name, "x"), safe=""))
        return path


def operations(app: FastAPI) -> list[Operation]:
    document = app.openapi()
    return [
        Operation(document, path, method)
        for path, item in document["paths"].items()
        for method in item
    ]


def refusal(answer: httpx.Response) -> dict[str, str]:
    """The fields a 422 ``invalid_request`` names (an assertion error for anything else)."""
    assert answer.status_code == 422, (answer.status_code, answer.text)
    error = answer.json()["error"]
    assert error["code"] == "invalid_request", error
    return dict(error["fields"])


def send(client: TestClient, operation: Operation, url: str, **kwargs: Any) -> httpx.Response:
    answer: httpx.Response = client.request(operation.method, url, headers=HEADERS, **kwargs)
    return answer


def hostile_body(schema: dict[str, Any], text: str) -> tuple[Any, str] | None:
    """A value carrying ``text`` for a field of ``schema``, and where the 422 names it under
    the field's own name; None for a field that takes no text."""
    if schema.get("type") == "string":
        return f"a{text}b", ""
    if schema.get("type") == "array" and schema.get("items", {}).get("type") == "string":
        return [f"a{text}b"], ".0"
    return None


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_control_character_in_any_path_parameter_is_a_422_naming_it(
    app: FastAPI, client: TestClient, text: str
) -> None:
    checked = []
    for operation in operations(app):
        for name in operation.parameters("path"):
            url = operation.url(**{name: f"APT-{text}1"})
            body: dict[str, Any] = {"json": {}} if operation.body_fields() else {}
            assert name in refusal(send(client, operation, url, **body)), (operation, name)
            checked.append((operation, name))
    # Patients, appointments (practice-sync's, and the staff's with each of their 7 actions),
    # providers (2), time blocks and webhook subscriptions.
    assert len(checked) >= 14, checked


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_control_character_in_any_query_or_body_field_is_a_422_naming_it(
    app: FastAPI, client: TestClient, text: str
) -> None:
    checked = []
    for operation in operations(app):
        for name, schema in operation.parameters("query").items():
            if schema.get("type") == "string":
                answer = send(client, operation, operation.url(), params={name: f"a{text}b"})
                assert name in refusal(answer), (operation, name)
                checked.append((operation, name))
        for name, schema in operation.body_fields().items():
            hostile = hostile_body(schema, text)
            if hostile is not None:
                value, suffix = hostile
                answer = send(client, operation, operation.url(), json={name: value})
                assert f"{name}{suffix}" in refusal(answer), (operation, name)
                checked.append((operation, name))
    assert len(checked) >= 50, checked


def test_a_nul_in_the_patient_of_a_requested_appointment_is_named_alone(
    client: TestClient, store: SandboxStore
) -> None:
    body = {
        "patient_id": "PAT-\x00",
        "provider_id": "1001",
        "location_id": "main",
        "start": "2027-01-05T14:00:00+00:00",
        "duration_minutes": 30,
        "appointment_type": "In Person",
    }
    answer = client.post("/api/v1/appointments", json=body, headers=HEADERS)
    assert list(refusal(answer)) == ["patient_id"]
    body["patient_id"] = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
    assert client.post("/api/v1/appointments", json=body, headers=HEADERS).status_code == 201


def test_an_idempotency_key_with_a_control_character_is_a_422_naming_it(
    client: TestClient,
) -> None:
    patient = {"first_name": "Ada", "last_name": "Byron", "date_of_birth": "1990-01-02"}
    answer = client.post(
        "/api/v1/staff/patients", json=patient, headers={**HEADERS, "Idempotency-Key": "k\x1b1"}
    )
    assert list(refusal(answer)) == ["Idempotency-Key"]


@pytest.mark.parametrize("number", [0, 1700000000, "0"], ids=["zero", "unix-time", "digits"])
def test_dates_are_iso_strings_never_numbers(
    app: FastAPI, client: TestClient, number: object
) -> None:
    """A number is not read as Unix time: ``?from=0`` is not 1970-01-01."""
    checked = []
    for operation in operations(app):
        for name, schema in operation.parameters("query").items():
            if schema.get("format") in DATES:
                answer = send(client, operation, operation.url(), params={name: number})
                assert name in refusal(answer), (operation, name)
                checked.append((operation, name))
        for name, schema in operation.body_fields().items():
            if schema.get("format") in DATES:
                answer = send(client, operation, operation.url(), json={name: number})
                assert name in refusal(answer), (operation, name)
                checked.append((operation, name))
    assert len(checked) >= 10, checked
    staff_patient = {"first_name": "Ada", "last_name": "Byron", "date_of_birth": number}
    answer = client.post("/api/v1/staff/patients", json=staff_patient, headers=HEADERS)
    assert list(refusal(answer)) == ["date_of_birth"]
    answer = client.get("/api/v1/staff/appointments", params={"from": number}, headers=HEADERS)
    assert list(refusal(answer)) == ["from"]


@pytest.mark.parametrize("consent", ["email_allowed", "sms_allowed"])
@pytest.mark.parametrize("value", ["yes", "true", 1, None])
def test_a_consent_is_a_json_boolean_only(client: TestClient, consent: str, value: object) -> None:
    patient = {
        "first_name": "Ada",
        "last_name": "Byron",
        "date_of_birth": "1990-01-02",
        "email": "ada@example.com",
        "mobile_phone": "+16175550142",
        consent: value,
    }
    answer = client.post("/api/v1/staff/patients", json=patient, headers=HEADERS)
    assert list(refusal(answer)) == [consent]
    patient[consent] = True
    created = client.post("/api/v1/staff/patients", json=patient, headers=HEADERS)
    assert created.status_code == 201, created.text
    assert created.json()[consent] is True


@pytest.mark.parametrize("value", ["yes", 1])
def test_booking_over_the_schedule_is_asked_with_a_json_boolean_only(
    client: TestClient, value: object
) -> None:
    booking = {
        "patient_id": "PAT-1",
        "provider_id": "1001",
        "location_id": "main",
        "start": "2027-01-05T09:00:00-05:00",
        "visit_reason_id": 1,
        "allow_double_booking": value,
    }
    answer = client.post("/api/v1/staff/appointments", json=booking, headers=HEADERS)
    assert list(refusal(answer)) == ["allow_double_booking"]


def too_large(answer: httpx.Response) -> bool:
    limit = f"({MAX_BODY_BYTES} bytes)"
    return answer.status_code == 413 and answer.json() == {
        "error": {
            "code": "payload_too_large",
            "message": f"The request body is larger than this route takes {limit}.",
            "fields": {},
        }
    }


def patients_on_file(client: TestClient) -> list[Any]:
    search = {"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-02"}
    found = client.post("/api/v1/patients/search", json=search, headers=HEADERS)
    return list(found.json()["patients"])


def padded_patient(size: int) -> bytes:
    """A valid ``POST /staff/patients`` body of exactly ``size`` bytes (spaces pad it)."""
    body = b'{"first_name": "Ada", "last_name": "Byron", "date_of_birth": "1990-01-02"}'
    return body + b" " * (size - len(body))


def test_a_declared_body_over_the_limit_is_refused_before_it_is_parsed(client: TestClient) -> None:
    url = "/api/v1/staff/patients"
    json_headers = {**HEADERS, "Content-Type": "application/json"}
    for size in (MAX_BODY_BYTES + 1, 5 * 1024 * 1024):
        assert too_large(client.post(url, content=padded_patient(size), headers=json_headers))
    # Without the API key, at a path no route serves, to a route that takes no body: 413 all.
    assert too_large(client.post(url, content=padded_patient(MAX_BODY_BYTES + 1)))
    assert too_large(client.post("/api/v1/nowhere", content=b"x" * (MAX_BODY_BYTES + 1)))
    oversized = b"x" * (MAX_BODY_BYTES + 1)
    assert too_large(client.request("GET", "/api/v1/providers", content=oversized))
    assert patients_on_file(client) == []
    # Up to the limit is taken.
    within = client.post(url, content=padded_patient(MAX_BODY_BYTES), headers=json_headers)
    assert within.status_code == 201, within.text


class Chunks:
    """A streamed body: ``count`` chunks of ``size`` bytes, counting those taken."""

    def __init__(self, count: int, size: int = 1024) -> None:
        self.count, self.size, self.taken = count, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield b" " * self.size


def streamed(app: FastAPI, url: str, body: AsyncIterator[bytes]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sender:
            headers = {**HEADERS, "Content-Type": "application/json"}
            return await sender.post(url, content=body, headers=headers)

    return asyncio.run(call())


def test_a_streamed_body_over_the_limit_is_refused_as_it_comes(
    app: FastAPI, client: TestClient
) -> None:
    endless = Chunks(100_000)
    answer = streamed(app, "/api/v1/staff/patients", aiter(endless))
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert too_large(answer)
    assert endless.taken <= MAX_BODY_BYTES // endless.size + 2
    assert patients_on_file(client) == []

    async def within() -> AsyncIterator[bytes]:
        yield padded_patient(MAX_BODY_BYTES)

    assert streamed(app, "/api/v1/staff/patients", within()).status_code == 201


def allowed(answer: httpx.Response) -> set[str]:
    return {method.strip() for method in answer.headers["allow"].split(",")}


def test_every_405_lists_the_methods_its_path_answers(app: FastAPI, client: TestClient) -> None:
    checked = 0
    for operation in {operation.path: operation for operation in operations(app)}.values():
        path, url = operation.path, operation.url()
        answers = {method: client.request(method, url, headers=HEADERS) for method in METHODS}
        accepted = {method for method, answer in answers.items() if answer.status_code != 405}
        assert accepted, path
        for method, answer in answers.items():
            if answer.status_code == 405:
                assert allowed(answer) == accepted, (method, path)
                if method != "HEAD":
                    assert answer.json()["error"]["code"] == "method_not_allowed"
                checked += 1
    assert checked > 50
    for collection in ("/api/v1/webhook-subscriptions", "/api/v1/staff/time-blocks"):
        answer = client.put(collection, headers=HEADERS)
        assert answer.status_code == 405
        assert answer.headers["allow"] == "GET, POST"
