"""``practice-sync check`` with this plugin installed: the example configuration is ready for
go-live against the fake Acme EHR — its clinician and site ids are in Acme's directory, its
reasons map to Acme visit types with a length — once its messages go out by email (the file
channel it uses for development fails the check), and a clinician whose patient messaging is
off in Acme fails one check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from acme_ehr.fake_server import FakeAcmeEHR

CONFIG = Path(__file__).parents[1] / "practice-sync.toml"
API_KEY = "go-live-key"
ACME = "PRACTICE_SYNC_PLUGINS__CONFIG__ACME_EHR__PRACTICES__RIVERSIDE__"


def practice_sync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("practice-sync")
    return subprocess.run(
        [str(command), "--config", str(CONFIG), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def acme_ehr() -> Iterator[FakeAcmeEHR]:
    with FakeAcmeEHR(API_KEY) as server:
        yield server


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """A real SMTP server on loopback that accepts and drops every message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def environment(acme_ehr: FakeAcmeEHR, smtp_port: int, tmp_path: Path) -> dict[str, str]:
    notifications = "PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__"
    env = {
        **os.environ,
        "PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'practice-sync.db'}",
        f"{notifications}FILE_FOLDER": str(tmp_path / "messages"),
        f"{notifications}PRACTICES__RIVERSIDE__EMAIL_CHANNEL": "email",
        f"{notifications}EMAIL__HOST": "127.0.0.1",
        f"{notifications}EMAIL__PORT": str(smtp_port),
        f"{ACME}BASE_URL": acme_ehr.base_url,
        f"{ACME}API_KEY": API_KEY,
    }
    migrated = practice_sync("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env


def test_the_example_configuration_is_ready_for_go_live(environment: dict[str, str]) -> None:
    result = practice_sync("check", env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("PASS  ") for line in lines[:-1]), result.stdout
    assert "PASS  practice riverside: provider dr_lee is in the EHR (ehr_id cl-lee)" in lines
    assert "PASS  practice riverside: location uptown is in the EHR (ehr_id st-uptown)" in lines
    assert (
        "PASS  practice riverside: reason follow_up books an EHR visit reason with a duration"
        in lines
    )
    assert lines[-1].endswith("checks passed: ready for go-live")


def test_patient_messaging_off_in_acme_fails_one_check(
    acme_ehr: FakeAcmeEHR, environment: dict[str, str]
) -> None:
    acme_ehr.records.silenced.add("cl-patel")
    result = practice_sync("check", env=environment)
    assert result.returncode == 1
    assert [line for line in result.stdout.splitlines() if line.startswith("FAIL")] == [
        "FAIL  practice riverside: the EHR sends patient communications for provider dr_patel — "
        "turn patient communications on for provider cl-patel (Dr. Asha Patel) in the EHR "
        "(their patients get no reminders otherwise)"
    ]
    assert API_KEY not in result.stdout + result.stderr
