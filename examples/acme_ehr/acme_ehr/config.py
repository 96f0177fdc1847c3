"""The Acme adapter's settings, under ``plugins.config.acme_ehr``.

Per practice: where its Acme EHR is and the API key to it. The key is a ``SecretStr``, so
practice-sync refuses it in the config file: set it in the environment
(``PRACTICE_SYNC_PLUGINS__CONFIG__ACME_EHR__PRACTICES__<PRACTICE>__API_KEY``) or in the secrets
file named by ``PRACTICE_SYNC_SECRETS_FILE``.
"""

from __future__ import annotations

from integration_core.api import ConfigSection, Settings, plugin_config
from pydantic import Field, SecretStr

__all__ = ["PLUGIN", "AcmePractice", "AcmeSettings", "load"]

PLUGIN = "acme_ehr"


class AcmePractice(ConfigSection):
    base_url: str = Field(pattern=r"^https?://\S+$", description="the practice's Acme EHR")
    api_key: SecretStr = Field(description="from the environment or the secrets file")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class AcmeSettings(ConfigSection):
    practices: dict[str, AcmePractice] = Field(default={}, description="by practice slug")


def load(settings: Settings) -> AcmeSettings:
    """The validated settings (validated once at start-up, then the same object)."""
    return plugin_config(settings, PLUGIN, AcmeSettings)
