"""Start-up refuses what a delivery would otherwise find wrong later, naming the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from integration_core.errors import ConfigError
from integration_core.runtime import Runtime
from integration_core.settings import load_settings
from plugins.notifications.config import load as load_notifications
from tests.support.commands import CONFIG_WITH_PROVIDER, run

BASE = 'database_url = "sqlite:///{db}"\n' + CONFIG_WITH_PROVIDER


@pytest.fixture
def config(tmp_path: Path):
    """Write the base configuration plus ``extra`` TOML; returns the file."""

    def write(extra: str = "") -> Path:
        path = tmp_path / "practice-sync.toml"
        text = BASE.format(db=tmp_path / "db.sqlite") + textwrap.dedent(extra)
        path.write_text(text)
        return path

    return write


def refused(path: Path) -> str:
    """The start-up error for the configuration at ``path``."""
    with pytest.raises(ConfigError) as caught:
        Runtime(load_settings(path)).close()
    return str(caught.value)


def starts(path: Path) -> None:
    Runtime(load_settings(path)).close()


def test_an_unknown_key_in_a_plugins_settings_is_refused(config):
    path = config(
        """
        [plugins.config.notifications]
        file_foldr = "messages"
        """
    )
    assert refused(path) == "plugins.config.notifications.file_foldr: unknown key"


def test_a_wrong_type_in_a_plugins_settings_names_the_full_key(config):
    path = config(
        """
        [plugins.config.ehr_kareo_like.practices.acme]
        timeout_seconds = "soon"
        """
    )
    assert refused(path).startswith(
        "plugins.config.ehr_kareo_like.practices.acme.timeout_seconds: Input should be"
    )


def test_settings_for_a_plugin_that_is_not_loaded_are_refused(config):
    path = config(
        """
        [plugins]
        blocked = ["notifications"]

        [plugins.config.notifications]
        file_folder = "messages"
        """
    )
    message = refused(path)
    assert message.startswith(
        "plugins.config.notifications: no plugin named 'notifications' is loaded (loaded: "
    )


def test_settings_for_a_plugin_that_declares_none_are_refused(config):
    path = config(
        """
        [plugins.config.ehr_sync]
        anything = 1
        """
    )
    assert refused(path) == "plugins.config.ehr_sync: the plugin 'ehr_sync' declares no settings"


SMS = """\
base_url = "https://sms.example"
account_sid = "AC1"
from_number = "+16175550100"
"""


@pytest.mark.parametrize(
    ("table", "key", "other_keys"),
    [
        ("ehr_kareo_like.practices.acme", "api_key", 'base_url = "https://ehr.example"\n'),
        ("notifications.email", "password", ""),
        ("notifications.sms", "auth_token", SMS),
    ],
)
def test_a_plugin_secret_in_the_config_file_is_refused_and_read_from_the_environment(
    config, monkeypatch, table, key, other_keys
):
    path = config(f"[plugins.config.{table}]\n{other_keys}{key} = 'in-the-file'\n")
    message = refused(path)
    assert message.startswith(
        f"plugins.config.{table}.{key}: secrets are read from the environment"
    )
    assert "in-the-file" not in message

    path = config(f"[plugins.config.{table}]\n{other_keys}")
    variable = "PRACTICE_SYNC_PLUGINS__CONFIG__" + f"{table}.{key}".upper().replace(".", "__")
    monkeypatch.setenv(variable, "from-the-environment")
    starts(path)


def with_ehr(path: Path, adapter: str = "kareo_like") -> Path:
    """The configuration at ``path`` with the practice's EHR adapter set (the Kareo-like
    sandbox, when that is the adapter)."""
    text = path.read_text().replace('name = "Acme"', f'name = "Acme"\nehr_adapter = "{adapter}"')
    sandbox = "\n[plugins.config.ehr_kareo_like.practices.acme]\nsandbox = true\n"
    path.write_text(text + (sandbox if adapter == "kareo_like" else ""))
    return path


def test_an_unknown_ehr_adapter_is_refused_with_the_registered_choices(config):
    problems = refused(with_ehr(config(), "kareo")).splitlines()
    assert problems[0] == (
        "practices.acme.ehr_adapter: no EHR adapter 'kareo' (registered: kareo_like)"
    )
    assert problems[1].startswith("plugins.config.notifications.email: not configured")


def test_a_practice_whose_patient_email_has_no_smtp_settings_is_refused(config):
    message = refused(with_ehr(config()))
    assert message.startswith("plugins.config.notifications.email: not configured (practice acme")
    assert "plugins.config.notifications.practices.acme.email_channel: email, file, sms" in message


def test_a_misspelled_channel_is_refused_with_the_choices(config):
    path = with_ehr(
        config(
            """
            [plugins.config.notifications.practices.acme]
            email_channel = "emial"
            """
        )
    )
    assert refused(path) == (
        "plugins.config.notifications.practices.acme.email_channel: "
        "no channel 'emial' (registered: email, file, sms)"
    )


def test_text_alerts_need_the_sms_settings(config):
    path = config(
        """
        [plugins.config.notifications.practices.acme]
        alert_phones = ["+16175550999"]
        """
    )
    assert refused(path).startswith("plugins.config.notifications.sms: not configured")


def test_a_complete_configuration_starts(config):
    starts(
        with_ehr(
            config(
                """
                [plugins.config.notifications.email]
                host = "127.0.0.1"
                """
            )
        )
    )


def test_secrets_are_masked_in_every_representation(config, monkeypatch):
    path = with_ehr(config("[plugins.config.notifications.email]\nusername = 'desk'\n"))
    monkeypatch.setenv("PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__EMAIL__PASSWORD", "hunter2")
    settings = load_settings(path)
    Runtime(settings).close()
    email = load_notifications(settings).email
    assert email is not None and email.password is not None
    assert email.password.get_secret_value() == "hunter2"
    shown = [repr(settings), str(settings), repr(load_notifications(settings)), str(email)]
    assert not any("hunter2" in text for text in shown)


@pytest.mark.parametrize("command", ["check-config", "run", "serve", "worker", "scheduler"])
def test_every_command_refuses_a_bad_plugin_setting_in_one_line(config, command):
    path = config(
        """
        [plugins.config.notifications]
        file_foldr = "messages"
        """
    )
    result = run("--config", str(path), command)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error:",
        "plugins.config.notifications.file_foldr: unknown key",
    ]


def test_without_a_database_url_nothing_starts(tmp_path):
    path = tmp_path / "practice-sync.toml"
    path.write_text(BASE.replace('database_url = "sqlite:///{db}"\n', ""))
    assert refused(path).startswith("database_url: not set; use sqlite:///")


def test_an_unsupported_database_is_named(config, tmp_path):
    path = config()
    path.write_text(path.read_text().replace("sqlite:///", "mysql://"))
    with pytest.raises(ConfigError, match=r"^database_url: unsupported database; use sqlite"):
        load_settings(path)


def test_a_missing_setting_names_its_environment_variable(config):
    path = config("[plugins.config.notifications.sms]\nbase_url = 'https://sms.example'\n")
    lines = refused(path).splitlines()
    assert (
        "plugins.config.notifications.sms.auth_token: required: set it in the config file or as "
        "PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__SMS__AUTH_TOKEN "
        "(a secret: as that variable or in the secrets file only)"
    ) in lines


def test_a_secrets_file_that_does_not_exist_is_named(config, monkeypatch, tmp_path):
    monkeypatch.setenv("PRACTICE_SYNC_SECRETS_FILE", str(tmp_path / "absent.env"))
    with pytest.raises(ConfigError) as caught:
        load_settings(config())
    assert (
        str(caught.value) == f"PRACTICE_SYNC_SECRETS_FILE: no such file {tmp_path / 'absent.env'}"
    )
