"""The Kareo-like adapter's settings, under ``plugins.config.ehr_kareo_like``.

Per practice, one of:

* ``base_url`` — the practice's Kareo-like EHR (``https://…``), with its API key: a secret, so
  set it in the environment, e.g.
  ``PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__API_KEY``;
* ``sandbox = true`` — the bundled sandbox EHR, run inside this process (development, demos).
  Asked for explicitly, never a default; its database is in memory unless
  ``sandbox.database_url`` names one.

Every practice whose ``ehr_adapter`` is ``kareo_like`` needs its table here (checked at
start-up).

A practice's ``webhook_secret`` is the Standard Webhooks secret its EHR signs change webhooks
with (``whsec_…``, given when the webhook subscription was made): a secret too, so from the
environment (``…__PRACTICES__ACME__WEBHOOK_SECRET``). Without one, every webhook is refused and
changes are read from the EHR's feed alone.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re

from pydantic import Field, SecretStr, field_validator, model_validator

from integration_core.api import (
    ConfigError,
    ConfigSection,
    Settings,
    plugin_config,
    unknown_practices,
)

__all__ = [
    "ADAPTER",
    "PLUGIN",
    "KareoPracticeSettings",
    "KareoSettings",
    "SandboxSettings",
    "cross_check",
    "load",
]

PLUGIN = "ehr_kareo_like"
ADAPTER = "kareo_like"
IN_MEMORY = "sqlite://"
SECRET_PREFIX = "whsec_"
log = logging.getLogger(__name__)


class SandboxSettings(ConfigSection):
    database_url: str = Field(
        default=IN_MEMORY,
        description="the in-process sandbox EHR's own database (default: in memory, kept nowhere)",
    )
    api_key: SecretStr = SecretStr("sandbox-key")


class KareoPracticeSettings(ConfigSection):
    base_url: str | None = Field(default=None, description="the practice's EHR: http(s)://…")
    sandbox: bool = Field(
        default=False, description="use the bundled sandbox EHR in this process instead"
    )
    api_key: SecretStr | None = Field(default=None, description="required with base_url")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    transient_retries: int = Field(
        default=2, ge=0, le=10, description="quick retries inside one delivery attempt"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="the secret the EHR signs its webhooks with (whsec_…)"
    )

    @field_validator("webhook_secret")
    @classmethod
    def _standard_webhooks_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        """``whsec_`` and the base64 of some bytes, as the EHR gives it: checked here, since
        a secret that cannot sign would refuse every webhook without saying why."""
        if secret is None:
            return None
        value = secret.get_secret_value()
        encoded = value.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            key = b""
        if not value.startswith(SECRET_PREFIX) or not key:
            raise ValueError("a Standard Webhooks secret is whsec_ and base64")
        return secret

    @model_validator(mode="after")
    def _one_ehr(self) -> KareoPracticeSettings:
        if self.sandbox:
            if self.base_url is not None:
                raise ValueError("set base_url or sandbox = true, not both")
            return self
        if self.base_url is None:
            raise ValueError(
                "base_url is required (the practice's EHR, https://…), "
                "or sandbox = true for the bundled sandbox EHR in this process"
            )
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise ValueError("base_url must be an http(s):// address")
        if self.api_key is None:
            raise ValueError(
                "api_key is required with base_url; set it in the environment "
                "(PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__<PRACTICE>__API_KEY)"
            )
        return self


class KareoSettings(ConfigSection):
    sandbox: SandboxSettings = SandboxSettings()
    practices: dict[str, KareoPracticeSettings] = {}


def load(settings: Settings) -> KareoSettings:
    return plugin_config(settings, PLUGIN, KareoSettings)


def cross_check(settings: Settings) -> None:
    """Each practice on this adapter has its table, and no table names an unknown practice;
    a practice on the sandbox is logged as such, loudly, at every start."""
    prefix = f"plugins.config.{PLUGIN}.practices"
    config = load(settings)
    problems = unknown_practices(settings, PLUGIN, config.practices)
    for slug, practice in settings.practices.items():
        if practice.ehr_adapter != ADAPTER:
            continue
        ours = config.practices.get(slug)
        if ours is None:
            problems.append(
                f"{prefix}.{slug}: required for practices.{slug}.ehr_adapter = {ADAPTER!r} "
                "(base_url and an api_key, or sandbox = true)"
            )
        elif ours.sandbox:
            log.warning("practice %s uses the sandbox EHR in this process, not a real EHR", slug)
    if problems:
        raise ConfigError("\n".join(problems))
