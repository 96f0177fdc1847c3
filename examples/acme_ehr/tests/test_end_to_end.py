"""A booking end to end, every part a real process: the fake Acme EHR, then
``practice-sync --config practice-sync.toml run`` with this plugin installed; a booking posted
to the widget API becomes a tentative visit in Acme, and the patient's email is written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from integration_core.testing.processes import free_port, wait_until, wait_until_ready

CONFIG = Path(__file__).parents[1] / "practice-sync.toml"
API_KEY = "end-to-end-key"
PRACTICE = "riverside"
# Patient data that no id, code or log field can contain by chance.
PATIENT = {
    "first_name": "Zephyrine",
    "last_name": "Quillfeather",
    "email": "zephyrine.quillfeather@example.com",
    "phone": "(617) 555-0142",
    "date_of_birth": "1984-07-19",
    "sex": "female",
}


def started(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stopped(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a service manager stops it; its exit code (bounded wait)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
        raise


@pytest.fixture
def acme_ehr(tmp_path: Path) -> Iterator[str]:
    """``python -m acme_ehr.fake_server`` on a free port: its base URL."""
    port = free_port()
    process = started(
        [sys.executable, "-m", "acme_ehr.fake_server", "--port", str(port)],
        {**os.environ, "ACME_EHR_API_KEY": API_KEY},
        tmp_path / "acme-ehr.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, path="/v2/health", timeout=30)
        yield base
    finally:
        assert stopped(process) == 0


def visits_in_acme(base: str) -> list[dict[str, Any]]:
    """The patient's visits as Acme holds them (none while Acme does not know the patient)."""
    with httpx.Client(base_url=f"{base}/v2", headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        people = c.post("/people:search", json={"birthDate": PATIENT["date_of_birth"]}).json()
        visits: list[dict[str, Any]] = []
        for person in people["people"]:
            if person["name"] == {"given": PATIENT["first_name"], "family": PATIENT["last_name"]}:
                visits.extend(c.get(f"/people/{person['personId']}/visits").json()["visits"])
        return visits


def test_a_booking_becomes_a_tentative_visit_in_acme(acme_ehr: str, tmp_path: Path) -> None:
    port = free_port()
    messages = tmp_path / "messages"
    env = {
        **os.environ,
        "PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'practice-sync.db'}",
        "PRACTICE_SYNC_HTTP__PORT": str(port),
        "PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__FILE_FOLDER": str(messages),
        "PRACTICE_SYNC_PLUGINS__CONFIG__ACME_EHR__PRACTICES__RIVERSIDE__BASE_URL": acme_ehr,
        "PRACTICE_SYNC_PLUGINS__CONFIG__ACME_EHR__PRACTICES__RIVERSIDE__API_KEY": API_KEY,
    }
    log = tmp_path / "run.log"
    command = Path(sys.executable).with_name("practice-sync")
    migrate = subprocess.run(
        [str(command), "--config", str(CONFIG), "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    run = started([str(command), "--config", str(CONFIG), "run"], env, log)
    base = f"http://127.0.0.1:{port}/v1/practices/{PRACTICE}/widget"
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=60)
        today = date.today()
        slots = httpx.get(
            f"{base}/slots",
            params={
                "start": today.isoformat(),
                "end": (today + timedelta(days=14)).isoformat(),
                "reason": "checkup",
                "provider": "dr_lee",
                "location": "downtown",
            },
        )
        assert slots.status_code == 200, slots.text
        slot = slots.json()["slots"][0]
        booked = httpx.post(
            f"{base}/requests",
            json={
                "provider": "dr_lee",
                "location": "downtown",
                "reason": "checkup",
                "start": slot["start"],
                "privacy_consent": True,
                **PATIENT,
            },
            headers={"Idempotency-Key": "end-to-end-booking"},
        )
        assert booked.status_code == 201, booked.text

        wait_until(lambda: bool(visits_in_acme(acme_ehr)), 30, "the visit in Acme")
        [visit] = visits_in_acme(acme_ehr)
        assert visit["phase"] == "pencilled"  # Acme's tentative
        assert datetime.fromisoformat(visit["begins"]) == datetime.fromisoformat(slot["start"])
        assert visit["lengthMinutes"] == 30
        assert (visit["clinicianId"], visit["siteId"], visit["mode"]) == (
            "cl-lee",
            "st-downtown",
            "in_person",
        )
        wait_until(lambda: any(messages.glob("email-*.txt")), 30, "the patient's email")
    finally:
        code = stopped(run)
    output = log.read_text()
    # A graceful stop: the server shuts down, then the workers and the adapter are closed.
    assert code == 0, output
    assert "Application shutdown complete" in output
    assert "stopped: everything this process ran is closed" in output
    assert "Traceback" not in output and " error " not in output
    for key in ("first_name", "last_name", "email", "date_of_birth"):
        assert PATIENT[key] not in output  # no patient data in the logs
    assert "5550142" not in output
