"""examples/clinic, run as its README says: ``migrate``, then ``run``, with the shipped
configuration, from a working directory laid out as the repository is — nothing overridden but
the port, a staff token and the log level (DEBUG, so every line the product may log is
checked) — and once more with email through a local SMTP server, as the README shows."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from integration_core.testing.processes import free_port, wait_until, wait_until_ready
from tests.support.commands import PRACTICE_SYNC
from tests.support.examples import (
    PATIENT,
    book,
    copy_example,
    environment,
    messages_to,
    patient_data,
    practice_sync,
    running,
    smtp_inbox,
    wait_for_ehr_appointment,
)

CONFIG = "examples/clinic/practice-sync.toml"
PROVIDERS_IN_THE_EHR = {"dr_lee": "1001", "np_garcia": "1003"}
FRONT_DESK = "frontdesk@maple-clinic.example"


@contextmanager
def mailbox(email: str, env: dict[str, str], var: Path) -> Iterator[Callable[[str], list[str]]]:
    """Where the clinic's email goes: the file channel's folder as shipped, or, as the README
    shows, a local SMTP server (``email_channel = "email"``); yields the messages to an address."""
    if email == "file":
        yield lambda to: messages_to(var / "messages", to)
        return
    with smtp_inbox() as (port, inbox):
        env["PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__EMAIL__PORT"] = str(port)
        env["PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__PRACTICES__CLINIC__EMAIL_CHANNEL"] = (
            "email"
        )
        yield lambda to: [text for text in inbox if f"To: {to}" in text.splitlines()]


@pytest.mark.parametrize("email", ["file", "smtp"])
def test_a_booking_becomes_a_tentative_ehr_appointment_and_both_messages(tmp_path, email):
    var = copy_example("clinic", tmp_path) / "var"  # tmp_path plays the repository root
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(
        PRACTICE_SYNC_HTTP__PORT=str(port),
        PRACTICE_SYNC_PRACTICES__CLINIC__STAFF_TOKENS__FRONT_DESK="front-desk-token",
        PRACTICE_SYNC_LOGGING__LEVEL="DEBUG",
    )
    with mailbox(email, env, var) as received:
        migrate = practice_sync("--config", CONFIG, "migrate", cwd=tmp_path, env=env)
        assert migrate.returncode == 0, migrate.stderr
        assert re.fullmatch(r"applied \d+ migration\(s\): the schema is at head\n", migrate.stdout)
        if email == "file":  # as shipped: ready but for what makes it a development setup
            check = practice_sync("--config", CONFIG, "check", cwd=tmp_path, env=env)
            failed = [line for line in check.stdout.splitlines() if line.startswith("FAIL")]
            assert check.returncode == 1, check.stdout + check.stderr
            assert len(failed) == 2, failed
            assert "channel file" in failed[0] and "sandbox" in failed[1]

        log = tmp_path / "run.log"
        command = [*PRACTICE_SYNC, "--config", CONFIG, "run"]
        with running(command, cwd=tmp_path, env=env, log=log) as run:
            wait_until_ready(base)
            booked = book(base, "clinic", PATIENT)

            in_ehr = wait_for_ehr_appointment(
                var / "sandbox-ehr.db", booked, PROVIDERS_IN_THE_EHR[booked["provider"]]
            )
            assert (in_ehr.status, in_ehr.location_id, in_ehr.appointment_type) == (
                "Tentative",
                "main",
                "In Person",
            )
            assert in_ehr.end_at - in_ehr.start_at == timedelta(minutes=30)

            wait_until(
                lambda: received(PATIENT["email"]) and received(FRONT_DESK),
                30,
                "the patient's and the front desk's messages",
            )
            [to_patient] = received(PATIENT["email"])
            assert (
                "Subject: Maple Street Clinic: we received your appointment request" in to_patient
            )
            [alert] = received(FRONT_DESK)
            assert "Subject: Maple Street Clinic: new appointment request" in alert

            action_required = httpx.get(
                f"{base}/v1/practices/clinic/portal/action-required",
                headers={"Authorization": "Bearer front-desk-token"},
                timeout=10,
            )
            assert action_required.status_code == 200, action_required.text
            [waiting] = action_required.json()["items"]
            assert waiting["request_id"] == booked["request_id"]
            assert (waiting["status"], waiting["sync_error_code"]) == ("pending_request", None)
        assert run.returncode == 0  # SIGTERM: a graceful stop

    output = migrate.stdout + migrate.stderr + log.read_text()
    assert "practice clinic uses the sandbox EHR in this process, not a real EHR" in output
    for value in patient_data(PATIENT):
        assert value not in output
    assert {"clinic.db", "sandbox-ehr.db"} <= {path.name for path in var.iterdir()}
    assert (var / "messages").is_dir() is (email == "file")
