"""A small fake of the Acme EHR's REST API, to test the adapter against and to try it by hand.

In memory and thread-safe (the records, :mod:`acme_ehr.fake_records`, sit behind one lock).
Every request but the health check needs ``Authorization: Bearer <api key>``. Both creates need
an ``Idempotency-Token``, remembered per endpoint: the same token with the same body answers the
first result again, and with another body is refused (409). Staff act on visits through the
front desk's routes (:mod:`acme_ehr.fake_desk`); every change to a visit is an entry in the
journal (:mod:`acme_ehr.fake_journal`), and, given a webhook secret, a signed message
(:mod:`acme_ehr.fake_webhooks`). Run it on its own with::

    ACME_EHR_API_KEY=acme-dev-key python -m acme_ehr.fake_server --port 8600

Routes (JSON; errors are ``{"fault": {"kind": …, "field": …}}`` and never echo a value)::

    GET  /v2/health                      no key needed
    POST /v2/people:search               {"birthDate", "pageToken"?} → {"people", "nextPageToken"}
    POST /v2/people                      a person, with contact and messaging consents → 201
    GET  /v2/people/{personId}
    GET  /v2/people/{personId}/visits
    POST /v2/visits                      a visit, pencilled in → 201
    POST /v2/visits:book                 staff book a visit, confirmed (a group: personIds) → 201
    GET  /v2/visits/{visitId}
    POST /v2/visits/{visitId}:<verb>     confirm, turnDown, cancel, move, arrive, complete,
                                         markDidNotAttend → the visit
    GET  /v2/journal?after=&pageSize=    {"entries", "resumeAfter"} (pageSize 1-200, default 50)
    GET  /v2/practice/preferences
    GET  /v2/clinicians                  {"clinicians": [{"clinicianId", "displayName", …}]}
    GET  /v2/sites                       {"sites": [{"siteId", "label"}]}
    GET  /v2/visit-types                 {"visitTypes": [{"visitTypeId", "label", …}]}
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from acme_ehr.fake_desk import STAFF_ACTIONS, booked_visit
from acme_ehr.fake_fields import Fault, Json
from acme_ehr.fake_journal import MAX_PAGE_SIZE, Journal
from acme_ehr.fake_records import (
    DEFAULT_CLINICIANS,
    DEFAULT_SITES,
    PREFERENCES,
    VISIT_TYPES,
    AcmeRecords,
)
from acme_ehr.fake_webhooks import SentWebhook, WebhookSigner

__all__ = ["DEFAULT_API_KEY", "AcmeAPI", "FakeAcmeEHR", "main"]

DEFAULT_API_KEY = "acme-dev-key"

_PERSON = re.compile(r"/v2/people/([^/]+)")
_PERSON_VISITS = re.compile(r"/v2/people/([^/]+)/visits")
_VISIT = re.compile(r"/v2/visits/([^/:]+)")
_STAFF_ACTION = re.compile(r"/v2/visits/([^/:]+):(\w+)")
JOURNAL_PAGE_SIZE = 50


class AcmeAPI:
    """Routes a request to the records: ``(method, path, headers, body) → (status, answer)``."""

    def __init__(self, records: AcmeRecords, api_key: str) -> None:
        self.records = records
        self.api_key = api_key

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: Json | None
    ) -> tuple[int, Json]:
        url = urlsplit(path)
        path, query = url.path, parse_qs(url.query)
        if method == "GET" and path == "/v2/health":
            return 200, {"status": "up"}
        given = headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise Fault(401, "unauthenticated")
        records = self.records
        if method == "POST" and body is not None:
            if path == "/v2/people:search":
                return 200, records.search(body)
            if path in ("/v2/people", "/v2/visits"):
                return records.create(path.removeprefix("/v2/"), self._token(headers), body)
            if path == "/v2/visits:book":
                return 201, records.book(booked_visit(body))
            match = _STAFF_ACTION.fullmatch(path)
            if match is not None and match.group(2) in STAFF_ACTIONS:
                act = STAFF_ACTIONS[match.group(2)]
                return 200, records.revise(unquote(match.group(1)), lambda v: act(v, body))
        if method == "GET":
            if path == "/v2/journal":
                return 200, records.journal_page(*self._journal_query(query))
            if path == "/v2/practice/preferences":
                return 200, dict(PREFERENCES)
            if path == "/v2/clinicians":
                return 200, records.clinician_list()
            if path == "/v2/sites":
                return 200, records.site_list()
            if path == "/v2/visit-types":
                return 200, dict(VISIT_TYPES)
            reads: list[tuple[re.Pattern[str], Callable[[str], Json]]] = [
                (_PERSON, records.person),
                (_PERSON_VISITS, records.visits_of),
                (_VISIT, records.visit),
            ]
            for pattern, read in reads:
                match = pattern.fullmatch(path)
                if match is not None:
                    return 200, read(unquote(match.group(1)))
        raise Fault(404, "no_such_route")

    @staticmethod
    def _journal_query(query: dict[str, list[str]]) -> tuple[str | None, int]:
        after = query.get("after", [None])[-1]
        size = query.get("pageSize", [str(JOURNAL_PAGE_SIZE)])[-1]
        if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
            raise Fault(400, "invalid_query", "pageSize")
        return after, int(size)

    @staticmethod
    def _token(headers: dict[str, str]) -> str:
        token = headers.get("idempotency-token", "")
        if not token or len(token) > 255:
            raise Fault(400, "invalid_header", "Idempotency-Token")
        return token


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: AcmeAPI
    verbose = False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: the adapter's connection pool is used

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        try:
            body = self._body() if method == "POST" else None
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, answer = self.server.api.handle(method, self.path, headers, body)
        except Fault as fault:
            status, answer = fault.status, fault.body()
        except Exception:
            status, answer = 500, {"fault": {"kind": "internal", "field": None}}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> Json:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise Fault(400, "invalid_body") from None
        if not isinstance(body, dict):
            raise Fault(400, "invalid_body")
        return body

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:  # method, path (ids only: searches are POSTed) and status
            super().log_message(format, *args)


class FakeAcmeEHR:
    """The fake EHR on a loopback port, served from a background thread; a context manager.

    ``port=0`` picks a free port; :attr:`base_url` says which. ``clock`` times the journal's
    entries and signs the webhooks; with a ``webhook_secret`` (Standard Webhooks: ``whsec_`` and
    base64) every entry is also a signed message, kept in :attr:`webhooks`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clinicians: Sequence[str] = DEFAULT_CLINICIANS,
        sites: Sequence[str] = DEFAULT_SITES,
        page_size: int = 25,
        webhook_secret: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        verbose: bool = False,
    ) -> None:
        self._signer = WebhookSigner(webhook_secret, clock) if webhook_secret else None
        journal = Journal(clock, [self._signer] if self._signer else [])
        self.records = AcmeRecords(clinicians, sites, journal=journal, page_size=page_size)
        self._server = _Server((host, port), _Handler)
        self._server.api = AcmeAPI(self.records, api_key)
        self._server.verbose = verbose
        self._thread: threading.Thread | None = None

    @property
    def webhooks(self) -> list[SentWebhook]:
        """The messages signed so far, oldest first (none without a webhook secret)."""
        return self._signer.sent if self._signer else []

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.1)

    def start(self) -> FakeAcmeEHR:
        self._thread = threading.Thread(target=self.serve_forever, name="fake-acme-ehr")
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeAcmeEHR:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m acme_ehr.fake_server",
        description="A fake Acme EHR in memory. The API key is read from ACME_EHR_API_KEY.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--clinician", action="append", help="a clinician id (repeatable)")
    parser.add_argument("--site", action="append", help="a site id (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="log each request line")
    options = parser.parse_args(argv)
    server = FakeAcmeEHR(
        os.environ.get("ACME_EHR_API_KEY", DEFAULT_API_KEY),
        host=options.host,
        port=options.port,
        clinicians=options.clinician or DEFAULT_CLINICIANS,
        sites=options.site or DEFAULT_SITES,
        verbose=options.verbose,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"fake Acme EHR listening on {server.base_url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
