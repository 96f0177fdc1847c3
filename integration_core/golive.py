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

Each check is a :class:`GoLiveCheck`: passed, or failed with what to change, naming the
setting or the place in the EHR. Lines carry no patient data and no secret: errors are shown
by their stable code, never by a message that might quote a URL or a response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from alembic.util import CommandError
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from integration_core.ehr.adapters import AdapterFactory
from integration_core.ehr.protocol import (
    EHRLocation,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
)
from integration_core.errors import (
    ConfigError,
    ExternalRejected,
    MissingRecord,
    TransientError,
    error_code,
)
from integration_core.plugins import hook_calls
from integration_core.registries import Registry
from integration_core.settings import PracticeSettings, Settings
from integration_core.store.migrate import pending_revisions

if TYPE_CHECKING:
    import pluggy

    from integration_core.runtime import Runtime

__all__ = ["EHRFacts", "GoLiveCheck", "describe", "run_go_live_checks"]

MAX_CHOICES = 8
"""How many of the EHR's ids a failure lists as choices."""


class GoLiveCheck(BaseModel):
    """One go-live check's outcome: what was checked, and for a failure what to change."""

    model_config = ConfigDict(frozen=True)

    name: str
    """What was checked, e.g. ``practice acme: provider dr_lee is in the EHR (ehr_id 1001)``."""
    ok: bool
    fix: str = ""
    """For a failure: what to change, naming the setting or the place in the EHR."""

    @classmethod
    def passed(cls, name: str) -> GoLiveCheck:
        return cls(name=name, ok=True)

    @classmethod
    def failed(cls, name: str, fix: str) -> GoLiveCheck:
        return cls(name=name, ok=False, fix=fix)


class EHRFacts(BaseModel):
    """What the core read from one practice's EHR for the go-live checks, once."""

    model_config = ConfigDict(frozen=True)

    adapter: str
    """The practice's ``ehr_adapter``."""
    practice_settings: EHRPracticeSettings
    providers: tuple[EHRProvider, ...]
    locations: tuple[EHRLocation, ...]
    visit_reasons: tuple[EHRVisitReason, ...]


Report = Callable[[GoLiveCheck], None]


def describe(check: GoLiveCheck) -> str:
    """The check as one line: ``PASS  name`` or ``FAIL  name — what to change``."""
    if check.ok:
        return f"PASS  {check.name}"
    return f"FAIL  {check.name} — {check.fix}"


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

    migrated = _database(runtime)
    record(migrated)
    record(_broker(runtime))
    facts: dict[str, EHRFacts] = {}
    owners = _adapter_owners(runtime.pm, runtime.settings)
    for slug, practice in runtime.settings.practices.items():
        if practice.ehr_adapter is None:
            continue
        reached, read = _read_ehr(runtime, slug, practice.ehr_adapter, owners)
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


def _database(runtime: Runtime) -> GoLiveCheck:
    name = "database: reachable and migrated to head"
    db = runtime.db
    if db.is_sqlite:
        path = make_url(db.url).database
        if path and path != ":memory:" and not Path(path).is_file():
            return GoLiveCheck.failed(
                name, "no database file where database_url points: run `practice-sync migrate`"
            )
    try:
        pending = pending_revisions(db, runtime.pm)
    except SQLAlchemyError as exc:
        return GoLiveCheck.failed(
            name,
            f"the database could not be reached ({type(exc).__name__}): check database_url "
            "and that the database is up",
        )
    except CommandError:
        return GoLiveCheck.failed(
            name,
            "the database is at a revision this version does not know: run the practice-sync "
            "release that migrated it, or restore a matching backup",
        )
    if pending:
        return GoLiveCheck.failed(
            name, f"{len(pending)} migration(s) not applied: run `practice-sync migrate`"
        )
    return GoLiveCheck.passed(name)


def _broker(runtime: Runtime) -> GoLiveCheck:
    scheme = runtime.settings.broker.url.split("://", 1)[0]
    if scheme == "stub":
        return GoLiveCheck.passed("broker: in this process (stub://)")
    name = f"broker: reachable ({scheme}://)"
    if runtime.dramatiq.ping():
        return GoLiveCheck.passed(name)
    return GoLiveCheck.failed(
        name, "the broker did not answer: check broker.url and that the broker is running"
    )


