"""The real ``practice-sync`` command line, with one named pause point in its EHR sync.

Why it exists: to prove that a delivery survives its worker being killed at a given moment,
a test must kill a real process exactly there — and only there. Killing it "after a while"
tests nothing in particular; stopping it in a debugger would stop the lease keeper too, when
the point is that every other thread (the lease keeper, the other worker threads, the HTTP
server, an embedded scheduler) keeps running and only death stops the lease renewals. So a
child started as

    python -m tests.support.pause_points <point> <marker_dir> <practice-sync args…>

runs ``integration_core.cli.main`` with ``<practice-sync args…>``, unchanged but for this: the
first time the ``ehr_sync`` plugin's delivery reaches ``<point>`` in this process, its thread
writes ``<marker_dir>/<point>`` (holding the delivery's id) and blocks until
``<marker_dir>/release`` exists — or the process is killed. The points:

- ``before_ehr_call``: the delivery is claimed and its hook runs, about to send its first
  request to the EHR (none has reached it);
- ``during_ehr_call``: the create-appointment request reached the EHR, which acted on it and
  answered, but the answer never reaches the hook;
- ``after_ehr_call``: the hook returned (the EHR writes are done), the delivery's transaction
  has not committed.

The EHR calls are caught in httpx's transport, so this holds for any httpx-based adapter
talking to a real server (not an in-process transport).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from integration_core.deliveries import Claim, DeliveryRunner
from integration_core.ehr.sync import PLUGIN as EHR_SYNC

__all__ = ["POINTS", "RELEASE", "PausePoint", "install", "main"]

POINTS = ("before_ehr_call", "during_ehr_call", "after_ehr_call")
RELEASE = "release"
"""The file in the marker folder whose appearance lets the paused thread go on."""
POLL_SECONDS = 0.05


class PausePoint:
    """Pauses the first thread that reaches ``point``; any later arrival passes."""

    def __init__(self, point: str, marker_dir: Path) -> None:
        if point not in POINTS:
            raise ValueError(f"unknown pause point {point!r}: one of {', '.join(POINTS)}")
        self.point = point
        self.marker_dir = marker_dir
        self._reached = False
        self._lock = threading.Lock()

    def reached(self, point: str, delivery_id: str) -> None:
        if point != self.point:
            return
        with self._lock:
            if self._reached:
                return
            self._reached = True
        marker = self.marker_dir / point
        written = marker.with_suffix(".tmp")
        written.write_text(delivery_id)
        os.replace(written, marker)  # the test never reads half a marker
        release = self.marker_dir / RELEASE
        waiting = threading.Event()  # never set: a timed wait that only this thread does
        while not release.exists():
            waiting.wait(POLL_SECONDS)


_running = threading.local()
"""``delivery_id``: the ``ehr_sync`` delivery whose hook this thread runs, if any."""


def install(pause: PausePoint) -> None:
    """Wrap the delivery runner's hook call and httpx's transport to call ``pause``."""
    call_hook = DeliveryRunner._call_hook
    send = httpx.HTTPTransport.handle_request

    def _call_hook(self: DeliveryRunner, session: Any, claim: Claim) -> None:
        if claim.plugin != EHR_SYNC:
            return call_hook(self, session, claim)
        _running.delivery_id = claim.delivery_id
        try:
            call_hook(self, session, claim)
        finally:
            _running.delivery_id = None
        pause.reached("after_ehr_call", claim.delivery_id)

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        delivery_id: str | None = getattr(_running, "delivery_id", None)
        if delivery_id is None:
            return send(self, request)
        pause.reached("before_ehr_call", delivery_id)
        response = send(self, request)
        if request.method == "POST" and request.url.path.endswith("/appointments"):
            response.read()  # the EHR's whole answer is here: it has acted
            pause.reached("during_ehr_call", delivery_id)
        return response

    DeliveryRunner._call_hook = _call_hook  # type: ignore[method-assign]
    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit("usage: python -m tests.support.pause_points POINT MARKER_DIR ARGS…")
    point, marker_dir, args = argv[0], Path(argv[1]), argv[2:]
    install(PausePoint(point, marker_dir))
    from integration_core.cli import main as practice_sync

    sys.argv = ["practice-sync", *args]
    practice_sync()


if __name__ == "__main__":
    main(sys.argv[1:])
