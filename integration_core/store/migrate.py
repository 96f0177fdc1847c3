"""``practice-sync migrate``: one Alembic history for the core and the plugins' tables.

Plugins add their version folders through ``register_tables``; the core's own folder comes
first. Migrations run on a connection of the runtime's engine, so SQLite's pragmas apply.
"""

from __future__ import annotations

from pathlib import Path

import pluggy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from integration_core.plugins import call_each
from integration_core.registries import TableRegistry
from integration_core.store.engine import Database

__all__ = [
    "alembic_config",
    "applied_revisions",
    "head_revisions",
    "pending_revisions",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(pm: pluggy.PluginManager) -> Config:
    tables = TableRegistry()
    call_each(pm, "register_tables", tables=tables)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    locations = [MIGRATIONS / "versions", *tables.version_locations]
    config.set_main_option("version_locations", " ".join(str(path) for path in locations))
    config.set_main_option("path_separator", "space")
    return config


def upgrade(db: Database, pm: pluggy.PluginManager, revision: str = "heads") -> None:
    config = alembic_config(pm)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revisions(pm: pluggy.PluginManager) -> set[str]:
    """The revisions a schema at head has applied last (one per branch: core, plugins)."""
    return set(ScriptDirectory.from_config(alembic_config(pm)).get_heads())


def applied_revisions(db: Database) -> set[str]:
    """The revisions the database says it has applied last (empty when never migrated)."""
    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def pending_revisions(db: Database, pm: pluggy.PluginManager) -> set[str]:
    """Revisions of the history (plugins' included) not yet applied to the database."""
    script = ScriptDirectory.from_config(alembic_config(pm))
    with db.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    applied = {rev.revision for rev in script.iterate_revisions(heads, "base")} if heads else set()
    return {rev.revision for rev in script.walk_revisions()} - applied
