"""Fixtures for testing practice-sync plugins, registered through the ``pytest11`` entry point.

``ps_database_url`` runs a test on SQLite and, as a second parameter marked ``postgres``, on
a fresh PostgreSQL schema. ``ps_runtime_factory`` builds migrated :class:`Runtime` objects
around it with the manual clock ``ps_clock`` and a :class:`QueueDispatcher`, configured through
the same settings models users write (:func:`build_settings`). ``ps_recorder`` is a fresh
:class:`HookRecorder`.

Tests load only the plugins they name: ``plugins.enabled`` defaults to
:data:`BUILT_IN_PLUGINS`, so a plugin merely installed in the environment cannot change (or
hang) a test. A test adds its own plugin by object, ``extra_plugins={"mine": plugin}`` (loaded
whatever ``plugins.enabled`` says), or by name, ``plugins={"enabled": [*BUILT_IN_PLUGINS,
"mine"]}`` for one installed through an entry point or listed in ``plugins.modules``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_core.clock import ManualClock
from integration_core.runtime import Runtime
from integration_core.settings import Settings
from integration_core.testing.dispatch import QueueDispatcher
from integration_core.testing.recorder import HookRecorder
from integration_core.testing.services import postgres_schema_url

__all__ = [
    "BUILT_IN_PLUGINS",
    "TEST_PRACTICE",
    "RuntimeFactory",
    "build_settings",
    "ps_clock",
    "ps_database_url",
    "ps_recorder",
    "ps_runtime_factory",
]

RuntimeFactory = Callable[..., Runtime]

BUILT_IN_PLUGINS = ("ehr_sync", "growth_platform", "ehr_kareo_like", "notifications")
"""The plugins practice-sync ships, the ones a test loads unless it names others."""

TEST_PRACTICE: dict[str, Any] = {
    "name": "Acme Family Medicine",
    "locations": {
        "downtown": {"name": "Downtown", "time_zone": "America/New_York"},
        "uptown": {"name": "Uptown", "time_zone": "America/New_York"},
    },
    "providers": {
        "dr_lee": {"name": "Dr. Lee", "ehr_id": "1001", "locations": ["downtown", "uptown"]},
        "dr_patel": {"name": "Dr. Patel", "ehr_id": "1002", "locations": ["downtown"]},
    },
    "staff_tokens": {"front_desk": "token-front-desk", "manager": "token-manager"},
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ps_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'practice-sync.db'}"
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.fixture
def ps_clock() -> ManualClock:
    """The runtimes' clock: it moves only when the test calls ``set`` or ``advance``."""
    return ManualClock()


def build_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings: one practice (``acme``, :data:`TEST_PRACTICE`), quick retries, and only
    the built-in plugins.

    ``overrides`` replace top-level keys, except ``plugins``, whose keys are laid over the
    default ``{"enabled": BUILT_IN_PLUGINS}``: ``plugins={"blocked": ["notifications"]}``
    keeps the enabled list, ``plugins={"enabled": [*BUILT_IN_PLUGINS, "mine"]}`` replaces it.
    """
    plugins = {"enabled": list(BUILT_IN_PLUGINS), **overrides.pop("plugins", {})}
    values: dict[str, Any] = {
        "database_url": database_url,
        "practices": {"acme": TEST_PRACTICE},
        "retry": {"max_attempts": 5, "base_seconds": 1, "max_backoff_seconds": 60},
        **overrides,
        "plugins": plugins,
    }
    return Settings(**values)


@pytest.fixture
def ps_runtime_factory(ps_database_url: str, ps_clock: ManualClock) -> Iterator[RuntimeFactory]:
    """Build migrated runtimes on the test's database (several share it, like processes).

    ``factory(*, extra_plugins=None, dispatcher=None, **overrides)``: ``overrides`` go to
    :func:`build_settings`; ``extra_plugins`` adds plugin objects by name; ``dispatcher``
    defaults to a fresh :class:`QueueDispatcher` (run its work with ``drain``). The first
    runtime migrates the database; all are closed after the test::

        def test_my_plugin_is_told_of_requests(ps_runtime_factory, ps_recorder):
            runtime = ps_runtime_factory(
                extra_plugins={"recorder": ps_recorder},
                plugins={"blocked": ["notifications"]},
            )
    """
    built: list[Runtime] = []

    def factory(
        *,
        extra_plugins: dict[str, Any] | None = None,
        dispatcher: Any = None,
        **overrides: Any,
    ) -> Runtime:
        runtime = Runtime(
            build_settings(ps_database_url, **overrides),
            clock=ps_clock,
            extra_plugins=extra_plugins,
            dispatcher=dispatcher if dispatcher is not None else QueueDispatcher(),
        )
        if not built:
            runtime.migrate()
        built.append(runtime)
        return runtime

    yield factory
    for runtime in built:
        runtime.close()


@pytest.fixture
def ps_recorder() -> HookRecorder:
    """A fresh :class:`HookRecorder`; register it with ``extra_plugins={"recorder": ...}``."""
    return HookRecorder()
