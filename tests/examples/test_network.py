"""examples/network, run as its README says: ``run.py`` migrates, then starts the sandbox EHR,
``serve``, two ``worker``s and the ``scheduler`` as processes on PostgreSQL and Redis (a fresh
schema and queue), supervises them and stops them all cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from integration_core.records import AppointmentRequest, SyncState
from integration_core.store import Database, Delivery, DeliveryStatus
from integration_core.testing.processes import free_port, wait_until
from integration_core.testing.services import postgres_schema_url
from tests.support.examples import (
    EXAMPLES,
    PATIENT,
    book,
    environment,
    messages_to,
    patient_data,
    practice_sync,
    redis_queue,
    running,
    wait_for_ehr_appointment,
)
from tests.support.metrics import value

RUN_PY = EXAMPLES / "network" / "run.py"
METRICS_TOKEN = "network-metrics-token"
CONFIG = EXAMPLES / "network" / "practice-sync.toml"
CHILDREN = {"sandbox-ehr", "serve", "worker-1", "worker-2", "scheduler"}
PROVIDERS_IN_THE_EHR = {"dr_lee": "1001", "dr_patel": "1002", "np_garcia": "1003"}
SECOND_PATIENT = {
    **PATIENT,
    "first_name": "Bartholomew",
    "last_name": "Ellingsworth",
    "email": "b.ellingsworth@example.com",
    "phone": "(312) 555-0177",
    "date_of_birth": "2015-03-08",
    "sex": "male",
}

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Deployment:
    process: subprocess.Popen[bytes]
    log: Path
    base: str
    database_url: str
    sandbox: Path
    messages: Path
    env: dict[str, str]
    sandbox_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """Each child's pid, as run.py reported it once everything started."""
        found = re.findall(r"^run\.py\s+\| (\S+)\s+pid (\d+)", self.output(), re.MULTILINE)
        return {name: int(pid) for name, pid in found}


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """run.py started, everything up; stopped with SIGTERM afterwards if still running."""
    port, ehr_port = free_port(), free_port()
    messages, sandbox = tmp_path / "messages", tmp_path / "sandbox-ehr.db"
    metrics = tmp_path / "metrics"  # an earlier run's leftovers, which run.py must clear
    metrics.mkdir()
    (metrics / "counter_1.db").write_bytes(b"not a metrics file")
    (metrics / "notes.txt").write_text("not ours to delete")
    with postgres_schema_url() as database_url, redis_queue() as (broker_url, queue):
        env = environment(
            PRACTICE_SYNC_DATABASE_URL=database_url,
            PRACTICE_SYNC_BROKER__URL=broker_url,
            PRACTICE_SYNC_BROKER__QUEUE=queue,
            PRACTICE_SYNC_HTTP__PORT=str(port),
            PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__FILE_FOLDER=str(messages),
            PRACTICE_SYNC_SANDBOX_EHR_API_KEY="network-example-key",
            PRACTICE_SYNC_METRICS__TOKEN=METRICS_TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(metrics),
        )
        command = [
            sys.executable,
            str(RUN_PY),
            "--sandbox-port",
            str(ehr_port),
            "--sandbox-database-url",
            f"sqlite:///{sandbox}",
        ]
        log = tmp_path / "run.py.log"
        with running(command, cwd=tmp_path, env=env, log=log) as process:
            deployment = Deployment(
                process,
                log,
                f"http://127.0.0.1:{port}",
                database_url,
                sandbox,
                messages,
                env,
                f"http://127.0.0.1:{ehr_port}",
            )
            wait_until(
                lambda: "all started" in deployment.output() or process.poll() is not None,
                120,
                "run.py to start every process",
            )
            assert process.poll() is None, deployment.output()
            assert set(deployment.pids()) == CHILDREN
            yield deployment


