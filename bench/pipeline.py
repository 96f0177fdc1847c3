"""Pipeline benchmark: the first slice with events and deliveries, against the same work inline.

* pipeline — booking POSTs through the widget API; the request event fans out to the EHR sync
  and notifications, and ``request_synced`` to the booking platform and notifications, on the
  in-process broker's worker threads; timed from the first POST until every delivery is done.
* inline — the same booking POSTs (validation, availability, storage), then the same adapter
  and channel calls made directly: no events, no deliveries. The ratio pipeline/inline is the
  cost of durability.
* latency — one request at a time on an idle system: from the request's commit to the
  tentative appointment's commit inside the sandbox EHR.

    python -m bench.pipeline [--requests 1000] [--rounds 3] [--small]
        [--postgres-url URL --redis-url URL]

Embedded (SQLite, in-process broker, sandbox EHR in process); with ``--postgres-url`` also
scaled out (PostgreSQL, Redis, a worker process, the EHR as its own server over loopback).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.deliveries import require_none_dead, wait_until_delivered
from bench.figures import alternating, percentile, ratios
from bench.practice import SANDBOX_KEY, Placement, bodies, settings
from bench.processes import ehr_server, engine
from integration_core.api import Message
from integration_core.clock import SystemClock
from integration_core.ehr.matching import decide
from integration_core.ehr.protocol import NewAppointment, NewPatient, PatientQuery
from integration_core.http.app import create_app
from integration_core.http.inprocess import InProcessTransport
from integration_core.records import AppointmentRequest
from integration_core.runtime import Runtime
from integration_core.testing.services import fresh_schema_url
from plugins.ehr_kareo_like.plugin import inprocess_sandbox
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment
from plugins.notifications.channels import FileChannel


def run_pipeline(folder: Path, count: int, scaled: Placement | None = None) -> float:
    """Requests/s; ``scaled`` runs the worker as its own process."""
    config = settings(folder, "pipeline", scaled)
    runtime = Runtime(config, clock=SystemClock())
    try:
        runtime.migrate()
        with ExitStack() as worker:
            if scaled is None:
                runtime.start_worker()
            else:
                worker.enter_context(engine("worker", config))
            client = httpx.Client(
                transport=InProcessTransport(create_app(runtime)), base_url="http://bench"
            )
            started = time.perf_counter()
            for body in bodies(count):
                response = client.post("/v1/practices/bench/widget/requests", json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"booking failed: {response.status_code} {response.text}")
            wait_until_delivered(runtime.db)
            elapsed = time.perf_counter() - started
            require_none_dead(runtime.db)
            client.close()
            return count / elapsed
    finally:
        runtime.close()


class NoEvents:
    """The inline run's outbox: the request is stored, but no event or delivery is written."""

    def emit(self, session: Any, event: Any, **_: Any) -> str:
        return ""


def run_inline(folder: Path, count: int, scaled: Placement | None = None) -> float:
    """The same booking POSTs (validation, availability, storage), then direct calls."""
    runtime = Runtime(settings(folder, "inline", scaled), clock=SystemClock())
    try:
        runtime.migrate()
        runtime.outbox = NoEvents()  # type: ignore[assignment]
        client = httpx.Client(
            transport=InProcessTransport(create_app(runtime)), base_url="http://bench"
        )
        adapter = runtime.ehr.for_practice("bench")
        channel = FileChannel(folder / "inline-messages")
        started = time.perf_counter()
        for i, body in enumerate(bodies(count)):
            response = client.post("/v1/practices/bench/widget/requests", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"booking failed: {response.status_code} {response.text}")
            request_id = response.json()["request_id"]
            query = PatientQuery(
                first_name=body["first_name"],
                last_name=body["last_name"],
                date_of_birth=date.fromisoformat(body["date_of_birth"]),
            )
            decide(query, adapter.find_patients(query))
            patient = adapter.create_patient(
                NewPatient(
                    first_name=query.first_name,
                    last_name=query.last_name,
                    date_of_birth=query.date_of_birth,
                    sex=body["sex"],
                    email=body["email"],
                    phone=body["phone"],
                ),
                idempotency_key=f"inline-p-{i}",
            )
            start = datetime.fromisoformat(body["start"])
            adapter.create_tentative_appointment(
                NewAppointment(
                    patient_id=patient.id,
                    provider_id=body["provider"],
                    location_id="main",
                    start=start,
                    duration_minutes=15,
                    telehealth=False,
                    patient_note="Reason for visit: visit",
                ),
                idempotency_key=f"inline-a-{i}",
            )
            channel.send(Message("desk@bench.example", f"request {request_id}", "new request"))
            channel.send(Message("+16175550100", "1 request waiting"))
            channel.send(Message(body["email"], "we received your request", "received"))
        elapsed = time.perf_counter() - started
        client.close()
        return count / elapsed
    finally:
        runtime.close()


