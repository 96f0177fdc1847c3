"""The booking platform plugin: its routes, its tables and its seed data."""

from __future__ import annotations

from pathlib import Path

from integration_core.api import (
    Clock,
    Database,
    RouteRegistry,
    Settings,
    TableRegistry,
    hookimpl,
)
from plugins.growth_platform import (
    all_appointments,
    cancellations,
    portal,
    staff_calendars,
    staff_patients,
    widget,
)
from plugins.growth_platform.calendars import seed_calendars
from plugins.growth_platform.config import GrowthSettings, cross_check, load
from plugins.growth_platform.cors import PracticeCors
from plugins.growth_platform.golive import go_live_checks
from plugins.growth_platform.patients import (
    keep_ehr_patient,
    on_request_sync_failed,
    on_request_synced,
    patient_contact,
)
from plugins.growth_platform.unmapped_changes import on_appointment_synced, on_ehr_change_unmapped

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = [
    "after_migrate",
    "check_config",
    "go_live_checks",
    "keep_ehr_patient",
    "on_appointment_synced",
    "on_ehr_change_unmapped",
    "on_request_sync_failed",
    "on_request_synced",
    "patient_contact",
    "register_routes",
    "register_tables",
    "settings_model",
]


@hookimpl
def settings_model() -> type[GrowthSettings]:
    return GrowthSettings


@hookimpl
def check_config(settings: Settings) -> None:
    cross_check(settings, load(settings))


@hookimpl
def register_routes(routes: RouteRegistry, settings: Settings) -> None:
    config = load(settings)
    routes.add(widget.router)
    routes.add(staff_calendars.router)
    routes.add(portal.router)
    routes.add(all_appointments.router)
    routes.add(cancellations.router)
    routes.add(staff_patients.router)
    origins = {slug: frozenset(p.cors_origins) for slug, p in config.practices.items()}
    routes.add_middleware(PracticeCors, origins=origins)


@hookimpl
def register_tables(tables: TableRegistry) -> None:
    tables.add_versions(MIGRATIONS)


@hookimpl
def after_migrate(db: Database, settings: Settings, clock: Clock) -> None:
    with db.transaction() as session:
        seed_calendars(session, load(settings), clock.now())
