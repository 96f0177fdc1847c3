"""The plugin as practice-sync sees it: declared settings, the factory, start-up checks."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import WEBHOOK_SECRET
from integration_core.api import ConfigError, Settings

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_webhooks import WebhookSigner
from acme_ehr.plugin import build_adapter, check_config

CONFIG = Path(__file__).parents[1] / "practice-sync.toml"
KEY_VARIABLE = "PRACTICE_SYNC_PLUGINS__CONFIG__ACME_EHR__PRACTICES__RIVERSIDE__API_KEY"


def example() -> dict[str, Any]:
    """The example configuration, as the TOML file has it."""
    return tomllib.loads(CONFIG.read_text())


def settings(document: dict[str, Any], api_key: str | None = "from-the-environment") -> Settings:
    document = copy.deepcopy(document)
    if api_key is not None:
        acme = document["plugins"]["config"]["acme_ehr"]["practices"]["riverside"]
        acme["api_key"] = api_key
    return Settings(**document)


def practice_sync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("practice-sync")
    return subprocess.run(
        [str(command), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_factory_builds_the_practices_adapter() -> None:
    adapter = build_adapter("riverside", settings(example()))
    assert isinstance(adapter, AcmeEHRAdapter)
    adapter.close()


def test_the_factory_gives_the_adapter_the_practices_webhook_secret() -> None:
    document = example()
    document["plugins"]["config"]["acme_ehr"]["practices"]["riverside"]["webhook_secret"] = (
        WEBHOOK_SECRET
    )
    adapter = build_adapter("riverside", settings(document))
    signed_at = datetime(2031, 3, 1, tzinfo=UTC)
    message = WebhookSigner(WEBHOOK_SECRET, lambda: signed_at).sign('{"event": "ping"}')
    assert adapter.parse_webhook(message.headers, message.body, now=signed_at).changes == ()
    adapter.close()


def test_a_practice_on_acme_without_acme_settings_is_refused() -> None:
    document = example()
    del document["plugins"]["config"]["acme_ehr"]
    with pytest.raises(ConfigError) as caught:
        check_config(settings(document, api_key=None))
    assert str(caught.value).startswith("plugins.config.acme_ehr.practices.riverside: missing")


def test_every_location_of_a_practice_on_acme_needs_its_site_id() -> None:
    document = example()
    del document["practices"]["riverside"]["locations"]["uptown"]["ehr_id"]
    with pytest.raises(ConfigError) as caught:
        check_config(settings(document))
    assert str(caught.value).startswith("practices.riverside.locations.uptown.ehr_id: missing")


def test_the_example_configuration_is_valid_with_the_key_in_the_environment() -> None:
    checked = practice_sync(
        "--config", str(CONFIG), "check-config", env={**os.environ, KEY_VARIABLE: "k"}
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("configuration is valid")


def test_the_api_key_is_refused_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "practice-sync.toml"
    config.write_text(
        CONFIG.read_text().replace(
            "[plugins.config.acme_ehr.practices.riverside]\n",
            '[plugins.config.acme_ehr.practices.riverside]\napi_key = "in-the-file"\n',
        )
    )
    checked = practice_sync("--config", str(config), "check-config", env=dict(os.environ))
    assert checked.returncode == 2
    assert "plugins.config.acme_ehr.practices.riverside.api_key: secrets are read" in (
        checked.stderr
    )
    assert "in-the-file" not in checked.stderr
