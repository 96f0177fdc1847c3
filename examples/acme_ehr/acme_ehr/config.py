"""The Acme adapter's settings, under ``plugins.config.acme_ehr``.

Per practice: where its Acme EHR is, the API key to it and the secret its webhooks are signed
with. Both secrets are ``SecretStr``, so practice-sync refuses them in the config file: set them
in the environment (``PRACTICE_SYNC_PLUGINS__CONFIG__ACME_EHR__PRACTICES__<PRACTICE>__API_KEY``,
``…__WEBHOOK_SECRET``) or in the secrets file named by ``PRACTICE_SYNC_SECRETS_FILE``.
"""

from __future__ import annotations

from integration_core.api import ConfigSection, Settings, plugin_config
from pydantic import Field, SecretStr

__all__ = ["PLUGIN", "AcmePractice", "AcmeSettings", "load"]

PLUGIN = "acme_ehr"


class AcmePractice(ConfigSection):
    base_url: str = Field(pattern=r"^https?://\S+$", description="the practice's Acme EHR")
    api_key: SecretStr = Field(description="from the environment or the secrets file")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Acme's Standard Webhooks secret (whsec_…); none: no webhooks"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class AcmeSettings(ConfigSection):
    practices: dict[str, AcmePractice] = Field(default={}, description="by practice slug")


def load(settings: Settings) -> AcmeSettings:
    """The validated settings (validated once at start-up, then the same object)."""
    return plugin_config(settings, PLUGIN, AcmeSettings)
