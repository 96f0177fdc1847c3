"""The booking platform's go-live checks (``practice-sync check``).

* Every provider has a booking calendar at each of their locations (else the widget offers
  them nowhere there).
* For a practice with an EHR: every reason for visit names the EHR visit reason it books
  (``ehr_visit_reason``), one the EHR has, with a duration; and intake forms are on in exactly
  one of the two systems, the one ``intake_forms`` names.

What is known of the EHR comes from the core (``ehr``), read once through the practice's
adapter: this plugin talks to no EHR.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select

from integration_core.api import (
    Database,
    EHRFacts,
    EHRVisitReason,
    GoLiveCheck,
    Settings,
    hookimpl,
)
from plugins.growth_platform.config import (
    PLUGIN,
    GrowthSettings,
    PracticeGrowthSettings,
    load,
)
from plugins.growth_platform.tables import Calendar

__all__ = ["go_live_checks"]

SYSTEMS = {"ehr": "the EHR", "booking_platform": "the booking platform"}
MAX_CHOICES = 8


@hookimpl
def go_live_checks(
    settings: Settings, db: Database | None, ehr: Mapping[str, EHRFacts]
) -> list[GoLiveCheck]:
    config = load(settings)
    checks = [] if db is None else calendar_checks(settings, config, db)
    for slug, facts in ehr.items():
        practice = config.practices.get(slug, PracticeGrowthSettings())
        checks.extend(reason_checks(slug, practice, facts))
        checks.append(intake_forms_check(slug, practice, facts))
    return checks


def calendar_checks(settings: Settings, config: GrowthSettings, db: Database) -> list[GoLiveCheck]:
    """One check per provider: a calendar at each location they see patients at."""
    with db.read() as session:
        rows = session.execute(
            select(Calendar.practice_id, Calendar.provider_id, Calendar.location_id)
        )
        calendars = {(practice, provider, place) for practice, provider, place in rows}
    checks = []
    for slug, practice in settings.practices.items():
        seeds = config.practices.get(slug, PracticeGrowthSettings()).calendars
        for key, provider in practice.providers.items():
            name = (
                f"practice {slug}: provider {key} has a booking calendar at each of their locations"
            )
            missing = [place for place in provider.locations if (slug, key, place) not in calendars]
            if not missing:
                checks.append(GoLiveCheck.passed(name))
                continue
            seeds_of = seeds.get(key, {})
            prefix = f"plugins.config.{PLUGIN}.practices.{slug}.calendars.{key}"
            fixes = [
                f"the seed {prefix}.{place} is not imported yet: run `practice-sync migrate`"
                if place in seeds_of
                else f"none at {place}: add one with PUT /v1/practices/{slug}/calendars/{key}/"
                f"{place} (staff), or seed {prefix}.{place} and run `practice-sync migrate`"
                for place in missing
            ]
            checks.append(GoLiveCheck.failed(name, "; ".join(fixes)))
    return checks


def _choices(reasons: Iterable[EHRVisitReason]) -> str:
    shown = [
        f"{reason.id} ({reason.name}, {reason.duration_minutes} min)"
        for reason in reasons
        if reason.duration_minutes is not None
    ]
    if not shown:
        return "the EHR has no visit reason with a duration"
    more = len(shown) - MAX_CHOICES
    tail = f" and {more} more" if more > 0 else ""
    return "the EHR has " + ", ".join(shown[:MAX_CHOICES]) + tail


def reason_checks(
    slug: str, practice: PracticeGrowthSettings, facts: EHRFacts
) -> list[GoLiveCheck]:
    """One check per reason for visit: mapped to an EHR visit reason that has a duration."""
    known = {reason.id: reason for reason in facts.visit_reasons}
    checks = []
    for key, reason in practice.reasons.items():
        name = f"practice {slug}: reason {key} books an EHR visit reason with a duration"
        setting = f"plugins.config.{PLUGIN}.practices.{slug}.reasons.{key}.ehr_visit_reason"
        mapped = reason.ehr_visit_reason
        found = known.get(mapped) if mapped is not None else None
        if mapped is None:
            fix = (
                f"{setting} is not set: set it to the id of the EHR visit reason it books "
                f"({_choices(facts.visit_reasons)})"
            )
        elif found is None:
            fix = (
                f"{setting} = {mapped!r} is no visit reason in the EHR: use one it has "
                f"({_choices(facts.visit_reasons)})"
            )
        elif found.duration_minutes is None:
            fix = (
                f"the EHR's visit reason {found.id} ({found.name}) has no duration: give it one "
                f"in the EHR, or map {setting} to another ({_choices(facts.visit_reasons)})"
            )
        else:
            checks.append(GoLiveCheck.passed(name))
            continue
        checks.append(GoLiveCheck.failed(name, fix))
    return checks


def intake_forms_check(slug: str, practice: PracticeGrowthSettings, facts: EHRFacts) -> GoLiveCheck:
    """Intake forms on in the system ``intake_forms`` names, and off in the other."""
    chosen = practice.intake_forms
    name = f"practice {slug}: intake forms are on in {SYSTEMS[chosen]} only"
    setting = f"plugins.config.{PLUGIN}.practices.{slug}.intake_forms"
    in_ehr = facts.practice_settings.intake_forms_enabled
    if chosen == "ehr" and not in_ehr:
        return GoLiveCheck.failed(
            name,
            "they are on in neither system: turn intake forms on in the EHR's practice settings, "
            f'or set {setting} = "booking_platform"',
        )
    if chosen == "booking_platform" and in_ehr:
        return GoLiveCheck.failed(
            name,
            "they are on in both systems: turn intake forms off in the EHR's practice settings, "
            f'or set {setting} = "ehr"',
        )
    return GoLiveCheck.passed(name)
