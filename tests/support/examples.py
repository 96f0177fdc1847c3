"""Running the shipped examples as a user does: ``practice-sync`` processes from a working
directory, bookings over HTTP on the widget API, and what landed where read back."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from integration_core.testing.processes import free_port, wait_until
from integration_core.testing.services import redis_url
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment
from tests.support.commands import PRACTICE_SYNC, ROOT

EXAMPLES = ROOT / "examples"
STOP_SECONDS = 30

PATIENT: dict[str, Any] = {
    "first_name": "Wilhelmina",
    "last_name": "Quarrington",
    "email": "w.quarrington@example.com",
    "phone": "(617) 555-0199",
    "date_of_birth": "1979-06-15",
    "sex": "female",
    "privacy_consent": True,
}
"""A patient whose every value is distinctive, so a log line carrying one is found."""


def patient_data(patient: dict[str, Any]) -> list[str]:
    """What no log line may contain: the patient's names, email, phone and birth date."""
    digits = "".join(ch for ch in patient["phone"] if ch.isdigit())
    return [
        patient["first_name"],
        patient["last_name"],
        patient["email"],
        patient["phone"],
        digits,
        patient["date_of_birth"],
    ]


def copy_example(name: str, into: Path) -> Path:
    """``examples/<name>`` copied under ``into`` as it sits in the repository, runtime files
    left out: ``into`` then plays the repository root, the working directory its README's
    commands run from."""
    target = into / "examples" / name
    shutil.copytree(
        EXAMPLES / name, target, ignore=shutil.ignore_patterns("*.db*", "messages", "*.log")
    )
    return target


def environment(**overrides: str) -> dict[str, str]:
    """This process's environment without its ``PRACTICE_SYNC_`` settings, plus ``overrides``:
    a child configured by its config file and the test alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRACTICE_SYNC_")}
    keep = ("PRACTICE_SYNC_TEST_", "PRACTICE_SYNC_REQUIRE_SERVICES")
    env |= {k: v for k, v in os.environ.items() if k.startswith(keep)}
    env["PYTHONPATH"] = str(ROOT)
    return env | overrides


def practice_sync(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``practice-sync <args>`` run to completion in ``cwd``."""
    return subprocess.run(
        [*PRACTICE_SYNC, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def running(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process running ``command`` in ``cwd``, its output in ``log``; on the way out it gets
    SIGTERM (if still running) and is waited for, with a bound."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_SECONDS)
                raise


def book(base: str, practice: str, patient: dict[str, Any]) -> dict[str, Any]:
    """Find the first open slot of the practice's first reason for visit in the next two weeks
    (``GET …/widget/slots``) and request it for ``patient`` (``POST …/widget/requests``)."""
    widget = f"{base}/v1/practices/{practice}/widget"
    options = httpx.get(f"{widget}/options", timeout=10)
    assert options.status_code == 200, options.text
    reason = options.json()["reasons"][0]["id"]
    today = date.today()
    slots = httpx.get(
        f"{widget}/slots",
        params={
            "start": today.isoformat(),
            "end": (today + timedelta(days=13)).isoformat(),
            "reason": reason,
        },
        timeout=10,
    )
    assert slots.status_code == 200, slots.text
    slot = slots.json()["slots"][0]
    body = {
        "provider": slot["provider"],
        "location": slot["location"],
        "reason": reason,
        "start": slot["start"],
        **patient,
    }
    answer = httpx.post(f"{widget}/requests", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    accepted: dict[str, Any] = answer.json()
    return accepted


def messages_to(folder: Path, address: str) -> list[str]:
    """The texts of the messages the file channel wrote to ``address``."""
    if not folder.is_dir():
        return []
    texts = [path.read_text() for path in folder.glob("*.txt")]
    return [text for text in texts if text.startswith(f"To: {address}\n")]


def sandbox_appointments(database: Path) -> list[SandboxAppointment]:
    """The appointments in a sandbox EHR's SQLite database (none while it does not exist),
    read without writing to it."""
    if not database.is_file():
        return []
    engine = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            return list(session.scalars(select(SandboxAppointment)))
    except OperationalError:  # its tables are being created
        return []
    finally:
        engine.dispose()


def wait_for_ehr_appointment(
    database: Path, booked: dict[str, Any], provider_ehr_id: str
) -> SandboxAppointment:
    """The sandbox's appointment for ``booked`` (the widget's answer), once the sync made it."""
    start = datetime.fromisoformat(booked["start"])
    found: list[SandboxAppointment] = []

    def synced() -> bool:
        found[:] = [
            row
            for row in sandbox_appointments(database)
            if row.provider_id == provider_ehr_id and row.start_at == start
        ]
        return bool(found)

    wait_until(synced, 60, f"the EHR appointment for request {booked['request_id']}")
    return found[0]


@contextmanager
def redis_queue() -> Iterator[tuple[str, str]]:
    """The test Redis (skip, or fail, if absent) and a queue of its own, whose keys are deleted
    afterwards."""
    import redis

    url, queue = redis_url(), f"ps_test_{secrets.token_hex(4)}"
    try:
        yield url, queue
    finally:
        client = redis.Redis.from_url(url)
        try:
            for key in client.scan_iter(match=f"dramatiq:{queue}*"):
                client.delete(key)
        finally:
            client.close()


@contextmanager
def smtp_inbox() -> Iterator[tuple[int, list[str]]]:
    """A local SMTP server (as ``python -m aiosmtpd -n -l 127.0.0.1:PORT`` runs one): its port
    and the messages it received, each as its text."""
    from aiosmtpd.controller import Controller

    received: list[str] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content.decode("utf-8", errors="replace"))
            return "250 OK"

    controller = Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, received
    finally:
        controller.stop()
