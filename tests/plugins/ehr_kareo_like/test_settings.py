"""The Kareo-like adapter's settings: a real EHR by default, the sandbox only when asked."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from integration_core.errors import ConfigError
from integration_core.runtime import Runtime
from integration_core.testing import TEST_PRACTICE, book_end_to_end, build_settings

ON_KAREO = {"acme": {**TEST_PRACTICE, "ehr_adapter": "kareo_like"}}
ONLY_EHR = ["ehr_sync", "ehr_kareo_like"]


def start(tmp_path: Path, kareo: dict[str, object]) -> Runtime:
    return Runtime(
        build_settings(
            f"sqlite:///{tmp_path / 'db.sqlite'}",
            practices=ON_KAREO,
            plugins={"enabled": ONLY_EHR, "config": {"ehr_kareo_like": kareo}},
        )
    )


def refusal(tmp_path: Path, kareo: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as caught:
        start(tmp_path, kareo)
    return str(caught.value)


def test_a_practice_on_this_adapter_needs_its_table(tmp_path):
    assert refusal(tmp_path, {}) == (
        "plugins.config.ehr_kareo_like.practices.acme: required for "
        "practices.acme.ehr_adapter = 'kareo_like' (base_url and an api_key, or sandbox = true)"
    )


def test_the_ehr_address_is_required_unless_the_sandbox_is_asked_for(tmp_path):
    message = refusal(tmp_path, {"practices": {"acme": {"timeout_seconds": 5}}})
    assert message == (
        "plugins.config.ehr_kareo_like.practices.acme: base_url is required (the practice's "
        "EHR, https://…), or sandbox = true for the bundled sandbox EHR in this process"
    )


def test_a_real_ehr_needs_its_api_key(tmp_path):
    message = refusal(tmp_path, {"practices": {"acme": {"base_url": "https://ehr.example"}}})
    assert message.startswith("plugins.config.ehr_kareo_like.practices.acme: api_key is required")


def test_the_address_and_the_sandbox_exclude_each_other(tmp_path):
    both = {"practices": {"acme": {"base_url": "https://ehr.example", "sandbox": True}}}
    assert refusal(tmp_path, both).endswith("set base_url or sandbox = true, not both")


def test_a_table_for_an_unknown_practice_is_refused(tmp_path):
    kareo = {"practices": {"acme": {"sandbox": True}, "acme2": {"sandbox": True}}}
    assert refusal(tmp_path, kareo) == (
        "plugins.config.ehr_kareo_like.practices.acme2: no such practice in practices.acme2"
    )


ON_SQLITE = pytest.mark.parametrize("ps_database_url", ["sqlite"], indirect=True)


@ON_SQLITE
def test_the_sandbox_is_announced_and_keeps_its_records_in_memory(
    ps_runtime_factory, tmp_path, caplog, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.WARNING)
    runtime = ps_runtime_factory(
        practices=ON_KAREO,
        plugins={
            "enabled": ONLY_EHR,
            "config": {"ehr_kareo_like": {"practices": {"acme": {"sandbox": True}}}},
        },
    )
    assert "practice acme uses the sandbox EHR in this process, not a real EHR" in caplog.text
    booked = book_end_to_end(
        runtime,
        practice_id="acme",
        provider_id="dr_lee",
        location_id="downtown",
        start=runtime.clock.now().replace(microsecond=0) + timedelta(days=3),
    )
    assert booked.ehr_appointment_id is not None
    written = {path.name for path in tmp_path.iterdir()}
    assert written <= {"practice-sync.db", "practice-sync.db-wal", "practice-sync.db-shm"}
