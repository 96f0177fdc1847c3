"""The Alembic history builds exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from integration_core.store import Base
from integration_core.store.migrate import current_heads


def test_migrations_match_the_models(ps_runtime_factory):
    runtime = ps_runtime_factory()
    applied, heads = current_heads(runtime.db, runtime.pm)
    assert applied == heads and heads
    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
