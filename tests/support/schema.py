"""A database one core migration behind, as if a newer release had added one."""

from __future__ import annotations

from integration_core.store.migrate import MIGRATIONS

_CORE = sorted(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("0*.py"))

ONE_MIGRATION_BEHIND = (
    f"UPDATE alembic_version SET version_num = '{_CORE[-2]}' WHERE version_num = '{_CORE[-1]}'"
)
"""SQL that marks the core's latest migration as not applied (the plugins' stay at head)."""
