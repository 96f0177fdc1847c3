"""The Alembic history builds exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from integration_core.store import Base
from integration_core.store.migrate import pending_revisions


def test_migrations_match_the_models(ps_runtime_factory):
    runtime = ps_runtime_factory()
    assert pending_revisions(runtime.db, runtime.pm) == set()
    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_a_blocked_plugin_leaves_its_migrations_pending(ps_database_url):
    from integration_core.runtime import Runtime
    from integration_core.testing.pytest_plugin import build_settings

    runtime = Runtime(build_settings(ps_database_url, plugins={"blocked": ["growth_platform"]}))
    try:
        runtime.migrate()
        assert pending_revisions(runtime.db, runtime.pm) == set()  # its history is not loaded
        full = Runtime(build_settings(ps_database_url))
        assert pending_revisions(full.db, full.pm) == {
            "gp0001",
            "gp0002",
            "gp0003",
            "gp0004",
            "gp0005",
        }
        full.migrate()
        assert pending_revisions(full.db, full.pm) == set()
        full.close()
    finally:
        runtime.close()
