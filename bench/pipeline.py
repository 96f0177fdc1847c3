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

Embedded default only (SQLite, in-process broker, sandbox EHR in process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from sqlalchemy import func, select

from integration_core.clock import SystemClock
from integration_core.ehr.matching import decide
from integration_core.ehr.protocol import NewAppointment, NewPatient, PatientQuery
from integration_core.http.app import create_app
from integration_core.http.inprocess import InProcessTransport
from integration_core.records import AppointmentRequest
from integration_core.runtime import Runtime
from integration_core.settings import Settings
from integration_core.store import Delivery, DeliveryStatus
from integration_core.testing.processes import free_port, wait_until_ready
from integration_core.testing.services import fresh_schema_url
from plugins.ehr_kareo_like.plugin import inprocess_sandbox
from plugins.ehr_kareo_like.sandbox.directory import Directory
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment
from plugins.notifications.channels import FileChannel, Message

SANDBOX_KEY = "sandbox-key"
"""The sandbox EHR's API key when it runs as its own server (its default)."""
PROVIDERS = [f"p{i:02d}" for i in range(1, 21)]
DIRECTORY = Directory(providers={p: f"Provider {p}" for p in PROVIDERS}, locations={"main": "Main"})
"""The sandbox EHR's providers and location: the bench's own (each ``ehr_id`` is its slug)."""
EVERY_DAY = {
    d: {"enabled": True, "ranges": [["00:00", "24:00"]]}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


class ScaledOut(NamedTuple):
    """Where the scaled-out run's parts live: PostgreSQL, the broker, the EHR server."""

    database_url: str
    broker_url: str
    ehr_url: str


def settings(folder: Path, label: str, scaled: ScaledOut | None = None) -> Settings:
    """The bench practice; its in-process sandbox EHR (unless ``scaled``) knows its providers."""
    database_url = scaled.database_url if scaled else f"sqlite:///{folder / f'{label}.db'}"
    ehr = {"base_url": scaled.ehr_url, "api_key": SANDBOX_KEY} if scaled else {"sandbox": True}
    if scaled is None:
        store, _ = inprocess_sandbox(f"sqlite:///{folder / f'{label}-ehr.db'}", SANDBOX_KEY)
        store.set_directory(DIRECTORY)
    return Settings(
        database_url=database_url,
        broker={
            "url": scaled.broker_url if scaled else "stub://",
            "queue": f"bench_{label}_{os.getpid()}",
        },
        rate_limits={"per_client": "10000000/minute", "per_practice": "10000000/minute"},
        logging={"level": "WARNING"},
        practices={
            "bench": {
                "name": "Bench Clinic",
                "ehr_adapter": "kareo_like",
                "locations": {"main": {"name": "Main", "time_zone": "UTC"}},
                "providers": {
                    p: {"name": p, "ehr_id": p, "locations": ["main"]} for p in PROVIDERS
                },
            }
        },
        plugins={
            "config": {
                "growth_platform": {
                    "practices": {
                        "bench": {
                            "reasons": {
                                "visit": {
                                    "name": "Visit",
                                    "providers": PROVIDERS,
                                    "locations": ["main"],
                                }
                            },
                            "calendars": {
                                p: {
                                    "main": {
                                        "slot_minutes": 15,
                                        "min_notice_minutes": 0,
                                        "horizon_days": 365,
                                        "day_start": "00:00",
                                        "day_end": "24:00",
                                        "days": EVERY_DAY,
                                    }
                                }
                                for p in PROVIDERS
                            },
                        }
                    }
                },
                "ehr_kareo_like": {
                    "sandbox": {"database_url": f"sqlite:///{folder / f'{label}-ehr.db'}"},
                    "practices": {"bench": ehr},
                },
                "notifications": {
                    "file_folder": str(folder / f"{label}-messages"),
                    "practices": {
                        "bench": {
                            "alert_emails": ["desk@bench.example"],
                            "alert_phones": ["+16175550100"],
                            "email_channel": "file",
                            "sms_channel": "file",
                        }
                    },
                },
            }
        },
    )


def bodies(count: int) -> list[dict[str, Any]]:
    """Distinct patients (each its own date of birth, as in a real practice's stream)."""
    base = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    out = []
    for i in range(count):
        start = base + timedelta(minutes=15 * (i // len(PROVIDERS)))
        out.append(
            {
                "provider": PROVIDERS[i % len(PROVIDERS)],
                "location": "main",
                "reason": "visit",
                "start": start.isoformat(),
                "first_name": f"Bench{i}",
                "last_name": "Patient",
                "email": f"bench{i}@example.com",
                "phone": "+16175550142",
                "date_of_birth": (date(1950, 1, 1) + timedelta(days=i)).isoformat(),
                "sex": "other",
                "privacy_consent": True,
                "sms_consent": True,
            }
        )
    return out


def worker_process(config: Settings) -> subprocess.Popen[bytes]:
    """``practice-sync worker`` in its own process, configured through the environment."""
    env = {
        **os.environ,
        "PRACTICE_SYNC_DATABASE_URL": config.database_url,
        "PRACTICE_SYNC_BROKER": config.broker.model_dump_json(),
        "PRACTICE_SYNC_PRACTICES": json.dumps(
            {k: v.model_dump(mode="json") for k, v in config.practices.items()}
        ),
        "PRACTICE_SYNC_PLUGINS": config.plugins.model_dump_json(),
        "PRACTICE_SYNC_LOGGING__LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "integration_core", "worker"], env=env, stderr=subprocess.DEVNULL
    )


def run_pipeline(folder: Path, count: int, scaled: ScaledOut | None = None) -> float:
    """Requests/s; ``scaled`` runs the worker as its own process."""
    config = settings(folder, "pipeline", scaled)
    runtime = Runtime(config, clock=SystemClock())
    worker = None
    try:
        runtime.migrate()
        if scaled is None:
            runtime.start_worker()
        else:
            worker = worker_process(config)
        client = httpx.Client(
            transport=InProcessTransport(create_app(runtime)), base_url="http://bench"
        )
        started = time.perf_counter()
        for body in bodies(count):
            response = client.post("/v1/practices/bench/widget/requests", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"booking failed: {response.status_code} {response.text}")
        unfinished = Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RUNNING])
        while True:
            with runtime.db.read() as session:  # the status index answers this
                open_ = session.scalar(select(func.count()).select_from(Delivery).where(unfinished))
            if not open_:
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        with runtime.db.read() as session:
            dead = session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.DEAD)
            )
        if dead:
            raise RuntimeError(f"{dead} deliveries went dead: the run is not valid")
        client.close()
        return count / elapsed
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        runtime.close()


