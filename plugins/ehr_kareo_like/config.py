"""The Kareo-like adapter's settings, under ``plugins.config.ehr_kareo_like``.

Per practice: the EHR's base URL (``inprocess`` for the sandbox inside this process, as the
embedded default runs it) and its API key — a secret, so set it in the environment, e.g.
``PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__API_KEY``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from integration_core.api import ConfigSection, Settings, plugin_config

__all__ = ["KareoPracticeSettings", "KareoSettings", "SandboxSettings", "load"]

PLUGIN = "ehr_kareo_like"
INPROCESS = "inprocess"


class SandboxSettings(ConfigSection):
    database_url: str = Field(
        default="sqlite:///sandbox-ehr.db", description="the in-process sandbox EHR's own database"
    )
    api_key: SecretStr = SecretStr("sandbox-key")


class KareoPracticeSettings(ConfigSection):
    base_url: str = Field(default=INPROCESS, description="http(s)://… or inprocess")
    api_key: SecretStr | None = Field(default=None, description="defaults to the sandbox's key")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    transient_retries: int = Field(
        default=2, ge=0, le=10, description="quick retries inside one delivery attempt"
    )


class KareoSettings(ConfigSection):
    sandbox: SandboxSettings = SandboxSettings()
    practices: dict[str, KareoPracticeSettings] = {}


def load(settings: Settings) -> KareoSettings:
    return plugin_config(settings, PLUGIN, KareoSettings)
