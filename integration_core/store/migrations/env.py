"""Alembic environment: runs on the connection handed over by ``integration_core.store.migrate``."""

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

import integration_core.ehr.change_tables
import integration_core.ehr.sync
import integration_core.http.idempotency
import integration_core.records  # noqa: F401  (the core's tables, for autogenerate)
from integration_core.store.tables import Base, UTCDateTime


def render_item(kind: str, item: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Render our UTC wrapper as the plain column type it stores into."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
