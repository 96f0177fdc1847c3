"""What start-up checks before any work: plugin registries, declared settings, cross-checks.

Everything a delivery would otherwise find wrong later is refused here, in ``check-config``,
``run``, ``serve``, ``worker`` and ``scheduler`` alike, one line per problem, each starting
with the full key path:

* ``database_url`` is set (nothing is written anywhere the configuration did not name);
* every loaded plugin's declared settings model (``settings_model``) validates its
  ``plugins.config.<plugin>`` table; a table for a plugin that is not loaded, or that declares
  no settings, is refused; secret fields set in the config file are refused;
* every practice's ``ehr_adapter`` names a registered adapter;
* ``PROMETHEUS_MULTIPROC_DIR``, when set, is a directory this process can write its metrics to;
* each plugin's ``check_config`` cross-checks its settings against the rest (channels that
  resolve, with their required settings present).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import pluggy
from pydantic import BaseModel

from integration_core.channels import Channel, ChannelFactory
from integration_core.ehr.adapters import AdapterFactory, adapter_errors
from integration_core.errors import ConfigError
from integration_core.metrics import MULTIPROCESS_ENV, Measured
from integration_core.plugins import call_each, hook_calls
from integration_core.registries import Registry
from integration_core.settings import Settings, plugin_config, secret_paths, secrets_refused

__all__ = ["Registries", "build_registries", "check_startup", "declared_settings"]


@dataclass(frozen=True)
class Registries:
    """What the ``register_*`` hooks filled: adapters and channels by name."""

    ehr_adapters: Registry[AdapterFactory]
    channels: Registry[ChannelFactory]


def build_registries(pm: pluggy.PluginManager, settings: Settings) -> Registries:
    registries = Registries(ehr_adapters=Registry("EHR adapter"), channels=Registry("channel"))
    for hook, registry in (
        ("register_ehr_adapters", registries.ehr_adapters),
        ("register_channels", registries.channels),
    ):
        for plugin, call in hook_calls(pm, hook, registry=registry, settings=settings):
            try:
                call()
            except ValueError as exc:  # a name registered twice
                raise ConfigError(f"plugins: {plugin}: {exc}") from None
    measured: Registry[ChannelFactory] = Registry("channel")
    for name in registries.channels:
        measured.add(name, _measured_channel(name, registries.channels.get(name)))
    return Registries(ehr_adapters=registries.ehr_adapters, channels=measured)


def _measured_channel(name: str, factory: ChannelFactory) -> ChannelFactory:
    """``factory``, whose channels time each call and count each error (see :mod:`.metrics`)."""

    def build(settings: Settings) -> Channel:
        return cast(Channel, Measured(factory(settings), kind="channel", name=name))

    return build


def declared_settings(pm: pluggy.PluginManager) -> dict[str, type[BaseModel]]:
    """Each plugin's declared settings model, by plugin name; refuses unusable ones."""
    models: dict[str, type[BaseModel]] = {}
    for plugin, model in call_each(pm, "settings_model"):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"plugins: {plugin}: settings_model must return a pydantic model")
        if model.model_config.get("extra") != "forbid":
            raise ConfigError(
                f"plugins: {plugin}: its settings model must refuse unknown keys "
                "(derive it from ConfigSection)"
            )
        models[plugin] = model
    return models


def _settings_problems(settings: Settings, pm: pluggy.PluginManager) -> list[str]:
    models = declared_settings(pm)
    loaded = sorted(name for name, plugin in pm.list_name_plugin() if plugin is not None)
    problems = []
    for name in settings.plugins.config:
        if name not in loaded:
            problems.append(
                f"plugins.config.{name}: no plugin named {name!r} is loaded "
                f"(loaded: {', '.join(loaded)})"
            )
        elif name not in models:
            problems.append(f"plugins.config.{name}: the plugin {name!r} declares no settings")
    for name, model in models.items():
        in_file = secret_paths(
            settings.plugin_config_in_file(name), model, f"plugins.config.{name}"
        )
        try:
            if in_file:
                raise secrets_refused(in_file)
            plugin_config(settings, name, model)
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
    return problems


def check_startup(settings: Settings, pm: pluggy.PluginManager, registries: Registries) -> None:
    """Raise one :class:`ConfigError` listing every problem found, or return."""
    problems = _settings_problems(settings, pm)
    if problems:  # the cross-checks read validated settings
        raise ConfigError("\n".join(problems))
    problems = adapter_errors(settings, registries.ehr_adapters)
    if settings.database_url is None:
        problems.append(
            "database_url: not set; use sqlite:///path/to/practice-sync.db for the embedded "
            "default or postgresql://user@host:port/database"
        )
    multiprocess = os.environ.get(MULTIPROCESS_ENV)
    if multiprocess is not None and not (
        os.path.isdir(multiprocess) and os.access(multiprocess, os.W_OK)
    ):
        problems.append(
            f"{MULTIPROCESS_ENV}: {multiprocess!r} is not a writable directory "
            "(every process writes its metrics there)"
        )
    for _plugin, call in hook_calls(pm, "check_config", settings=settings, registries=registries):
        try:
            call()
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
    if problems:
        raise ConfigError("\n".join(problems))
