"""Processes that cannot work refuse to start, with one line naming what to fix."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from integration_core.testing import free_port, wait_until
from integration_core.testing.services import redis_url
from tests.support.commands import CONFIG_WITH_PROVIDER, run
from tests.support.schema import ONE_MIGRATION_BEHIND

SERVERS = ["run", "serve", "worker", "scheduler"]


@pytest.fixture
def deployment(tmp_path: Path):
    """``(config file, environment)`` for one practice on a SQLite file in ``tmp_path``, its
    processes sharing Redis (serve, worker and scheduler need a broker they share)."""
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG_WITH_PROVIDER)
    env = {
        **os.environ,
        "PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PRACTICE_SYNC_BROKER__URL": redis_url(),
        "PRACTICE_SYNC_BROKER__QUEUE": f"ps_test_{secrets.token_hex(4)}",
        "PRACTICE_SYNC_HTTP__PORT": str(free_port()),
    }
    return config, env


def refusal(config: Path, env: dict[str, str], command: str) -> list[str]:
    result = run("--config", str(config), command, env=env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("cannot start:\n")
    return result.stderr.splitlines()[1:]


@pytest.mark.parametrize("command", SERVERS)
def test_an_unmigrated_database_is_refused(deployment, command):
    config, env = deployment
    assert refusal(config, env, command) == [
        "database: reachable and migrated to head — failed: no database file where "
        "database_url points: run `practice-sync migrate`"
    ]


@pytest.mark.parametrize("command", ["run", "worker"])
def test_with_json_logs_a_refusal_is_one_json_error_record(deployment, command):
    config, env = deployment
    result = run(
        "--config", str(config), command, env=env | {"PRACTICE_SYNC_LOGGING__FORMAT": "json"}
    )
    assert result.returncode == 1, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert entries[-1]["level"] == "error"
    assert entries[-1]["message"].startswith("cannot start:\ndatabase: reachable and migrated")


@pytest.mark.parametrize("command", SERVERS)
def test_a_schema_behind_is_refused(deployment, command):
    config, env = deployment
    assert run("--config", str(config), "migrate", env=env).returncode == 0
    db = env["PRACTICE_SYNC_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as connection:  # as if a newer release had added a migration
        connection.execute(ONE_MIGRATION_BEHIND)
    assert refusal(config, env, command) == [
        "database: reachable and migrated to head — failed: 1 migration(s) not applied: "
        "run `practice-sync migrate`"
    ]


@pytest.mark.parametrize("command", SERVERS)
def test_a_database_that_cannot_be_reached_is_refused(deployment, command):
    config, env = deployment
    env["PRACTICE_SYNC_DATABASE_URL"] = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    (line,) = refusal(config, env, command)
    assert line.startswith(
        "database: reachable and migrated to head — failed: the database could not be reached"
    )
    assert "database_url" in line


@pytest.mark.parametrize("command", SERVERS)
def test_a_broker_that_cannot_be_reached_is_refused(deployment, command):
    config, env = deployment
    assert run("--config", str(config), "migrate", env=env).returncode == 0
    env["PRACTICE_SYNC_BROKER__URL"] = f"redis://127.0.0.1:{free_port()}/0"
    (line,) = refusal(config, env, command)
    assert line.startswith("broker: reachable (redis://) — failed: the broker did not answer")
    assert "broker.url" in line


@pytest.mark.parametrize(("command", "refused"), [(c, c in ("run", "worker")) for c in SERVERS])
def test_an_ehr_that_cannot_be_reached_stops_the_processes_that_call_it(
    deployment, command, refused
):
    config, env = deployment
    config.write_text(
        config.read_text().replace('name = "Acme"', 'name = "Acme"\nehr_adapter = "kareo_like"')
        + f'[plugins.config.ehr_kareo_like.practices.acme]\nbase_url = "http://127.0.0.1:{free_port()}"\n'
        + '[plugins.config.notifications.practices.acme]\nemail_channel = "file"\n'
    )
    env["PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__API_KEY"] = "key"
    env["PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__FILE_FOLDER"] = str(config.parent)
    assert run("--config", str(config), "migrate", env=env).returncode == 0
    if not refused:
        return  # serve and scheduler never call an EHR (covered by the readiness tests)
    (line,) = refusal(config, env, command)
    assert line.startswith(
        "practice acme: EHR (kareo_like) answers with its credentials — failed: the EHR could "
        "not be reached (external_unavailable): check the address in "
        "plugins.config.ehr_kareo_like.practices.acme"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://db/practice", "database_url: unsupported database; use sqlite"),
        ("BROKER__URL", "kafka://queue", "broker.url: use stub:// (in-process)"),
    ],
)
def test_an_unsupported_scheme_is_a_configuration_error(deployment, key, value, expected):
    config, env = deployment
    env[f"PRACTICE_SYNC_{key}"] = value
    result = run("--config", str(config), "serve", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "configuration error:"
    assert result.stderr.splitlines()[1].startswith(expected)


@pytest.mark.parametrize("command", ["serve", "worker", "scheduler"])
def test_a_separate_process_on_the_in_process_broker_is_refused(deployment, command):
    config, env = deployment
    env["PRACTICE_SYNC_BROKER__URL"] = "stub://"
    result = run("--config", str(config), command, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error:",
        "broker.url: stub:// runs deliveries inside `practice-sync run` only; serve, worker "
        "and scheduler need a broker they share (redis://… or amqp://…)",
    ]


def test_debug_shows_the_traceback_the_plain_line_leaves_out(deployment):
    config, env = deployment
    env["PRACTICE_SYNC_DATABASE_URL"] = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    plain = run("--config", str(config), "migrate", env=env)
    assert plain.returncode == 1
    assert plain.stderr.splitlines() == [
        "error: the database could not be used (OperationalError): check database_url and the "
        "database (--debug shows the traceback)"
    ]
    debug = run("--config", str(config), "--debug", "migrate", env=env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_plugins_command_reports_the_configuration_error_instead_of_vanishing(deployment):
    config, env = deployment
    config.write_text(config.read_text().replace("America/New_York", "Nowhere/Land"))
    result = run("--config", str(config), "sandbox-ehr", "--help", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error:",
        "practices.acme.locations.main.time_zone: unknown time zone 'Nowhere/Land'; use an "
        "IANA name such as America/New_York",
    ]


def test_config_equals_file_is_read_like_config_file(deployment):
    config, env = deployment
    result = run(f"--config={config}", "sandbox-ehr", "--help", env=env)
    assert result.returncode == 0, result.stderr
    assert "Run the Kareo-like sandbox EHR server" in result.stdout


def test_the_scheduler_logs_why_a_pass_failed(ps_runtime_factory, caplog):
    runtime = ps_runtime_factory(scheduler={"tick_seconds": 0.05})

    def failing_pass() -> tuple[int, int]:
        raise OperationalError("SELECT secret FROM patients", {}, Exception("gone"))

    runtime.tick = failing_pass  # type: ignore[method-assign]
    caplog.set_level(logging.ERROR)
    runtime.start_scheduler()
    try:
        wait_until(lambda: "scheduler pass failed" in caplog.text, 10, "a failed pass")
    finally:
        runtime.stop_scheduler()
    record = next(r for r in caplog.records if r.getMessage().startswith("scheduler pass"))
    assert record.getMessage() == (
        "scheduler pass failed: the database could not be used (OperationalError): check "
        "database_url and the database"
    )
    assert record.exc_info is None and "SELECT" not in caplog.text
