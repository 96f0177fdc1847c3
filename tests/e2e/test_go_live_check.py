"""``practice-sync check`` as a real process against real peers on loopback: the sandbox EHR as
its own ``practice-sync sandbox-ehr`` server over HTTP, an SMTP server, an SMS gateway. Its exit
code and its lines, passing and failing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.commands import ROOT, run, sandbox_ehr_server
from tests.support.go_live import ACCOUNT_SID, AUTH_TOKEN, SmsGateway, smtp_server

EHR_KEY = "loopback-ehr-key-3318"

CONFIG = """
database_url = "sqlite:///{database}"

[practices.acme]
name = "Acme Family Medicine"
ehr_adapter = "kareo_like"

[practices.acme.locations.downtown]
name = "Downtown"
time_zone = "America/New_York"
ehr_id = "downtown"

[practices.acme.providers.dr_lee]
name = "Dr. Lee"
ehr_id = "1001"
locations = ["downtown"]

[plugins.config.ehr_kareo_like.practices.acme]
base_url = "{ehr_url}"
transient_retries = 0

[plugins.config.growth_platform.practices.acme.reasons.checkup]
name = "Annual checkup"
providers = ["dr_lee"]
locations = ["downtown"]
ehr_visit_reason = "3"

[plugins.config.growth_platform.practices.acme.calendars.dr_lee.downtown]
days.mon = {{ enabled = true }}

[plugins.config.notifications.email]
host = "127.0.0.1"
port = {smtp_port}
timeout_seconds = 5

[plugins.config.notifications.sms]
base_url = "{sms_url}"
account_sid = "{account_sid}"
from_number = "+16175550000"
timeout_seconds = 5

[plugins.config.notifications.practices.acme]
alert_emails = ["desk@acme.example"]
alert_phones = ["+16175550100"]
"""

PASSING = [
    "PASS  database: reachable and migrated to head",
    "PASS  broker: in this process (stub://)",
    "PASS  practice acme: EHR (kareo_like) answers with its credentials",
    "PASS  practice acme: provider dr_lee is in the EHR (ehr_id 1001)",
    "PASS  practice acme: location downtown is in the EHR (ehr_id downtown)",
    "PASS  practice acme: the EHR's patient surveys are off",
    "PASS  practice acme: the EHR's own online scheduler is off",
    "PASS  practice acme: the EHR's provider profiles are unpublished",
    "PASS  practice acme: the EHR's online presence is off",
    "PASS  practice acme: the EHR sends patient communications for provider dr_lee",
    "PASS  channel email answers (used as acme's email_channel)",
    "PASS  channel sms answers (used as acme's sms_channel)",
    "PASS  practice acme: provider dr_lee has a booking calendar at each of their locations",
    "PASS  practice acme: reason checkup books an EHR visit reason with a duration",
    "PASS  practice acme: intake forms are on in the EHR only",
    "PASS  practice acme: a real Kareo-like EHR, not the bundled sandbox",
    "all 16 checks passed: ready for go-live",
]


@pytest.fixture
def ehr_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sandbox-ehr.db'}"


@pytest.fixture
def ehr_server(ehr_database: str) -> Iterator[str]:
    """``practice-sync sandbox-ehr`` on a free port, its default directory: its URL."""
    with sandbox_ehr_server(ehr_database, EHR_KEY) as url:
        yield url


@pytest.fixture
def environment(tmp_path: Path, ehr_server: str) -> Iterator[dict[str, str]]:
    """A configuration file for the ready practice, its secrets in the environment."""
    with smtp_server() as smtp_port, SmsGateway() as gateway:
        config = tmp_path / "practice-sync.toml"
        config.write_text(
            CONFIG.format(
                database=tmp_path / "practice-sync.db",
                ehr_url=ehr_server,
                smtp_port=smtp_port,
                sms_url=gateway.url,
                account_sid=ACCOUNT_SID,
            )
        )
        yield {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PRACTICE_SYNC_CONFIG": str(config),
            "PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__API_KEY": EHR_KEY,
            "PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__SMS__AUTH_TOKEN": AUTH_TOKEN,
        }


def test_check_passes_on_a_practice_ready_for_go_live(environment):
    assert run("migrate", env=environment, timeout=120).returncode == 0
    result = run("check", env=environment, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == PASSING
    assert "Traceback" not in result.stderr


def test_check_fails_with_a_line_per_problem_and_exit_1(environment, ehr_database):
    store = SandboxStore(ehr_database)  # what the EHR's staff would change in its screens
    store.set_practice_settings(online_scheduler_enabled=True)
    store.dispose()
    environment["PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__SMS__AUTH_TOKEN"] = "stale-token"
    result = run("check", env=environment, timeout=120)  # and never migrated
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("FAIL")] == [
        "FAIL  database: reachable and migrated to head — no database file where database_url "
        "points: run `practice-sync migrate`",
        "FAIL  practice acme: the EHR's own online scheduler is off — turn online scheduling off "
        "in the EHR's practice settings (patients book through the booking platform)",
        "FAIL  channel sms answers (used as acme's sms_channel) — the SMS gateway refused the "
        "credentials (401) (sms_unauthorized): check plugins.config.notifications.sms (base_url, "
        "account_sid; the auth_token from the environment)",
    ]
    assert lines[-1] == "3 of 15 checks failed: not ready for go-live"
    for secret in ("stale-token", AUTH_TOKEN, EHR_KEY):
        assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_check_refuses_a_bad_configuration_naming_the_key(environment, tmp_path):
    config = Path(environment["PRACTICE_SYNC_CONFIG"])
    config.write_text(config.read_text().replace("ehr_visit_reason", "ehr_visit_reasons"))
    result = run("check", env=environment)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error:",
        "plugins.config.growth_platform.practices.acme.reasons.checkup.ehr_visit_reasons: "
        "unknown key",
    ]
