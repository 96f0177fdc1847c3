"""The sandbox EHR server says what it does: a webhook its subscriber refused is a warning line,
in the log format asked for, and no line names a patient."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from integration_core.testing import free_port, wait_until
from plugins.ehr_kareo_like.sandbox.outbound import new_secret
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from tests.support.commands import sandbox_ehr_server
from tests.support.sandbox_ehr import API_KEY


def test_a_refused_webhook_is_a_json_warning_line_without_patient_data(tmp_path: Path) -> None:
    log = tmp_path / "sandbox-ehr.log"
    nobody = f"http://127.0.0.1:{free_port()}/changes"  # nothing listens there
    with sandbox_ehr_server(
        f"sqlite:///{tmp_path / 'sandbox-ehr.db'}",
        API_KEY,
        options=["--webhook", nobody, "--webhook-max-backoff", "0.5"],
        env={
            "PRACTICE_SYNC_SANDBOX_EHR_WEBHOOK_SECRET": new_secret(),
            "PRACTICE_SYNC_LOGGING__FORMAT": "json",
        },
        log=log,
    ) as url:
        with StaffClient(url, API_KEY) as staff:
            patient = staff.add_patient(
                first_name="Philippa", last_name="Quarrington", date_of_birth=date(1975, 4, 9)
            )
            staff.book(
                patient_id=patient["id"],
                provider_id="1001",
                location_id="main",
                start=datetime.now().astimezone().replace(microsecond=0) + timedelta(days=2),
                visit_reason_id=2,
            )
        wait_until(lambda: "connect_error" in log.read_text(), 15, "a refused webhook's line")
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    refused = [entry for entry in entries if entry.get("error") == "connect_error"]
    assert refused[0]["level"] == "warning"
    assert refused[0]["message"] == "sandbox webhook to be retried"
    assert "Philippa" not in text and "Quarrington" not in text and "1975" not in text
