"""``practice-sync check`` in process: a practice ready for go-live passes every check, and each
go-live problem fails exactly one check, whose line says what to change. The EHR is the sandbox
(in process), email goes to a real SMTP server and texts to a real SMS gateway on loopback."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from integration_core.api import GoLiveCheck, hookimpl
from integration_core.checks import describe
from integration_core.golive import run_go_live_checks
from integration_core.runtime import Runtime
from integration_core.testing import QueueDispatcher, build_settings, free_port
from integration_core.testing.services import postgres_schema_url, redis_url
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.go_live import AUTH_TOKEN, SmsGateway, ready_overrides, smtp_server
from tests.support.sandbox_ehr import API_KEY, FaultyNetwork, existing_patient

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def ps_database_url(tmp_path: Path) -> str:
    """SQLite only: what these checks find does not depend on the database (the ready practice
    runs on PostgreSQL and Redis too, below)."""
    return f"sqlite:///{tmp_path / 'practice-sync.db'}"


@pytest.fixture
def smtp_port() -> Iterator[int]:
    with smtp_server() as port:
        yield port


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as gateway:
        yield gateway


@pytest.fixture
def check(ps_runtime_factory, network: FaultyNetwork, smtp_port: int, sms_gateway: SmsGateway):
    """``check(edit=None, adapter=None, **overrides)``: run every check on the ready practice,
    changed by ``edit`` (on the settings overrides) and ``overrides``, its EHR the in-process
    sandbox unless ``adapter`` says otherwise; the checks, in the order they were reported."""

    def run(
        edit: Edit | None = None,
        adapter: KareoLikeAdapter | None = None,
        **overrides: Any,
    ) -> list[GoLiveCheck]:
        settings = ready_overrides(smtp_port, sms_gateway.url)
        if edit is not None:
            edit(settings)
        runtime = ps_runtime_factory(**settings, **overrides)
        runtime.ehr.use(
            "acme",
            adapter
            or KareoLikeAdapter(
                "http://sandbox-ehr", API_KEY, transport=network, transient_retries=0
            ),
        )
        reported: list[GoLiveCheck] = []
        checks = run_go_live_checks(runtime, reported.append)
        assert reported == checks  # each reported as it completed, none held back
        return checks

    return run


def failed(checks: list[GoLiveCheck]) -> dict[str, str]:
    """The failed checks: name → what to change."""
    return {c.name: c.fix for c in checks if not c.ok}


def only_failure(checks: list[GoLiveCheck]) -> tuple[str, str]:
    failures = failed(checks)
    assert len(failures) == 1, "\n".join(describe(c) for c in checks if not c.ok)
    ((name, fix),) = failures.items()
    return name, fix


def growth(settings: dict[str, Any]) -> dict[str, Any]:
    return settings["plugins"]["config"]["growth_platform"]["practices"]["acme"]


def test_a_practice_ready_for_go_live_passes_every_check(check, sms_gateway):
    checks = check()
    assert failed(checks) == {}
    assert [c.name for c in checks] == [
        "database: reachable and migrated to head",
        "broker: in this process (stub://)",
        "practice acme: EHR (kareo_like) answers with its credentials",
        "practice acme: provider dr_lee is in the EHR (ehr_id 1001)",
        "practice acme: provider dr_patel is in the EHR (ehr_id 1002)",
        "practice acme: location downtown is in the EHR (ehr_id downtown)",
        "practice acme: location uptown is in the EHR (ehr_id uptown)",
        "practice acme: the EHR's patient surveys are off",
        "practice acme: the EHR's own online scheduler is off",
        "practice acme: the EHR's provider profiles are unpublished",
        "practice acme: the EHR's online presence is off",
        "practice acme: the EHR sends patient communications for provider dr_lee",
        "practice acme: the EHR sends patient communications for provider dr_patel",
        "channel email answers (used as acme's email_channel)",
        "channel sms answers (used as acme's sms_channel)",
        "practice acme: provider dr_lee has a booking calendar at each of their locations",
        "practice acme: provider dr_patel has a booking calendar at each of their locations",
        "practice acme: reason checkup books an EHR visit reason with a duration",
        "practice acme: reason follow_up books an EHR visit reason with a duration",
        "practice acme: intake forms are on in the EHR only",
        "practice acme: a real Kareo-like EHR, not the bundled sandbox",
    ]
    assert sms_gateway.probes == ["/2010-04-01/Accounts/AC0go0live.json"]


# -- the database and the broker -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_a_ready_practice_on_postgresql_and_redis_passes(smtp_port, sms_gateway, network):
    with postgres_schema_url() as database_url:
        settings = ready_overrides(smtp_port, sms_gateway.url)
        settings["broker"] = {"url": redis_url(), "queue": f"ps_test_{secrets.token_hex(4)}"}
        runtime = Runtime(build_settings(database_url, **settings), dispatcher=QueueDispatcher())
        runtime.ehr.use("acme", KareoLikeAdapter("http://sandbox-ehr", API_KEY, transport=network))
        try:
            runtime.migrate()
            checks = run_go_live_checks(runtime, lambda _: None)
        finally:
            runtime.close()
    assert failed(checks) == {}
    assert checks[1].name == "broker: reachable (redis://)"


def runtime_on(database: Path, smtp_port: int, sms_url: str, network: FaultyNetwork) -> Runtime:
    runtime = Runtime(
        build_settings(f"sqlite:///{database}", **ready_overrides(smtp_port, sms_url)),
        dispatcher=QueueDispatcher(),
    )
    adapter = KareoLikeAdapter("http://sandbox-ehr", API_KEY, transport=network)
    runtime.ehr.use("acme", adapter)
    return runtime


@pytest.mark.parametrize("created", [False, True], ids=["no_file", "empty"])
def test_an_unmigrated_database_fails_its_check(tmp_path, smtp_port, sms_gateway, network, created):
    database = tmp_path / "practice-sync.db"
    if created:
        sqlite3.connect(database).close()
    runtime = runtime_on(database, smtp_port, sms_gateway.url, network)
    try:
        checks = run_go_live_checks(runtime, lambda _: None)
    finally:
        runtime.close()
    name, fix = only_failure(checks)
    assert name == "database: reachable and migrated to head"
    assert "run `practice-sync migrate`" in fix
    assert not any("booking calendar" in c.name for c in checks)  # needs the database


def test_an_unreachable_broker_fails_its_check(check):
    name, fix = only_failure(check(broker={"url": f"redis://127.0.0.1:{free_port()}/0"}))
    assert name == "broker: reachable (redis://)"
    assert "check broker.url" in fix


# -- the EHR -----------------------------------------------------------------------------------


def test_an_unreachable_ehr_fails_one_check_and_nothing_that_needs_it_is_claimed(check):
    adapter = KareoLikeAdapter(f"http://127.0.0.1:{free_port()}", API_KEY, transient_retries=0)
    checks = check(adapter=adapter)
    name, fix = only_failure(checks)
    assert name == "practice acme: EHR (kareo_like) answers with its credentials"
    assert fix.startswith("the EHR could not be reached (external_unavailable)")
    assert "plugins.config.ehr_kareo_like.practices.acme" in fix
    assert not any("is in the EHR" in c.name or "reason" in c.name for c in checks)


def test_wrong_ehr_credentials_fail_the_ehr_check(check, network):
    adapter = KareoLikeAdapter(
        "http://sandbox-ehr", "wrong-key-4471", transport=network, transient_retries=0
    )
    checks = check(adapter=adapter)
    name, fix = only_failure(checks)
    assert name == "practice acme: EHR (kareo_like) answers with its credentials"
    assert fix == (
        "the EHR refused the credentials (ehr_unauthorized): check the API key in "
        "plugins.config.ehr_kareo_like.practices.acme"
    )
    assert not any("wrong-key-4471" in describe(c) for c in checks)


def test_a_provider_id_the_ehr_does_not_have_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        settings["practices"]["acme"]["providers"]["dr_patel"]["ehr_id"] = "2002"

    name, fix = only_failure(check(edit))
    assert name == "practice acme: provider dr_patel is in the EHR (ehr_id 2002)"
    assert fix.startswith(
        "the EHR has no provider '2002': set practices.acme.providers.dr_patel.ehr_id to their "
        "id in the EHR (the EHR has 1001 (Dr. Morgan Lee), 1002 (Dr. Asha Patel)"
    )


def test_a_location_id_the_ehr_does_not_have_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        settings["practices"]["acme"]["locations"]["uptown"]["ehr_id"] = "annex"

    name, fix = only_failure(check(edit))
    assert name == "practice acme: location uptown is in the EHR (ehr_id annex)"
    assert "set practices.acme.locations.uptown.ehr_id to its id in the EHR" in fix


def test_a_location_without_its_ehr_id_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        del settings["practices"]["acme"]["locations"]["uptown"]["ehr_id"]

    name, fix = only_failure(check(edit))
    assert name == "practice acme: location uptown is in the EHR"
    assert fix.startswith("practices.acme.locations.uptown.ehr_id is not set: set it")


@pytest.mark.parametrize(
    ("switch", "name", "fix"),
    [
        ("surveys_enabled", "the EHR's patient surveys are off", "turn patient surveys off"),
        (
            "online_scheduler_enabled",
            "the EHR's own online scheduler is off",
            "turn online scheduling off",
        ),
        (
            "provider_profiles_published",
            "the EHR's provider profiles are unpublished",
            "unpublish the provider profiles",
        ),
        ("online_presence_enabled", "the EHR's online presence is off", "turn the online presence"),
    ],
)
def test_each_go_live_setting_of_the_ehr_fails_on_its_own(
    check, ehr: SandboxStore, switch, name, fix
):
    ehr.set_practice_settings(**{switch: True})
    failure = only_failure(check())
    assert failure[0] == f"practice acme: {name}"
    assert failure[1].startswith(fix) and "in the EHR's practice settings" in failure[1]


def test_patient_communications_off_for_a_provider_fails(check, ehr: SandboxStore):
    ehr.set_patient_communications("1002", enabled=False)
    name, fix = only_failure(check())
    assert name == "practice acme: the EHR sends patient communications for provider dr_patel"
    assert fix.startswith("turn patient communications on for provider 1002 (Dr. Asha Patel)")


# -- the booking platform ----------------------------------------------------------------------


def test_a_reason_without_an_ehr_visit_reason_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        del growth(settings)["reasons"]["follow_up"]["ehr_visit_reason"]

    name, fix = only_failure(check(edit))
    assert name == "practice acme: reason follow_up books an EHR visit reason with a duration"
    assert fix.startswith(
        "plugins.config.growth_platform.practices.acme.reasons.follow_up.ehr_visit_reason is "
        "not set: set it to the id of the EHR visit reason it books (the EHR has 1 (New patient "
        "visit, 45 min)"
    )


def test_a_reason_mapped_to_a_visit_reason_without_duration_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        growth(settings)["reasons"]["checkup"]["ehr_visit_reason"] = "5"

    name, fix = only_failure(check(edit))
    assert name == "practice acme: reason checkup books an EHR visit reason with a duration"
    assert fix.startswith(
        "the EHR's visit reason 5 (Other (length set by staff)) has no duration: give it one "
        "in the EHR, or map plugins.config.growth_platform.practices.acme.reasons.checkup."
        "ehr_visit_reason to another"
    )


def test_a_reason_mapped_to_a_visit_reason_the_ehr_does_not_have_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        growth(settings)["reasons"]["checkup"]["ehr_visit_reason"] = "99"

    name, fix = only_failure(check(edit))
    assert name == "practice acme: reason checkup books an EHR visit reason with a duration"
    assert "ehr_visit_reason = '99' is no visit reason in the EHR" in fix


def test_intake_forms_on_in_both_systems_fail(check):
    def edit(settings: dict[str, Any]) -> None:
        growth(settings)["intake_forms"] = "booking_platform"

    name, fix = only_failure(check(edit))
    assert name == "practice acme: intake forms are on in the booking platform only"
    assert fix == (
        "they are on in both systems: turn intake forms off in the EHR's practice settings, or "
        'set plugins.config.growth_platform.practices.acme.intake_forms = "ehr"'
    )


def test_intake_forms_on_in_neither_system_fail(check, ehr: SandboxStore):
    ehr.set_practice_settings(intake_forms_enabled=False)
    name, fix = only_failure(check())
    assert name == "practice acme: intake forms are on in the EHR only"
    assert fix.startswith("they are on in neither system: turn intake forms on in the EHR's")


def test_a_provider_without_a_calendar_at_one_of_their_locations_fails(check):
    def edit(settings: dict[str, Any]) -> None:
        del growth(settings)["calendars"]["dr_lee"]["uptown"]

    name, fix = only_failure(check(edit))
    assert (
        name == "practice acme: provider dr_lee has a booking calendar at each of their locations"
    )
    assert fix.startswith("none at uptown: add one with PUT /v1/practices/acme/calendars/dr_lee/")


# -- the channels ------------------------------------------------------------------------------


def test_an_smtp_server_that_is_down_fails_the_email_channel(check):
    def edit(settings: dict[str, Any]) -> None:
        settings["plugins"]["config"]["notifications"]["email"]["port"] = free_port()

    name, fix = only_failure(check(edit))
    assert name == "channel email answers (used as acme's email_channel)"
    assert fix.startswith(
        "the mail server is unavailable (email_unavailable): check plugins.config.notifications"
        ".email (host, port"
    )


def test_the_file_channel_is_not_for_go_live(check):
    def edit(settings: dict[str, Any]) -> None:
        settings["plugins"]["config"]["notifications"]["practices"]["acme"]["sms_channel"] = "file"

    name, fix = only_failure(check(edit))
    assert name == "channel file reaches people (used as acme's sms_channel)"
    assert fix.startswith("the file channel writes messages to a folder, for development")


def test_a_practice_on_the_bundled_sandbox_is_not_ready(check):
    def edit(settings: dict[str, Any]) -> None:
        settings["plugins"]["config"]["ehr_kareo_like"]["practices"]["acme"] = {"sandbox": True}

    name, fix = only_failure(check(edit))
    assert name == "practice acme: a real Kareo-like EHR, not the bundled sandbox"
    assert fix.startswith("set plugins.config.ehr_kareo_like.practices.acme.base_url")


def test_an_sms_gateway_refusing_the_credentials_fails_the_sms_channel(check, sms_gateway):
    sms_gateway.auth_token = "rotated-token"
    checks = check()
    name, fix = only_failure(checks)
    assert name == "channel sms answers (used as acme's sms_channel)"
    assert fix.startswith("the SMS gateway refused the credentials (401) (sms_unauthorized)")
    assert not any(AUTH_TOKEN in describe(c) for c in checks)


# -- what the lines never carry, and plugins that break ----------------------------------------


def test_no_line_carries_a_secret_or_patient_data(check, ehr: SandboxStore, network):
    existing_patient(ehr, "Zephyrine", "Quillfeather", date(1984, 7, 19))

    def edit(settings: dict[str, Any]) -> None:
        growth(settings)["intake_forms"] = "booking_platform"
        settings["practices"]["acme"]["providers"]["dr_patel"]["ehr_id"] = "2002"

    ehr.set_practice_settings(surveys_enabled=True)
    lines = [describe(c) for c in check(edit)]
    text = "\n".join(lines)
    assert len(failed_lines := [line for line in lines if line.startswith("FAIL")]) == 3, text
    for secret in (API_KEY, AUTH_TOKEN, "token-front-desk", "Zephyrine", "Quillfeather"):
        assert secret not in text, failed_lines


class Broken:
    @hookimpl
    def go_live_checks(self) -> list[GoLiveCheck]:
        raise RuntimeError("a bug in the plugin")


def test_a_plugin_whose_checks_crash_is_a_failed_line(check):
    checks = check(extra_plugins={"broken": Broken()})
    name, fix = only_failure(checks)
    assert name == "plugin broken: its go-live checks run"
    assert fix.startswith("they stopped with unexpected_error (RuntimeError)")