def test_both_practices_book_sync_and_message_then_sigterm_stops_every_process(deployment):
    north = book(deployment.base, "northside", PATIENT)
    river = book(deployment.base, "riverside", SECOND_PATIENT)
    for booked, location in ((north, "downtown"), (river, "lakeside")):
        in_ehr = wait_for_ehr_appointment(
            deployment.sandbox, booked, PROVIDERS_IN_THE_EHR[booked["provider"]]
        )
        assert (in_ehr.status, in_ehr.location_id) == ("Tentative", location)

    expected = {
        PATIENT["email"]: "Northside Family Medicine: we received your appointment request",
        SECOND_PATIENT["email"]: "Riverside Pediatrics: we received your appointment request",
        "frontdesk@northside-family.example": "Northside Family Medicine: new appointment",
        "+13125550100": "Riverside Pediatrics: 1 appointment request(s) waiting for review",
    }
    wait_until(
        lambda: all(messages_to(deployment.messages, to) for to in expected),
        30,
        "both patients' emails, Northside's email alert and Riverside's text alert",
    )
    for to, text in expected.items():
        [message] = messages_to(deployment.messages, to)
        assert text in message

    database = Database(deployment.database_url)
    try:

        def settled() -> bool:
            """Both requests synced (set by a delivery of its own, which may still be running
            when the messages are out) and no delivery left to run."""
            with database.read() as session:
                states = dict(
                    session.execute(
                        select(AppointmentRequest.practice_id, AppointmentRequest.sync_state)
                    ).all()
                )
                unfinished = session.scalar(
                    select(func.count()).where(Delivery.status != DeliveryStatus.DONE)
                )
            synced = {"northside": SyncState.SYNCED, "riverside": SyncState.SYNCED}
            return states == synced and unfinished == 0

        wait_until(settled, 30, "both requests synced and every delivery done")
    finally:
        database.dispose()
    scraped = scrape_metrics(deployment)

    # The go-live checks, with the environment run.py gives its processes: everything passes
    # but the file channel, which is for development.
    ehr = {
        f"PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__{slug}__{key}": value
        for slug in ("NORTHSIDE", "RIVERSIDE")
        for key, value in (
            ("BASE_URL", deployment.sandbox_url),
            ("API_KEY", deployment.env["PRACTICE_SYNC_SANDBOX_EHR_API_KEY"]),
        )
    }
    check = practice_sync(
        "--config", str(CONFIG), "check", cwd=deployment.log.parent, env=deployment.env | ehr
    )
    failed = [line for line in check.stdout.splitlines() if line.startswith("FAIL")]
    assert check.returncode == 1, check.stdout + check.stderr
    assert len(failed) == 1 and "channel file" in failed[0], failed

    pids = deployment.pids()
    deployment.process.send_signal(signal.SIGTERM)
    assert deployment.process.wait(timeout=90) == 0, deployment.output()
    output = deployment.output()
    for name, pid in pids.items():
        assert f"{name} (pid {pid}) exited with 0" in output
        assert not alive(pid)
    assert "stopped cleanly" in output
    # The workers, not the server, ran the deliveries.
    done = [line for line in output.splitlines() if '"delivery done"' in line]
    assert done and all(line.startswith("worker-") for line in done)
    for datum in patient_data(PATIENT) + patient_data(SECOND_PATIENT):
        assert datum not in output
        assert datum not in scraped


def scrape_metrics(deployment: Deployment) -> str:
    """``serve``'s /metrics adds up what every process counted: the events the server
    committed, the deliveries and EHR calls the workers ran, the database's state now."""
    response = httpx.get(
        f"{deployment.base}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    text = response.text
    for practice in ("northside", "riverside"):
        mine = {"practice": practice}
        assert value(text, "practice_sync_events_total", kind="request", **mine) == 1
        assert value(text, "practice_sync_events_total", kind="request_synced", **mine) == 1
        synced = {"plugin": "ehr_sync", "hook": "on_request", **mine}
        assert value(text, "practice_sync_deliveries_total", outcome="done", **synced) == 1
        assert value(text, "practice_sync_delivery_latency_seconds_count", **synced) == 1
        created = {"kind": "ehr", "method": "create_tentative_appointment", **mine}
        assert value(text, "practice_sync_adapter_call_seconds_count", **created) == 1
        assert value(text, "practice_sync_adapter_call_seconds_count", kind="channel", **mine) >= 2
        for status in ("pending", "running", "dead"):
            assert value(text, "practice_sync_deliveries", status=status, **mine) == 0
    folder = Path(deployment.env["PROMETHEUS_MULTIPROC_DIR"])
    writers = {int(m) for m in re.findall(r"_(\d+)\.db", " ".join(os.listdir(folder)))}
    pids = deployment.pids()
    assert {pids["serve"], pids["worker-1"], pids["worker-2"]} <= writers
    assert 1 not in writers and (folder / "notes.txt").exists()  # only the leftovers went
    return text


def test_a_process_that_dies_stops_the_others_and_run_py_fails(deployment):
    pids = deployment.pids()
    os.kill(pids["worker-2"], signal.SIGKILL)
    assert deployment.process.wait(timeout=90) == 1
    output = deployment.output()
    assert f"worker-2 (pid {pids['worker-2']}) exited with -9: stopping the others" in output
    for name, pid in pids.items():
        assert not alive(pid), name
        if name != "worker-2":
            assert f"{name} (pid {pid}) exited with 0" in output
    assert "stopped, not cleanly" in output


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
