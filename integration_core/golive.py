"""``practice-sync check``: everything that would go wrong at go-live, each as a line.

``check-config`` reads the configuration alone; these checks reach out to what it names:

* the database answers and is migrated to head; the broker answers;
* each practice whose ``ehr_adapter`` is set: its EHR answers with its credentials (through
  the ``EHRAdapter`` protocol, read once: practice settings, providers, locations and visit
  reasons); every configured provider and location EHR id is in the EHR's directory; the EHR
  leaves surveys, online scheduling, provider profiles and the online presence to the booking
  platform, and sends patient communications for every configured provider;
* whatever the plugins check through the ``go_live_checks`` hook (channels that answer,
  booking calendars, reasons mapped to EHR visit reasons, …), given what the core read from
  each EHR — plugins never call an adapter themselves.

Each check is a :class:`~integration_core.checks.GoLiveCheck`: passed, or failed with what
to change, naming the setting or the place in the EHR. The core's reach of the database, the
broker and each EHR comes from :mod:`integration_core.reachability`. Lines carry no patient
data and no secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from integration_core.checks import EHRFacts, GoLiveCheck
from integration_core.ehr.protocol import EHRLocation, EHRProvider, EHRVisitReason
from integration_core.errors import error_code
from integration_core.plugins import hook_calls
from integration_core.reachability import adapter_owners, broker_check, database_check, read_ehr
from integration_core.settings import PracticeSettings

if TYPE_CHECKING:
    from integration_core.runtime import Runtime

__all__ = ["run_go_live_checks"]

MAX_CHOICES = 8
"""How many of the EHR's ids a failure lists as choices."""


Report = Callable[[GoLiveCheck], None]


def _choices(entries: Iterable[EHRProvider | EHRLocation | EHRVisitReason]) -> str:
    """The EHR's ids and names, for a failure to offer as choices (the first few)."""
    shown = []
    for entry in entries:
        label = f"{entry.id} ({entry.name}"
        if isinstance(entry, EHRVisitReason):
            length = entry.duration_minutes
            label += f", {length} min" if length is not None else ", no duration"
        shown.append(label + ")")
    if not shown:
        return "the EHR lists none"
    more = len(shown) - MAX_CHOICES
    tail = f" and {more} more" if more > 0 else ""
    return "the EHR has " + ", ".join(shown[:MAX_CHOICES]) + tail


def run_go_live_checks(runtime: Runtime, report: Report) -> list[GoLiveCheck]:
    """Run every check, calling ``report`` as each completes; returns them all, in order."""
    done: list[GoLiveCheck] = []

    def record(check: GoLiveCheck) -> None:
        done.append(check)
        report(check)

    migrated = database_check(runtime)
    record(migrated)
    record(broker_check(runtime))
    facts: dict[str, EHRFacts] = {}
    owners = adapter_owners(runtime.pm, runtime.settings)
    for slug, practice in runtime.settings.practices.items():
        if practice.ehr_adapter is None:
            continue
        reached, read = read_ehr(runtime, slug, practice.ehr_adapter, owners)
        record(reached)
        if read is None:
            continue  # what needs the EHR cannot be checked: the line above says why
        facts[slug] = read
        for check in _directory_checks(slug, practice, read):
            record(check)
        for check in _settings_checks(slug, practice, read):
            record(check)
    for check in _plugin_checks(runtime, migrated.ok, facts):
        record(check)
    return done


# -- the core's own ------------------------------------------------------------------------------


def _directory_checks(slug: str, practice: PracticeSettings, facts: EHRFacts) -> list[GoLiveCheck]:
    checks = [
        _in_directory(slug, "provider", key, provider.ehr_id, facts.providers, "their")
        for key, provider in practice.providers.items()
    ]
    for key, location in practice.locations.items():
        if location.ehr_id is None:
            checks.append(
                GoLiveCheck.failed(
                    f"practice {slug}: location {key} is in the EHR",
                    f"practices.{slug}.locations.{key}.ehr_id is not set: set it to the "
                    f"location's id in the EHR ({_choices(facts.locations)})",
                )
            )
        else:
            checks.append(
                _in_directory(slug, "location", key, location.ehr_id, facts.locations, "its")
            )
    return checks


