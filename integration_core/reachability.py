"""Can the deployment reach what it needs? The database (migrated to head), the broker, each
practice's EHR — each as a :class:`~integration_core.checks.GoLiveCheck` that names what to
fix.

``practice-sync check`` reports these first; ``serve``, ``worker``, ``scheduler`` and ``run``
refuse to start on any that fails (:func:`start_refusals`), since a process that started
anyway would answer every call with an error, or retry its deliveries forever. Lines carry no
patient data and no secret: errors are shown by their stable code, never by a message that
might quote a URL or a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from integration_core.checks import EHRFacts, GoLiveCheck
from integration_core.ehr.adapters import AdapterFactory
from integration_core.errors import (
    ConfigError,
    ExternalRejected,
    MissingRecord,
    TransientError,
    error_code,
)
from integration_core.plugins import hook_calls
from integration_core.registries import Registry
from integration_core.settings import Settings
from integration_core.store.migrate import pending_revisions

if TYPE_CHECKING:
    import pluggy

    from integration_core.runtime import Runtime

__all__ = ["adapter_owners", "broker_check", "database_check", "read_ehr", "start_refusals"]


def database_check(runtime: Runtime) -> GoLiveCheck:
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
        cause = str(getattr(exc, "orig", "") or "").strip().splitlines()
        said = f": {cause[-1][:200]}" if cause else ""  # the server's own words, never data
        return GoLiveCheck.failed(
            name,
            f"the database could not be reached ({type(exc).__name__}{said}): check "
            "database_url and that the database is up",
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


def broker_check(runtime: Runtime) -> GoLiveCheck:
    scheme = runtime.settings.broker.url.split("://", 1)[0]
    if scheme == "stub":
        return GoLiveCheck.passed("broker: in this process (stub://)")
    name = f"broker: reachable ({scheme}://)"
    if runtime.dramatiq.ping():
        return GoLiveCheck.passed(name)
    return GoLiveCheck.failed(
        name, "the broker did not answer: check broker.url and that the broker is running"
    )


def adapter_owners(pm: pluggy.PluginManager, settings: Settings) -> dict[str, str]:
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


def read_ehr(
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


def start_refusals(runtime: Runtime, *, ehr: bool) -> list[str]:
    """Why the runtime must not start, one line each (none: it may): the database and the
    broker, and with ``ehr`` each practice's EHR (for the processes that call EHRs)."""
    checks = [database_check(runtime), broker_check(runtime)]
    if ehr:
        owners = adapter_owners(runtime.pm, runtime.settings)
        for slug, practice in runtime.settings.practices.items():
            if practice.ehr_adapter is not None:
                checks.append(read_ehr(runtime, slug, practice.ehr_adapter, owners)[0])
    return [f"{check.name} — failed: {check.fix}" for check in checks if not check.ok]
