"""Fixtures for testing practice-sync plugins, registered through the ``pytest11`` entry point.

``ps_database_url`` runs a test on SQLite and, as a second parameter marked ``postgres``, on
a fresh PostgreSQL schema. ``ps_runtime`` builds a migrated :class:`Runtime` around it with a
manual clock and a :class:`QueueDispatcher`, configured through the same settings models users
write.
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

RuntimeFactory = Callable[..., Runtime]

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
    return ManualClock()


def build_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "practices": {"acme": TEST_PRACTICE},
        "retry": {"max_attempts": 5, "base_seconds": 1, "max_backoff_seconds": 60},
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def ps_runtime_factory(ps_database_url: str, ps_clock: ManualClock) -> Iterator[RuntimeFactory]:
    """Build migrated runtimes on the test's database (several share it, like processes)."""
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
    return HookRecorder()
