"""``practice-sync sandbox-ehr staff`` driven as the front desk would, against a real sandbox
server that announces each change by webhook: a request from practice-sync is confirmed at a
new time, the patient checked in and out; patients are booked by phone, one and a group; a
confirm into a clash is refused, naming it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from integration_core.api import NewAppointment, NewPatient
from integration_core.testing.processes import free_port, wait_until
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.plugin import WEBHOOK_SECRET_ENV
from plugins.ehr_kareo_like.sandbox.outbound import new_secret
from tests.support.commands import run, sandbox_ehr_server
from tests.support.webhook_subscriber import Subscriber, subscriber

API_KEY = "front-desk-key"
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(
    hour=14, minute=0, second=0, microsecond=0
)


@pytest.fixture
def sandbox(tmp_path) -> Iterator[tuple[str, Subscriber]]:
    """A sandbox EHR server posting its changes to a subscriber, and the subscriber."""
    with subscriber() as endpoint:
        endpoint.secret = new_secret()
        with sandbox_ehr_server(
            f"sqlite:///{tmp_path / 'sandbox-ehr.db'}",
            API_KEY,
            options=["--webhook", endpoint.url],
            env={WEBHOOK_SECRET_ENV: endpoint.secret},
        ) as url:
            yield url, endpoint


def staff(url: str, *args: str, expect: int = 0) -> str:
    """``practice-sync sandbox-ehr staff --url URL <args>``: its output, once it exits."""
    result = run("sandbox-ehr", "staff", "--url", url, "--api-key", API_KEY, *args)
    assert result.returncode == expect, result.stderr
    return result.stdout if expect == 0 else result.stderr


def requested(adapter: KareoLikeAdapter, start: datetime, first_name: str) -> str:
    """A tentative appointment, as practice-sync creates one for a booking: its id."""
    patient = adapter.create_patient(
        NewPatient(
            first_name=first_name,
            last_name="Byron",
            date_of_birth=date(1990, 1, 2),
            sex="female",
            email="ada@example.com",
            phone="+16175550100",
        ),
        idempotency_key=f"patient-{first_name}",
    )
    appointment = adapter.create_tentative_appointment(
        NewAppointment(
            patient_id=patient.id,
            provider_id="1001",
            location_id="main",
            start=start,
            duration_minutes=30,
            telehealth=False,
            patient_note="Knee pain",
            requested_reason="new_patient",
        ),
        idempotency_key=f"appointment-{first_name}",
    )
    return appointment.id


def changes(url: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{url}/api/v1/changes", headers={"X-API-Key": API_KEY}, params={"limit": 500}
    )
    answer.raise_for_status()
    return list(answer.json()["changes"])


@pytest.mark.slow  # a command line per action: a couple of seconds each
def test_the_front_desk_confirms_checks_in_books_and_is_told_of_a_clash(sandbox):
    url, endpoint = sandbox
    adapter = KareoLikeAdapter(url, API_KEY)
    wished = requested(adapter, TOMORROW, "Ada")

    listed = staff(url, "list", "--status", "Tentative")
    [line] = listed.splitlines()
    assert line.startswith(f"{wished}  Tentative") and "Ada Byron" in line

    shown = staff(url, "show", wished).splitlines()
    assert shown[0] == f"{wished}  Tentative  version 1"
    assert "  patient note  Knee pain" in shown
    assert "  conflicts     none" in shown

    later = TOMORROW + timedelta(hours=1)
    confirmed = staff(
        url, "confirm", wished, "--visit-reason-id", "2", "--start", later.isoformat()
    ).splitlines()
    assert confirmed[0] == f"{wished}  Confirmed  version 2"
    assert f"  time          {later:%Y-%m-%d} 15:00–15:20 +00:00 (20 min)" in confirmed
    assert "Checked In" in staff(url, "check-in", wished).splitlines()[0]
    assert "Checked Out" in staff(url, "check-out", wished).splitlines()[0]

    first = json.loads(
        staff(
            url,
            "--json",
            "add-patient",
            "--first-name",
            "Grace",
            "--last-name",
            "Hopper",
            "--date-of-birth",
            "1985-12-09",
            "--sex",
            "female",
            "--email",
            "g@example.com",
            "--email-allowed",
        )
    )
    assert first["email_allowed"] is True and first["sms_allowed"] is False
    second = staff(
        url,
        "add-patient",
        "--first-name",
        "Alan",
        "--last-name",
        "Turing",
        "--date-of-birth",
        "1982-06-23",
        "--sex",
        "male",
    ).splitlines()
    second_id = second[0].split()[0]
    assert second[1:] == ["  date of birth 1982-06-23", "  messages      none agreed"]

    booking = ["--provider-id", "1001", "--location-id", "main", "--visit-reason-id", "2"]
    booked = staff(
        url, "book", "--patient-id", first["id"], "--start", TOMORROW.isoformat(), *booking
    )
    booked_id = booked.split()[0]
    assert booked.splitlines()[0] == f"{booked_id}  Confirmed  version 1"
    group_start = (TOMORROW + timedelta(hours=3)).isoformat()
    group = json.loads(
        staff(
            url,
            "--json",
            "book-group",
            "--patient-id",
            first["id"],
            "--patient-id",
            second_id,
            "--start",
            group_start,
            *booking,
        )
    )
    assert group["group"] is True and group["status"] == "Confirmed"
    assert [p["status"] for p in group["patients"]] == ["Confirmed", "Confirmed"]
    checked_in = staff(url, "check-in", group["id"], "--patient-id", second_id).splitlines()
    assert f"                {second_id}  Alan Turing (Checked In)" in checked_in

    clashing = requested(adapter, TOMORROW + timedelta(minutes=10), "Ida")
    refused = staff(url, "confirm", clashing, "--visit-reason-id", "2", expect=1).splitlines()
    assert refused[0].startswith("error: scheduling_conflict: ")
    assert refused[1:] == [
        f"  clashes with appointment {booked_id} {TOMORROW:%Y-%m-%d} 14:00–14:20 +00:00 (Confirmed)"
    ]
    assert "[conflicts]" in staff(url, "list", "--status", "Tentative")

    feed = changes(url)
    assert [(c["appointment_id"], c["version"], c["type"]) for c in feed] == [
        (wished, 1, "appointment.created"),
        (wished, 2, "appointment.confirmed"),
        (wished, 3, "appointment.checked_in"),
        (wished, 4, "appointment.checked_out"),
        (booked_id, 1, "appointment.created"),
        (group["id"], 1, "appointment.created"),
        (group["id"], 2, "appointment.checked_in"),
        (clashing, 1, "appointment.created"),
    ]
    assert feed[6]["patient_id"] == second_id
    wait_until(lambda: len(endpoint.received) == len(feed), 30, "every change by webhook")
    assert sorted(endpoint.ids()) == sorted(change["id"] for change in feed)
    by_id = {message.message_id: message.body for message in endpoint.received}
    assert all(by_id[c["id"]] == {"type": "appointment.changed", "data": c} for c in feed)


def test_a_sandbox_that_does_not_answer_is_named_in_one_line():
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = run("sandbox-ehr", "staff", "--url", nowhere, "list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: the sandbox EHR at {nowhere} could not be reached (--url, or "
        "PRACTICE_SYNC_SANDBOX_EHR_URL, names it)"
    ]


def test_a_webhook_without_its_secret_is_refused_naming_where_the_secret_goes():
    env = {name: value for name, value in os.environ.items() if name != WEBHOOK_SECRET_ENV}
    result = run("sandbox-ehr", "--webhook", "http://127.0.0.1:9/hooks", env=env)
    assert result.returncode == 2
    assert WEBHOOK_SECRET_ENV in result.stderr
