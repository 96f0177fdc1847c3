"""A practice's webhook secret: from the environment into the practice's adapter, refused at
start-up when it is not a Standard Webhooks secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration_core.errors import ConfigError
from integration_core.runtime import Runtime
from integration_core.settings import load_settings
from integration_core.testing import TEST_PRACTICE, build_settings
from plugins.ehr_kareo_like.plugin import build_adapter
from tests.support.kareo_contract import WEBHOOK_SECRET

PRACTICE_ENV = "PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__"
CONFIG = """
[practices.acme]
name = "Acme"
ehr_adapter = "kareo_like"
[practices.acme.locations.main]
name = "Main"
time_zone = "America/New_York"

[plugins]
enabled = ["ehr_sync", "ehr_kareo_like"]
[plugins.config.ehr_kareo_like.practices.acme]
base_url = "https://ehr.example"
"""


def test_the_secret_set_in_the_environment_verifies_the_practices_webhooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv(f"{PRACTICE_ENV}API_KEY", "ehr-key")
    monkeypatch.setenv(f"{PRACTICE_ENV}WEBHOOK_SECRET", WEBHOOK_SECRET)
    adapter = build_adapter("acme", load_settings(config))
    assert adapter.webhook_secret == WEBHOOK_SECRET
    adapter.close()


def test_without_a_secret_the_adapter_has_none(tmp_path: Path) -> None:
    adapter = build_adapter(
        "acme", build_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", **_on_kareo({}))
    )
    assert adapter.webhook_secret is None
    adapter.close()


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "whsec_not-base64!", WEBHOOK_SECRET.removeprefix("whsec_")],
    ids=["empty", "not_base64", "no_prefix"],
)
def test_a_secret_that_cannot_sign_is_refused_naming_its_key(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Runtime(
            build_settings(
                f"sqlite:///{tmp_path / 'db.sqlite'}", **_on_kareo({"webhook_secret": secret})
            )
        )
    assert str(refused.value) == (
        "plugins.config.ehr_kareo_like.practices.acme.webhook_secret: "
        "a Standard Webhooks secret is whsec_ and base64"
    )


def _on_kareo(practice: dict[str, object]) -> dict[str, object]:
    return {
        "practices": {"acme": {**TEST_PRACTICE, "ehr_adapter": "kareo_like"}},
        "plugins": {
            "enabled": ["ehr_sync", "ehr_kareo_like"],
            "config": {
                "ehr_kareo_like": {
                    "practices": {
                        "acme": {"base_url": "https://ehr.example", "api_key": "k", **practice}
                    }
                }
            },
        },
    }
