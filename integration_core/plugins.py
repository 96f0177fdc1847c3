"""Building the plugin manager: entry points, extra modules, the block list, validation.

Built-in plugins are found exactly like third-party ones, through the ``practice_sync.plugins``
entry-point group; ``plugins.modules`` adds modules by dotted path (handy while writing a
plugin), and ``plugins.blocked`` removes any of them by name. Set
``PRACTICE_SYNC_TRACE_PLUGINS=1`` to log every hook call and its result.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from typing import Any

import pluggy

from integration_core import hookspecs
from integration_core.errors import ConfigError
from integration_core.hookspecs import PROJECT
from integration_core.settings import Settings

__all__ = ["ENTRY_POINT_GROUP", "get_plugin_manager", "implementing_plugins", "plugin_hooks"]

ENTRY_POINT_GROUP = "practice_sync.plugins"
log = logging.getLogger(__name__)


def get_plugin_manager(
    settings: Settings, *, extra: dict[str, Any] | None = None
) -> pluggy.PluginManager:
    """A fresh, validated plugin manager for ``settings``.

    :param extra: more plugins by name (objects or modules), registered like the others —
        tests use it to add a recorder.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(settings.plugins.blocked)
    for name in blocked:
        pm.set_blocked(name)

    def register(plugin: Any, name: str) -> None:
        try:
            pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigError(f"plugins: {name}: {exc}") from None

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in blocked or pm.has_plugin(ep.name):
            continue
        register(ep.load(), ep.name)

    for dotted in settings.plugins.modules:
        name = dotted.rsplit(".", 1)[-1]
        if name in blocked:
            continue
        try:
            module = importlib.import_module(dotted)
        except ImportError as exc:
            raise ConfigError(f"plugins.modules: cannot import {dotted!r}: {exc}") from None
        register(module, name)

    for name, plugin in (extra or {}).items():
        if name not in blocked:
            register(plugin, name)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"plugins: {exc}") from None

    if os.environ.get("PRACTICE_SYNC_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda message: log.debug("hook trace: %s", message.rstrip()))
        pm.enable_tracing()
    return pm


def implementing_plugins(pm: pluggy.PluginManager, hook: str) -> list[str]:
    """Names of the registered plugins that implement ``hook``, in call order."""
    caller = getattr(pm.hook, hook)
    return [impl.plugin_name for impl in reversed(caller.get_hookimpls())]


def plugin_hooks(pm: pluggy.PluginManager) -> dict[str, list[str]]:
    """Each plugin's name and the hooks it implements (for ``practice-sync plugins``)."""
    listing: dict[str, list[str]] = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        callers = pm.get_hookcallers(plugin) or []
        listing[name] = sorted(caller.name for caller in callers)
    return dict(sorted(listing.items()))
