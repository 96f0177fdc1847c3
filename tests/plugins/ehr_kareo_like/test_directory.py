"""The sandbox EHR's directory: what it lists, what it refuses, and how a person matches it to
their configuration (``sandbox-ehr --directory``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from integration_core.api import ExternalRejected, NewAppointment, NewPatient
from integration_core.settings import PracticeSettings, load_settings
from integration_core.testing import TEST_PRACTICE, free_port, wait_until_ready
from plugins.demo.story import PRACTICE, story_settings
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.directory import DEFAULT_DIRECTORY, read_directory
from tests.support.booking import PRACTICE as BOOKING_PRACTICE
from tests.support.commands import ROOT, run
from tests.support.sandbox_ehr import API_KEY

EXAMPLE = ROOT / "examples" / "practice-sync.toml"


def ehr_ids(practice: PracticeSettings) -> tuple[set[str], set[str]]:
    """The provider and location ids the sync sends for ``practice`` (a slug without ehr_id)."""
    return (
        {provider.ehr_id for provider in practice.providers.values()},
        {place.ehr_id or slug for slug, place in practice.locations.items()},
    )


@pytest.mark.parametrize(
    "practice",
    [
        pytest.param(load_settings(EXAMPLE).practice("acme"), id="example_config"),
        pytest.param(story_settings().practice(PRACTICE), id="demo"),
        pytest.param(PracticeSettings(**TEST_PRACTICE), id="test_kit"),
        pytest.param(PracticeSettings(**BOOKING_PRACTICE), id="booking_tests"),
    ],
)
def test_the_default_directory_has_the_ids_the_repositorys_configurations_use(practice):
    providers, locations = ehr_ids(practice)
    assert providers <= set(DEFAULT_DIRECTORY.providers)
    assert locations <= set(DEFAULT_DIRECTORY.locations)


@pytest.fixture
def adapter(network) -> KareoLikeAdapter:
    return KareoLikeAdapter("http://sandbox-ehr", API_KEY, transport=network, transient_retries=0)


def test_the_directory_and_visit_reasons_are_listed(adapter):
    assert {p.id: p.name for p in adapter.list_providers()} == dict(DEFAULT_DIRECTORY.providers)
    assert {p.id: p.name for p in adapter.list_locations()} == dict(DEFAULT_DIRECTORY.locations)
    assert all(p.patient_communications_enabled for p in adapter.list_providers())
    reasons = {r.id: r.duration_minutes for r in adapter.list_visit_reasons()}
    assert reasons == {"1": 45, "2": 20, "3": 30, "4": 20, "5": None}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"provider_id": "9999"}, "ehr_unknown_provider"),
        ({"location_id": "annex"}, "ehr_unknown_location"),
    ],
    ids=["provider", "location"],
)
def test_an_appointment_outside_the_directory_is_refused(adapter, changes, code):
    patient = adapter.create_patient(
        NewPatient(
            first_name="Ada",
            last_name="Byron",
            date_of_birth=date(1985, 12, 10),
            sex="female",
            email="ada@example.com",
            phone="+16175550142",
        ),
        idempotency_key="directory-patient",
    )
    appointment = {
        "patient_id": patient.id,
        "provider_id": "1001",
        "location_id": "downtown",
        "start": datetime(2031, 5, 6, 14, 0, tzinfo=UTC),
        "duration_minutes": 30,
        "telehealth": False,
        "patient_note": "",
    }
    with pytest.raises(ExternalRejected) as caught:
        adapter.create_tentative_appointment(
            NewAppointment(**{**appointment, **changes}), idempotency_key=f"refused-{code}"
        )
    assert caught.value.code == code


def test_a_directory_file_is_read(tmp_path: Path):
    path = tmp_path / "directory.toml"
    path.write_text('[providers]\n"2001" = "Dr. Lee"\n[locations]\nloc-1 = "Downtown"\n')
    directory = read_directory(path)
    assert (dict(directory.providers), dict(directory.locations)) == (
        {"2001": "Dr. Lee"},
        {"loc-1": "Downtown"},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[providers]\n"2001" = "Dr. Lee"\n', "[locations] must list at least one id = name"),
        ('[providers]\n"2001" = 7\n[locations]\na = "A"\n', "providers.2001: the name must be"),
        ('[doctors]\na = "A"\n', "unknown table(s) doctors"),
        ("[providers\n", "not valid TOML"),
    ],
    ids=["no_locations", "not_a_name", "unknown_table", "not_toml"],
)
def test_a_bad_directory_file_is_refused_naming_the_problem(tmp_path: Path, text, message):
    path = tmp_path / "directory.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_directory(path)


def test_sandbox_ehr_serves_the_directory_it_is_given(tmp_path: Path):
    directory = tmp_path / "directory.toml"
    directory.write_text('[providers]\n"2001" = "Dr. Lee"\n[locations]\nloc-1 = "Downtown"\n')
    port = free_port()
    command = [sys.executable, "-m", "integration_core", "sandbox-ehr", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--directory", str(directory)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "PRACTICE_SYNC_SANDBOX_EHR_API_KEY": "k"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, path="/healthz")
        adapter = KareoLikeAdapter(base, "k", transient_retries=0)
        assert [(p.id, p.name) for p in adapter.list_providers()] == [("2001", "Dr. Lee")]
        assert [(p.id, p.name) for p in adapter.list_locations()] == [("loc-1", "Downtown")]
        adapter.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_sandbox_ehr_refuses_a_bad_directory_file(tmp_path: Path):
    directory = tmp_path / "directory.toml"
    directory.write_text("[providers]\n")
    result = run("sandbox-ehr", "--directory", str(directory))
    assert result.returncode == 2
    assert "Invalid value for --directory" in result.stderr
    assert "[providers] must list at least one id = name" in result.stderr