def run_latency(folder: Path, count: int) -> list[float]:
    runtime = Runtime(settings(folder, "latency"), clock=SystemClock())
    latencies = []
    try:
        runtime.migrate()
        runtime.start_worker()
        client = httpx.Client(
            transport=InProcessTransport(create_app(runtime)), base_url="http://bench"
        )
        store, _ = inprocess_sandbox(
            runtime.settings.plugins.config["ehr_kareo_like"]["sandbox"]["database_url"],
            SANDBOX_KEY,
        )
        for body in bodies(count):
            answer = client.post("/v1/practices/bench/widget/requests", json=body).json()
            while True:
                with store.transaction() as session:
                    created = session.scalar(select(func.max(SandboxAppointment.created_at)))
                with runtime.db.read() as session:
                    requested = session.get(AppointmentRequest, answer["request_id"])
                if (
                    created is not None
                    and requested is not None
                    and created >= requested.created_at
                ):
                    latencies.append((created - requested.created_at).total_seconds() * 1000)
                    break
                time.sleep(0.001)
            time.sleep(0.05)  # idle between requests
        client.close()
    finally:
        runtime.close()
    return latencies


@contextmanager
def stores(postgres_url: str | None, redis_url: str) -> Iterator[tuple[Path, Placement | None]]:
    """A fresh folder (SQLite files, messages) and, to run scaled out, a fresh PostgreSQL
    schema and a fresh EHR server."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if postgres_url is None:
            yield folder, None
        else:
            with fresh_schema_url(postgres_url) as url, ehr_server(folder) as ehr_url:
                yield folder, Placement(url, redis_url, ehr_url)


def side_by_side(
    count: int, rounds: int, postgres_url: str | None = None, redis_url: str = ""
) -> tuple[list[float], list[float]]:
    """Pipeline and inline requests/s, alternating which goes first each round, each run on
    fresh stores (:func:`~bench.figures.alternating`). With ``postgres_url`` both sides use
    PostgreSQL and an EHR server of their own, and the pipeline's worker is its own process.
    """

    def pipeline() -> float:
        with stores(postgres_url, redis_url) as (folder, scaled):
            return run_pipeline(folder, count, scaled)

    def inline() -> float:
        with stores(postgres_url, redis_url) as (folder, scaled):
            return run_inline(folder, count, scaled)

    figures = alternating(rounds, pipeline=pipeline, inline=inline)
    return figures["pipeline"], figures["inline"]


def report(title: str, pipelines: list[float], inlines: list[float]) -> None:
    per_round = ratios(pipelines, inlines)
    print(f"== {title}, median of {len(per_round)} round(s)")
    print(
        f"  pipeline  {statistics.median(pipelines):8.1f} requests/s   "
        "(POST until every delivery is done)"
    )
    print(
        f"  inline    {statistics.median(inlines):8.1f} requests/s   "
        "(same booking POST, then the same adapter and channel calls)"
    )
    print(
        f"  ratio pipeline/inline: {statistics.median(per_round):.2f}   (target ≥ 0.5; per round: "
        + ", ".join(f"{r:.2f}" for r in per_round)
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="pipeline/inline pairs to run")
    parser.add_argument("--small", action="store_true", help="a quick run (as CI does)")
    parser.add_argument(
        "--postgres-url",
        help="also run scaled out: PostgreSQL, Redis, a worker process, the EHR as a server",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    count = 40 if args.small else args.requests
    rounds = 1 if args.small else args.rounds
    report(
        f"embedded default (SQLite, in-process broker, sandbox EHR in process), {count} requests",
        *side_by_side(count, rounds),
    )
    with tempfile.TemporaryDirectory() as tmp:
        latency = run_latency(Path(tmp), 10 if args.small else 100)
    print(
        f"  request → tentative (one at a time, idle): p50 {percentile(latency, 50):.1f} ms   "
        f"p99 {percentile(latency, 99):.1f} ms   (target p99 < 250 ms)"
    )
    if args.postgres_url:
        report(
            f"scaled out (PostgreSQL, Redis, a worker process, the EHR server), {count} requests",
            *side_by_side(count, rounds, args.postgres_url, args.redis_url),
        )


if __name__ == "__main__":
    main()