def _in_directory(
    slug: str,
    kind: str,
    key: str,
    ehr_id: str,
    entries: tuple[EHRProvider, ...] | tuple[EHRLocation, ...],
    whose: str,
) -> GoLiveCheck:
    """Whether the configured ``practices.<slug>.<kind>s.<key>.ehr_id`` is in the EHR."""
    name = f"practice {slug}: {kind} {key} is in the EHR (ehr_id {ehr_id})"
    if any(entry.id == ehr_id for entry in entries):
        return GoLiveCheck.passed(name)
    return GoLiveCheck.failed(
        name,
        f"the EHR has no {kind} {ehr_id!r}: set practices.{slug}.{kind}s.{key}.ehr_id to "
        f"{whose} id in the EHR ({_choices(entries)})",
    )


OFF_IN_THE_EHR = (
    (
        "surveys_enabled",
        "the EHR's patient surveys are off",
        "turn patient surveys off in the EHR's practice settings (the booking platform "
        "sends the surveys)",
    ),
    (
        "online_scheduler_enabled",
        "the EHR's own online scheduler is off",
        "turn online scheduling off in the EHR's practice settings (patients book through "
        "the booking platform)",
    ),
    (
        "provider_profiles_published",
        "the EHR's provider profiles are unpublished",
        "unpublish the provider profiles in the EHR's practice settings (the booking "
        "platform publishes them)",
    ),
    (
        "online_presence_enabled",
        "the EHR's online presence is off",
        "turn the online presence (public practice pages) off in the EHR's practice settings",
    ),
)
"""Go-live settings the EHR must have off: (field, what is checked, what to change)."""


def _settings_checks(slug: str, practice: PracticeSettings, facts: EHRFacts) -> list[GoLiveCheck]:
    checks = []
    for field, what, fix in OFF_IN_THE_EHR:
        name = f"practice {slug}: {what}"
        on = getattr(facts.practice_settings, field)
        checks.append(GoLiveCheck.failed(name, fix) if on else GoLiveCheck.passed(name))
    providers = {provider.id: provider for provider in facts.providers}
    for key, provider in practice.providers.items():
        found = providers.get(provider.ehr_id)
        if found is None:
            continue  # reported above: the provider is not in the EHR
        name = f"practice {slug}: the EHR sends patient communications for provider {key}"
        if found.patient_communications_enabled:
            checks.append(GoLiveCheck.passed(name))
        else:
            checks.append(
                GoLiveCheck.failed(
                    name,
                    f"turn patient communications on for provider {found.id} ({found.name}) in "
                    "the EHR (their patients get no reminders otherwise)",
                )
            )
    return checks


# -- the plugins' --------------------------------------------------------------------------------


def _plugin_checks(
    runtime: Runtime, migrated: bool, facts: Mapping[str, EHRFacts]
) -> Iterable[GoLiveCheck]:
    for plugin, call in hook_calls(
        runtime.pm,
        "go_live_checks",
        settings=runtime.settings,
        registries=runtime.registries,
        db=runtime.db if migrated else None,
        ehr=MappingProxyType(dict(facts)),
    ):
        try:
            answer = call()
        except Exception as exc:
            yield GoLiveCheck.failed(
                f"plugin {plugin}: its go-live checks run",
                f"they stopped with {error_code(exc)} ({type(exc).__name__}): report it to the "
                "plugin's authors",
            )
            continue
        for check in answer or []:
            if isinstance(check, GoLiveCheck):
                yield check
            else:
                yield GoLiveCheck.failed(
                    f"plugin {plugin}: its go-live checks run",
                    "go_live_checks must return GoLiveCheck objects: report it to the plugin's "
                    "authors",
                )
                break
