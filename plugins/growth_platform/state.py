"""The plugin's settings for a running engine (validated once per loaded configuration)."""

from __future__ import annotations

from integration_core.runtime import Runtime
from plugins.growth_platform.config import GrowthSettings, load

__all__ = ["growth_settings"]


def growth_settings(runtime: Runtime) -> GrowthSettings:
    return load(runtime.settings)
