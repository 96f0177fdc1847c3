"""examples/practice-sync.toml, the commented reference configuration, runs the whole slice as
shipped: ``migrate``, then ``run``, from a fresh working directory (where its relative paths
land), nothing overridden but the port, a staff token and the log level."""

from __future__ import annotations

import httpx

from integration_core.testing.processes import free_port, wait_until, wait_until_ready
from tests.support.commands import PRACTICE_SYNC
from tests.support.examples import (
    EXAMPLES,
    PATIENT,
    book,
    environment,
    messages_to,
    patient_data,
    practice_sync,
    running,
    wait_for_ehr_appointment,
)

CONFIG = str(EXAMPLES / "practice-sync.toml")
PROVIDERS_IN_THE_EHR = {"dr_lee": "1001", "dr_patel": "1002", "np_garcia": "1003"}


def test_the_reference_configuration_books_into_the_sandbox_ehr_and_writes_messages(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(
        PRACTICE_SYNC_HTTP__PORT=str(port),
        PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__FRONT_DESK="front-desk-token",
        PRACTICE_SYNC_LOGGING__LEVEL="DEBUG",
    )
    migrate = practice_sync("--config", CONFIG, "migrate", cwd=tmp_path, env=env)
    assert migrate.returncode == 0, migrate.stderr

    log = tmp_path / "run.log"
    command = [*PRACTICE_SYNC, "--config", CONFIG, "run"]
    with running(command, cwd=tmp_path, env=env, log=log) as run:
        wait_until_ready(base)
        booked = book(base, "acme", PATIENT)
        in_ehr = wait_for_ehr_appointment(
            tmp_path / "practice-sync-sandbox-ehr.db",
            booked,
            PROVIDERS_IN_THE_EHR[booked["provider"]],
        )
        assert (in_ehr.status, in_ehr.location_id) == ("Tentative", booked["location"])

        messages = tmp_path / "practice-sync-messages"
        front_desk, text_to = "frontdesk@acme-family.example", "+16175550100"
        wait_until(
            lambda: all(
                messages_to(messages, to) for to in (PATIENT["email"], front_desk, text_to)
            ),
            30,
            "the patient's email and the practice's email and text alerts",
        )
        [to_patient] = messages_to(messages, PATIENT["email"])
        assert "we received your appointment request" in to_patient
        [text] = messages_to(messages, text_to)
        for value in patient_data(PATIENT):
            assert value not in text  # staff texts: a count and a link

        action_required = httpx.get(
            f"{base}/v1/practices/acme/portal/action-required",
            headers={"Authorization": "Bearer front-desk-token"},
            timeout=10,
        )
        assert [item["request_id"] for item in action_required.json()["items"]] == [
            booked["request_id"]
        ]
    assert run.returncode == 0

    output = migrate.stdout + migrate.stderr + log.read_text()
    assert "practice acme uses the sandbox EHR in this process" in output
    for value in patient_data(PATIENT):
        assert value not in output
