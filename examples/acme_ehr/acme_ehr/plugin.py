"""The Acme EHR plugin: declares its settings, registers the ``acme`` EHR adapter, and refuses
at start-up a practice that uses it without the settings it needs."""

from __future__ import annotations

from integration_core.api import (
    AdapterFactory,
    ConfigError,
    Registry,
    Settings,
    hookimpl,
    unknown_practices,
)

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.config import PLUGIN, AcmeSettings, load

__all__ = ["ADAPTER", "PLUGIN_NAME", "build_adapter"]

PLUGIN_NAME = PLUGIN  # the same name when loaded through plugins.modules
ADAPTER = "acme"


def build_adapter(practice_id: str, settings: Settings) -> AcmeEHRAdapter:
    """The factory: one adapter per practice, built on first use and shared by the workers."""
    practice = load(settings).practices.get(practice_id)
    if practice is None:
        raise ConfigError(f"plugins.config.{PLUGIN}.practices.{practice_id}: not set")
    secret = practice.webhook_secret
    return AcmeEHRAdapter(
        practice.base_url,
        practice.api_key.get_secret_value(),
        webhook_secret=secret.get_secret_value() if secret else None,
        timeout_seconds=practice.timeout_seconds,
    )


@hookimpl
def settings_model() -> type[AcmeSettings]:
    return AcmeSettings


@hookimpl
def register_ehr_adapters(registry: Registry[AdapterFactory]) -> None:
    registry.add(ADAPTER, build_adapter)


@hookimpl
def check_config(settings: Settings) -> None:
    config = load(settings)
    problems = unknown_practices(settings, PLUGIN, config.practices)
    for slug, practice in settings.practices.items():
        if practice.ehr_adapter != ADAPTER:
            continue
        if slug not in config.practices:
            problems.append(
                f"plugins.config.{PLUGIN}.practices.{slug}: missing; practices.{slug} uses the "
                f"{ADAPTER!r} EHR adapter, which needs its base_url and api_key"
            )
        problems.extend(
            f"practices.{slug}.locations.{location}.ehr_id: missing; the {ADAPTER!r} EHR "
            "adapter needs each location's Acme site id"
            for location, place in practice.locations.items()
            if place.ehr_id is None
        )
    if problems:
        raise ConfigError("\n".join(problems))
