"""Choosing each practice's EHR adapter from the ``register_ehr_adapters`` registry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast

from integration_core.ehr.protocol import EHRAdapter
from integration_core.errors import ConfigError
from integration_core.metrics import Measured
from integration_core.registries import Registry
from integration_core.settings import Settings

__all__ = ["AdapterFactory", "EHRAdapters", "adapter_errors"]

AdapterFactory = Callable[[str, Settings], EHRAdapter]
"""``factory(practice_id, settings)`` → the adapter for that practice."""


def adapter_errors(settings: Settings, registry: Registry[AdapterFactory]) -> list[str]:
    """One line per practice whose ``ehr_adapter`` names no registered adapter."""
    return [
        f"practices.{slug}.ehr_adapter: {registry.unknown(practice.ehr_adapter)}"
        for slug, practice in settings.practices.items()
        if practice.ehr_adapter is not None and practice.ehr_adapter not in registry
    ]


def _measured(adapter: EHRAdapter, name: str, practice_id: str) -> EHRAdapter:
    """``adapter`` with each call timed and each error counted (see :mod:`~.metrics`)."""
    return cast(EHRAdapter, Measured(adapter, kind="ehr", name=name, practice=practice_id))


class EHRAdapters:
    """One adapter per practice, built on first use and then shared (adapters are thread-safe)."""

    def __init__(self, registry: Registry[AdapterFactory], settings: Settings) -> None:
        self.registry = registry
        self.settings = settings
        self._built: dict[str, EHRAdapter] = {}
        self._lock = threading.Lock()

    def for_practice(self, practice_id: str) -> EHRAdapter:
        with self._lock:
            adapter = self._built.get(practice_id)
            if adapter is None:
                name = self.settings.practice(practice_id).ehr_adapter
                if name is None:
                    raise ConfigError(f"practices.{practice_id}.ehr_adapter: not set")
                if name not in self.registry:
                    raise ConfigError(
                        f"practices.{practice_id}.ehr_adapter: {self.registry.unknown(name)}"
                    )
                adapter = self.registry.get(name)(practice_id, self.settings)
                self._built[practice_id] = _measured(adapter, name, practice_id)
            return self._built[practice_id]

    def use(self, practice_id: str, adapter: EHRAdapter) -> None:
        """Use ``adapter`` for the practice instead of building one (tests, embedding)."""
        with self._lock:
            name = self.settings.practice(practice_id).ehr_adapter or type(adapter).__name__
            self._built[practice_id] = _measured(adapter, name, practice_id)

    def close(self) -> None:
        with self._lock:
            for adapter in self._built.values():
                adapter.close()
            self._built.clear()
