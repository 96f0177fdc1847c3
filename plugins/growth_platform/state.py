"""The plugin's settings for a running engine (validated once per loaded configuration)."""

from __future__ import annotations

from integration_core.api import Engine
from plugins.growth_platform.config import GrowthSettings, load

__all__ = ["growth_settings"]


def growth_settings(engine: Engine) -> GrowthSettings:
    return load(engine.settings)
