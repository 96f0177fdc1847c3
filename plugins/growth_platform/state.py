"""The plugin's validated settings, loaded once per loaded configuration."""

from __future__ import annotations

import threading

from integration_core.runtime import Runtime
from integration_core.settings import Settings
from plugins.growth_platform.config import GrowthSettings, load

__all__ = ["growth_settings", "settings_for"]

_loaded: dict[int, tuple[Settings, GrowthSettings]] = {}
_lock = threading.Lock()


def settings_for(settings: Settings) -> GrowthSettings:
    with _lock:
        cached = _loaded.get(id(settings))
        if cached is None or cached[0] is not settings:
            cached = (settings, load(settings))
            _loaded[id(settings)] = cached
        return cached[1]


def growth_settings(runtime: Runtime) -> GrowthSettings:
    return settings_for(runtime.settings)
