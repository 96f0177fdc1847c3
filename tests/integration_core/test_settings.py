"""Configuration: TOML + environment + secrets file, and errors that name the key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from integration_core.errors import ConfigError
from integration_core.settings import Settings, built_once, load_settings, plugin_config
from plugins.growth_platform.config import load
from tests.support.commands import CONFIG_WITH_PROVIDER, run

EXAMPLE = Path(__file__).parents[2] / "examples" / "practice-sync.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


MINIMAL = CONFIG_WITH_PROVIDER


def test_the_example_config_is_valid():
    settings = load_settings(EXAMPLE)
    acme = settings.practice("acme")
    assert sorted(acme.locations) == ["downtown", "lakeside"]
    assert len(acme.providers) == 3
    assert acme.locations["lakeside"].zone.key == "America/Chicago"
    growth = load(settings).practices["acme"]
    assert set(growth.reasons) == {"checkup", "follow_up"}
    assert growth.calendars["dr_lee"]["downtown"].days["wed"].enabled is False


@pytest.mark.parametrize(
    ("replace", "with_", "expected"),
    [
        (
            'time_zone = "America/New_York"',
            'time_zone = "Mars/Olympus"',
            "practices.acme.locations.main.time_zone: unknown time zone",
        ),
        (
            'ehr_id = "1001"',
            'ehr_id = ""',
            "practices.acme.providers.dr_lee.ehr_id: String should have at least 1 character",
        ),
        (
            'locations = ["main"]',
            'locations = ["annex"]',
            "practices.acme: providers.dr_lee.locations: unknown location 'annex'",
        ),
        ("practices.acme", "practices.Acme-West", "practices: 'Acme-West' is not a slug"),
        (
            'name = "Main"',
            'name = "Main"\nzone = "x"',
            "practices.acme.locations.main.zone: unknown key",
        ),
    ],
)
def test_a_wrong_value_names_its_key_path(tmp_path, replace, with_, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL.replace(replace, with_)))
    assert expected in str(caught.value)


def test_environment_overrides_any_key_including_nested_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("PRACTICE_SYNC_PRACTICES__ACME__PROVIDERS__DR_LEE__EHR_ID", "2002")
    monkeypatch.setenv("PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__FRONT_DESK", "s3cret")
    monkeypatch.setenv("PRACTICE_SYNC_BROKER__WORKER_THREADS", "8")
    settings = load_settings(write(tmp_path, MINIMAL))
    acme = settings.practice("acme")
    assert acme.providers["dr_lee"].ehr_id == "2002"
    assert acme.providers["dr_lee"].name == "Dr. Lee"  # the rest of the table is kept
    assert acme.staff_tokens["front_desk"].get_secret_value() == "s3cret"
    assert settings.broker.worker_threads == 8


def test_an_environment_value_is_validated_with_its_key_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PRACTICE_SYNC_BROKER__WORKER_THREADS", "lots")
    with pytest.raises(
        ConfigError, match=r"broker\.worker_threads: Input should be a valid integer"
    ):
        load_settings(write(tmp_path, MINIMAL))


def test_secrets_come_from_the_secrets_file(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__MANAGER=from-file\n")
    monkeypatch.setenv("PRACTICE_SYNC_SECRETS_FILE", str(secrets))
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.practice("acme").staff_tokens["manager"].get_secret_value() == "from-file"


def test_secrets_in_the_config_file_are_refused(tmp_path):
    text = MINIMAL + '[practices.acme.staff_tokens]\nfront_desk = "oops"\n'
    with pytest.raises(
        ConfigError, match=r"practices\.acme\.staff_tokens\.front_desk: secrets are read"
    ):
        load_settings(write(tmp_path, text))


def test_plugin_settings_are_validated_under_their_key(tmp_path):
    from pydantic import BaseModel

    class Mail(BaseModel):
        port: int

    settings = load_settings(write(tmp_path, MINIMAL + '[plugins.config.mail]\nport = "x"\n'))
    with pytest.raises(ConfigError, match=r"plugins\.config\.mail\.port: Input should be"):
        plugin_config(settings, "mail", Mail)


def test_check_config_command_reports_the_key_path(tmp_path):
    bad = write(tmp_path, MINIMAL.replace("America/New_York", "Nowhere/Land"))
    result = run("--config", str(bad), "check-config")
    assert result.returncode == 2
    assert (
        "practices.acme.locations.main.time_zone: unknown time zone 'Nowhere/Land'" in result.stderr
    )

    good = run("--config", str(EXAMPLE), "check-config")
    assert good.returncode == 0, good.stderr
    assert "practice acme: 2 location(s), 3 provider(s)" in good.stdout


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config: no such file"):
        load_settings(tmp_path / "absent.toml")


def test_check_config_validates_plugin_settings_against_the_practice(tmp_path):
    text = MINIMAL + (
        "[plugins.config.growth_platform.practices.acme.reasons.flu]\n"
        'name = "Flu shot"\nproviders = ["dr_who"]\nlocations = ["main"]\n'
    )
    command = [
        sys.executable,
        "-m",
        "integration_core",
        "--config",
        str(write(tmp_path, text)),
        "check-config",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (
        "plugins.config.growth_platform.practices.acme.reasons.flu.providers: "
        "unknown provider 'dr_who'" in result.stderr
    )


def test_what_is_built_from_a_configuration_is_built_once_per_configuration():
    from plugins.notifications.config import NotificationSettings

    settings = Settings(plugins={"config": {"notifications": {"file_folder": "first"}}})
    validated = plugin_config(settings, "notifications", NotificationSettings)
    assert plugin_config(settings, "notifications", NotificationSettings) is validated

    changed = settings.model_copy(deep=True)
    changed.plugins.config["notifications"]["file_folder"] = "second"
    assert plugin_config(changed, "notifications", NotificationSettings).file_folder == "second"

    calls = []

    def failing() -> object:
        calls.append(1)
        raise ConfigError("plugins.config.x: broken")

    for _ in range(2):
        with pytest.raises(ConfigError):
            built_once(settings, "broken", failing)
    assert len(calls) == 2  # a failure is not kept: it shows on every call
