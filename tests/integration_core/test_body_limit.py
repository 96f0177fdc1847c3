"""Request bodies over the limit are refused with 413 before anything parses them: from the
declared length at once, and from a chunked body as it streams in — in process and through a
real uvicorn server. Public routes take the smaller limit, every other route the larger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from integration_core.errors import ConfigError
from integration_core.http.app import create_app
from integration_core.settings import load_settings
from tests.support.body_probe import BodyProbe
from tests.support.booking import booking_overrides
from tests.support.http_server import chunk, raw_exchange, serving

PUBLIC_LIMIT = 1024
LIMIT = 4096
LIMITS = {"max_body_bytes": LIMIT, "max_public_body_bytes": PUBLIC_LIMIT}
STAFF = {"Authorization": "Bearer token-front-desk"}
PUBLIC_URL = "/v1/practices/acme/probe/public"
STAFF_URL = "/v1/practices/acme/probe/staff"


@pytest.fixture
def probe() -> BodyProbe:
    return BodyProbe()


@pytest.fixture
def app(ps_runtime_factory, probe):
    runtime = ps_runtime_factory(extra_plugins={"probe": probe}, http=LIMITS)
    return create_app(runtime)


def refused(response: httpx.Response, limit: int) -> bool:
    return response.status_code == 413 and response.json() == {
        "error": {
            "code": "payload_too_large",
            "message": f"The request body is larger than this route takes ({limit} bytes).",
            "fields": {},
        }
    }


def test_a_declared_length_over_the_limit_is_refused_before_the_route_runs(app, probe):
    with TestClient(app) as client:
        assert refused(client.post(PUBLIC_URL, content=b"x" * (PUBLIC_LIMIT + 1)), PUBLIC_LIMIT)
        assert refused(client.post(STAFF_URL, content=b"x" * (LIMIT + 1), headers=STAFF), LIMIT)
        # A dependency reading the raw body, and a route that reads none: refused all the same.
        assert refused(client.put("/v1/practices/acme/probe/raw", content=b"x" * 5000), LIMIT)
        assert refused(client.post("/v1/practices/acme/probe/unread", content=b"x" * 5000), LIMIT)
        assert probe.received == []

        # Up to the limit is taken, and a staff route takes more than a public one.
        assert client.post(PUBLIC_URL, content=b"x" * PUBLIC_LIMIT).json() == {"size": 1024}
        assert client.post(STAFF_URL, content=b"x" * 3000, headers=STAFF).json() == {"size": 3000}
        assert client.post(STAFF_URL, content=b"x" * LIMIT, headers=STAFF).status_code == 200
        assert probe.received == [("public", 1024), ("staff", 3000), ("staff", LIMIT)]


def test_a_path_no_route_serves_takes_the_public_limit(app):
    with TestClient(app) as client:
        assert refused(client.post("/v1/nowhere", content=b"x" * 2000), PUBLIC_LIMIT)
        assert client.post("/v1/nowhere", content=b"x" * 10).status_code == 404
        # Another method's route at the path decides: a public path stays public.
        assert refused(client.put(PUBLIC_URL, content=b"x" * 2000), PUBLIC_LIMIT)
        assert client.put(PUBLIC_URL, content=b"x" * 10).status_code == 405


class Chunks:
    """A streamed body of ``count`` chunks of ``size`` bytes that counts what was taken."""

    def __init__(self, count: int, size: int = 100) -> None:
        self.count, self.size, self.taken = count, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield b"x" * self.size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self:
            yield piece


def in_process(app, method: str, url: str, body: Chunks, **headers: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, url, content=aiter(body), headers=headers)

    return asyncio.run(call())


def test_a_streamed_body_is_counted_and_no_more_is_read_past_the_limit(app, probe):
    endless = Chunks(100_000)
    answer = in_process(app, "POST", PUBLIC_URL, endless)
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert refused(answer, PUBLIC_LIMIT)
    # 1024 bytes are 11 chunks of 100: reading stopped at the one that went over.
    assert endless.taken <= 12

    staff_sized = Chunks(50)
    assert refused(in_process(app, "POST", STAFF_URL, staff_sized, **STAFF), LIMIT)
    assert staff_sized.taken <= 42
    # A route that never reads its body refuses an unsized one too: it is counted first.
    assert refused(in_process(app, "POST", "/v1/practices/acme/probe/unread", Chunks(50)), LIMIT)
    assert probe.received == []

    within = in_process(app, "POST", PUBLIC_URL, Chunks(10))
    assert within.json() == {"size": 1000}
    assert in_process(app, "POST", STAFF_URL, Chunks(40), **STAFF).json() == {"size": 4000}
    assert probe.received == [("public", 1000), ("staff", 4000)]


def raw_call(app, declared: list[tuple[bytes, bytes]]) -> tuple[list[int], int]:
    """Call the app as a server would, with ``declared`` framing headers and a body of 1000
    chunks of 100 bytes: the statuses it answers and how many chunks it took."""
    taken = 0
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        nonlocal taken
        taken += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": taken < 1000}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(str(message["status"])))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PUBLIC_URL,
        "raw_path": PUBLIC_URL.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), *declared],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    asyncio.run(app(scope, receive, send))
    return statuses, taken


def test_a_body_beyond_what_its_headers_say_is_caught_as_the_route_reads_it(app, probe):
    """An in-process server may hand over a body with neither length nor chunked framing (or
    more than the length said): it is counted as the route reads it."""
    assert raw_call(app, []) == ([413], 11)
    assert raw_call(app, [(b"content-length", b"10")]) == ([413], 11)
    assert probe.received == []


def test_the_widget_sees_its_cors_headers_on_a_413(ps_runtime_factory):
    runtime = ps_runtime_factory(**booking_overrides(http=LIMITS))
    with TestClient(create_app(runtime)) as client:
        answer = client.post(
            "/v1/practices/acme/widget/requests",
            content=b"{" + b" " * 2000 + b"}",
            headers={"Origin": "https://acme.example", "Content-Type": "application/json"},
        )
    assert refused(answer, PUBLIC_LIMIT)
    assert answer.headers["access-control-allow-origin"] == "https://acme.example"


def test_through_a_real_server_chunked_and_sized(app, probe):
    with serving(app) as base, httpx.Client(base_url=base) as client:
        chunked = Chunks(2000, 1000)
        answer = client.post(PUBLIC_URL, content=chunked)
        assert answer.request.headers["transfer-encoding"] == "chunked"
        assert refused(answer, PUBLIC_LIMIT)
        assert refused(client.post(STAFF_URL, content=Chunks(5, 1000), headers=STAFF), LIMIT)
        assert refused(client.post(STAFF_URL, content=b"x" * 1_000_000, headers=STAFF), LIMIT)
        # The connection stays usable: the server dropped the rest of the refused bodies.
        assert client.post(PUBLIC_URL, content=Chunks(10)).json() == {"size": 1000}
        assert client.post(STAFF_URL, content=b"x" * 4000, headers=STAFF).json() == {"size": 4000}
        assert probe.received == [("public", 1000), ("staff", 4000)]

        # The 413 comes while the client is still sending: it is not waiting for the end.
        head = (
            f"POST {PUBLIC_URL} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        answer_bytes = raw_exchange(base, head, [chunk(b"y" * 600)] * 2)
        assert answer_bytes.startswith(b"HTTP/1.1 413 ")
        assert b'"code":"payload_too_large"' in answer_bytes
        # Refused from the header alone, before a byte of the body was sent.
        head = f"POST {STAFF_URL} HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n".encode()
        assert raw_exchange(base, head, []).startswith(b"HTTP/1.1 413 ")
    assert probe.received == [("public", 1000), ("staff", 4000)]


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        (
            {"max_body_bytes": 1000, "max_public_body_bytes": 2000},
            "http: max_public_body_bytes (2000) is larger than max_body_bytes (1000)",
        ),
        ({"max_body_bytes": 0}, "http.max_body_bytes: Input should be greater than or equal to 1"),
        (
            {"forwarded_allow_ips": ["10.0.0.1", "proxy.internal"]},
            "http.forwarded_allow_ips: 'proxy.internal' is not an IP address or network",
        ),
    ],
)
def test_limits_and_trusted_proxies_are_checked_with_the_key_named(http, expected):
    with pytest.raises(ConfigError) as error:
        load_settings(http=http)
    assert str(error.value).startswith(expected)


def test_the_defaults_are_safe_for_production():
    http = load_settings().http
    assert (http.max_body_bytes, http.max_public_body_bytes) == (1_048_576, 32_768)
    assert http.forwarded_allow_ips == []
    assert load_settings(http={"forwarded_allow_ips": ["10.0.0.0/8", "::1", "*"]})