def _adapter_owners(pm: pluggy.PluginManager, settings: Settings) -> dict[str, str]:
    """Which plugin registers each EHR adapter name (to say whose settings to check)."""
    registry: Registry[AdapterFactory] = Registry("EHR adapter")
    owners: dict[str, str] = {}
    for plugin, call in hook_calls(
        pm, "register_ehr_adapters", registry=registry, settings=settings
    ):
        before = set(registry.names())
        try:
            call()
        except Exception:
            continue  # start-up already refused a broken registration
        owners.update((name, plugin) for name in registry.names() if name not in before)
    return owners


def _read_ehr(
    runtime: Runtime, slug: str, adapter_name: str, owners: Mapping[str, str]
) -> tuple[GoLiveCheck, EHRFacts | None]:
    name = f"practice {slug}: EHR ({adapter_name}) answers with its credentials"
    owner = owners.get(adapter_name)
    where = (
        f"plugins.config.{owner}.practices.{slug}"
        if owner
        else f"the settings of the plugin that registers {adapter_name!r}"
    )
    step = "build the adapter"
    try:
        adapter = runtime.ehr.for_practice(slug)
        step = "read_practice_settings"
        practice_settings = adapter.read_practice_settings()
        step = "list_providers"
        providers = adapter.list_providers()
        step = "list_locations"
        locations = adapter.list_locations()
        step = "list_visit_reasons"
        visit_reasons = adapter.list_visit_reasons()
    except Exception as exc:
        return GoLiveCheck.failed(name, _ehr_failure(exc, step, adapter_name, where)), None
    facts = EHRFacts(
        adapter=adapter_name,
        practice_settings=practice_settings,
        providers=tuple(providers),
        locations=tuple(locations),
        visit_reasons=tuple(visit_reasons),
    )
    return GoLiveCheck.passed(name), facts


def _ehr_failure(exc: Exception, step: str, adapter: str, where: str) -> str:
    code = error_code(exc)
    if isinstance(exc, ConfigError):
        return str(exc).splitlines()[0]  # names the key; settings errors carry no secret
    if isinstance(exc, TransientError):
        return (
            f"the EHR could not be reached ({code}): check the address in {where} "
            "and that the EHR is up"
        )
    if isinstance(exc, ExternalRejected) and code.endswith("unauthorized"):
        return f"the EHR refused the credentials ({code}): check the API key in {where}"
    if isinstance(exc, MissingRecord | ExternalRejected):
        return (
            f"the EHR refused {step} ({code}): check that the address in {where} is the EHR's "
            "API and that its account may read the practice's directory and settings"
        )
    if isinstance(exc, AttributeError | NotImplementedError):
        return f"the {adapter!r} EHR adapter cannot {step}: update the plugin that provides it"
    return (
        f"{step} failed ({code}, {type(exc).__name__}): report it to the authors of the "
        f"{adapter!r} EHR adapter"
    )


def _directory_checks(slug: str, practice: PracticeSettings, facts: EHRFacts) -> list[GoLiveCheck]:
    checks = []
    providers = {provider.id: provider for provider in facts.providers}
    for key, provider in practice.providers.items():
        name = f"practice {slug}: provider {key} is in the EHR (ehr_id {provider.ehr_id})"
        if provider.ehr_id in providers:
            checks.append(GoLiveCheck.passed(name))
        else:
            checks.append(
                GoLiveCheck.failed(
                    name,
                    f"the EHR has no provider {provider.ehr_id!r}: set "
                    f"practices.{slug}.providers.{key}.ehr_id to their id in the EHR "
                    f"({_choices(facts.providers)})",
                )
            )
    locations = {location.id for location in facts.locations}
    for key, location in practice.locations.items():
        if location.ehr_id is None:
            checks.append(
                GoLiveCheck.failed(
                    f"practice {slug}: location {key} is in the EHR",
                    f"practices.{slug}.locations.{key}.ehr_id is not set: set it to the "
                    f"location's id in the EHR ({_choices(facts.locations)})",
                )
            )
            continue
        name = f"practice {slug}: location {key} is in the EHR (ehr_id {location.ehr_id})"
        if location.ehr_id in locations:
            checks.append(GoLiveCheck.passed(name))
        else:
            checks.append(
                GoLiveCheck.failed(
                    name,
                    f"the EHR has no location {location.ehr_id!r}: set "
                    f"practices.{slug}.locations.{key}.ehr_id to its id in the EHR "
                    f"({_choices(facts.locations)})",
                )
            )
    return checks


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