class NoEvents:
    """The inline run's outbox: the request is stored, but no event or delivery is written."""

    def emit(self, session: Any, event: Any, **_: Any) -> str:
        return ""


def run_inline(folder: Path, count: int, scaled: ScaledOut | None = None) -> float:
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
def ehr_server(folder: Path) -> Iterator[str]:
    """``practice-sync sandbox-ehr`` in its own process, as a practice's EHR is: its URL."""
    port = free_port()
    database = f"sqlite:///{folder / 'ehr-server.db'}"
    directory = folder / "ehr-directory.toml"
    directory.write_text(
        "[providers]\n"
        + "".join(f'{p} = "{name}"\n' for p, name in DIRECTORY.providers.items())
        + '[locations]\nmain = "Main"\n'
    )
    command = ["sandbox-ehr", "--port", str(port), "--database-url", database]
    command += ["--directory", str(directory)]
    process = subprocess.Popen(
        [sys.executable, "-m", "integration_core", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, path="/healthz", timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def stores(postgres_url: str | None, redis_url: str) -> Iterator[tuple[Path, ScaledOut | None]]:
    """A fresh folder (SQLite files, messages) and, to run scaled out, a fresh PostgreSQL
    schema and a fresh EHR server."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if postgres_url is None:
            yield folder, None
        else:
            with fresh_schema_url(postgres_url) as url, ehr_server(folder) as ehr_url:
                yield folder, ScaledOut(url, redis_url, ehr_url)


def side_by_side(
    count: int, rounds: int, postgres_url: str | None = None, redis_url: str = ""
) -> tuple[list[float], list[float]]:
    """Pipeline and inline requests/s, alternating which goes first each round.

    Each run gets fresh stores. Alternating the order spreads the machine's drift over both
    sides, so the median ratio is the cost of durability, not of a noisy minute. With
    ``postgres_url`` both sides use PostgreSQL and an EHR server of their own, and the
    pipeline's worker is its own process.
    """
    pipeline: list[float] = []
    inline: list[float] = []
    for number in range(rounds):
        for side in ("pipeline", "inline") if number % 2 == 0 else ("inline", "pipeline"):
            with stores(postgres_url, redis_url) as (folder, scaled):
                if side == "inline":
                    inline.append(run_inline(folder, count, scaled))
                else:
                    pipeline.append(run_pipeline(folder, count, scaled))
    return pipeline, inline


def report(title: str, pipelines: list[float], inlines: list[float]) -> None:
    ratios = [p / i for p, i in zip(pipelines, inlines, strict=True)]
    print(f"== {title}, median of {len(ratios)} round(s)")
    print(
        f"  pipeline  {statistics.median(pipelines):8.1f} requests/s   "
        "(POST until every delivery is done)"
    )
    print(
        f"  inline    {statistics.median(inlines):8.1f} requests/s   "
        "(same booking POST, then the same adapter and channel calls)"
    )
    print(
        f"  ratio pipeline/inline: {statistics.median(ratios):.2f}   (target ≥ 0.5; per round: "
        + ", ".join(f"{r:.2f}" for r in ratios)
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
    q = statistics.quantiles(latency, n=100, method="inclusive")
    print(
        f"  request → tentative (one at a time, idle): p50 {q[49]:.1f} ms   "
        f"p99 {q[98]:.1f} ms   (target p99 < 250 ms)"
    )
    if args.postgres_url:
        report(
            f"scaled out (PostgreSQL, Redis, a worker process, the EHR server), {count} requests",
            *side_by_side(count, rounds, args.postgres_url, args.redis_url),
        )


if __name__ == "__main__":
    main()
