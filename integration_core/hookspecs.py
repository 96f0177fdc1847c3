"""Every hook practice-sync calls, in one place.

Implement them with ``from integration_core import hookimpl``. Hooks are always called with
keyword arguments, and an implementation may accept fewer parameters than its spec, so specs
can grow without breaking plugins.

Calling rules:

* ``on_*`` lifecycle hooks are **never** called for all plugins at once. Each event is stored
  and fanned out as one *delivery* per implementing plugin, retried on its own, so one
  plugin's failure cannot skip another's. Raise from :mod:`integration_core.errors` to say
  whether a failure is transient (retried) or permanent (dead-lettered at once).
* ``route_review`` stops at the first non-``None`` result.
* ``register_*`` hooks run once at start-up, broadcast, with a registry to add to.
* ``settings_model`` and ``check_config`` run once at start-up, plugin by plugin, before any
  work: what they refuse stops ``check-config``, ``run``, ``serve``, ``worker`` and
  ``scheduler`` with the key named.
* ``go_live_checks`` runs in ``practice-sync check`` only, plugin by plugin; every plugin's
  checks are collected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from integration_core.channels import ChannelFactory
    from integration_core.checks import EHRFacts, GoLiveCheck
    from integration_core.clock import Clock
    from integration_core.context import HookContext
    from integration_core.ehr.adapters import AdapterFactory
    from integration_core.ehr.protocol import EHRPatientContact
    from integration_core.events import (
        AppointmentSyncedEvent,
        CancelEvent,
        CheckinEvent,
        CheckoutEvent,
        ConfirmEvent,
        DeclineEvent,
        DeliveryDeadEvent,
        EHRChangeUnmappedEvent,
        RequestEvent,
        RequestSyncedEvent,
        RequestSyncFailedEvent,
        RescheduleEvent,
        TimerEvent,
    )
    from integration_core.patients import PatientContact
    from integration_core.registries import Registry, RouteRegistry, TableRegistry
    from integration_core.reviews import PublishedReview, ReviewToRoute
    from integration_core.settings import Settings
    from integration_core.startup import Registries
    from integration_core.store import Database

PROJECT = "practice_sync"
hookspec = pluggy.HookspecMarker(PROJECT)

# ---------------------------------------------------------------------------------------------
# Booking requests and their EHR sync
# ---------------------------------------------------------------------------------------------


@hookspec
def on_request(event: RequestEvent, ctx: HookContext) -> None:
    """A patient submitted a booking request (its appointment is ``requested``).

    :param event: ids of the stored request and its appointment.
    :param ctx: the delivery's context: its transaction, clock, settings, idempotency keys.

    Broadcast, one delivery per implementing plugin. Called after the request, its
    appointment and this event were committed together. Since 0.1.
    """


@hookspec
def on_request_synced(event: RequestSyncedEvent, ctx: HookContext) -> None:
    """The request is now a tentative appointment in the EHR.

    :param event: the request, its appointment, and how the patient was matched.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_request_sync_failed(event: RequestSyncFailedEvent, ctx: HookContext) -> None:
    """Writing the request to the EHR failed for good; staff must act.

    :param event: the request, its appointment, the failure's reason code and the
        dead delivery that retries it (``delivery_id``, for ``dead-letters replay``).
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


# ---------------------------------------------------------------------------------------------
# Appointment lifecycle (decided in the EHR, mirrored here)
# ---------------------------------------------------------------------------------------------


@hookspec
def on_confirm(event: ConfirmEvent, ctx: HookContext) -> None:
    """Staff confirmed a tentative appointment; it is booked.

    :param event: the appointment's id.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_decline(event: DeclineEvent, ctx: HookContext) -> None:
    """Staff declined a tentative appointment; it is cancelled.

    :param event: the appointment's id.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_cancel(event: CancelEvent, ctx: HookContext) -> None:
    """A booked appointment was cancelled.

    :param event: the appointment's id.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_reschedule(event: RescheduleEvent, ctx: HookContext) -> None:
    """An appointment moved to another time.

    :param event: the appointment's id and its previous start (ISO 8601, UTC).
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_checkin(event: CheckinEvent, ctx: HookContext) -> None:
    """The patient was checked in.

    :param event: the appointment's id; for a group, the attendee's EHR patient id.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_checkout(event: CheckoutEvent, ctx: HookContext) -> None:
    """The visit is over (checked out); the feedback workflow starts here.

    :param event: the appointment's id; for a group, the attendee's EHR patient id.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_appointment_synced(event: AppointmentSyncedEvent, ctx: HookContext) -> None:
    """An appointment made or changed in the EHR (any origin) was mirrored locally.

    :param event: the local appointment's id.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.1.
    """


@hookspec
def on_ehr_change_unmapped(event: EHRChangeUnmappedEvent, ctx: HookContext) -> None:
    """The EHR changed an appointment of a provider or at a location the configuration does not
    know; the change was recorded, not applied.

    :param event: the change's id, the EHR appointment's id, the reason code and the EHR id
        that is not configured.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin. Since 0.2.
    """


# ---------------------------------------------------------------------------------------------
# The engine's own events
# ---------------------------------------------------------------------------------------------


@hookspec
def on_delivery_dead(event: DeliveryDeadEvent, ctx: HookContext) -> None:
    """A delivery failed permanently or ran out of retries.

    :param event: the failed event's id and kind, the plugin, and the reason code.
    :param ctx: the delivery's context.

    Broadcast, one delivery per implementing plugin; a dead ``on_delivery_dead`` delivery
    raises no further event. Since 0.1.
    """


@hookspec
def on_timer(event: TimerEvent, ctx: HookContext) -> None:
    """A durable timer this plugin set (``ctx.schedule``) came due.

    :param event: the timer's id, kind, key and the ids it carries.
    :param ctx: the delivery's context.

    Delivered only to the plugin that owns the timer, once. Since 0.1.
    """


# ---------------------------------------------------------------------------------------------
# Patients (the booking platform owns their records)
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def keep_ehr_patient(patient: EHRPatientContact, ctx: HookContext) -> str | None:
    """Keep a patient of an appointment made in the EHR as a patient record of this plugin's,
    in the delivery's transaction: the record already kept for that EHR patient id, updated
    from the EHR (the source of truth), or a new one — never merged with another.

    :param patient: the patient as the EHR keeps them, contact details and preferences
        included (read with ``read_patient``).
    :param ctx: the context of the core's delivery that read them.
    :returns: the record's id, or ``None`` if this plugin keeps no patient records.

    First result wins. Since 0.2.
    """


@hookspec(firstresult=True)
def patient_contact(practice_id: str, patient_id: str, session: Session) -> PatientContact | None:
    """How to reach a patient this plugin keeps (``keep_ehr_patient``'s ids).

    :param practice_id: the practice.
    :param patient_id: the record's id.
    :param session: the caller's session, to read in.
    :returns: the contact details and what the patient agreed to, or ``None`` if this plugin
        does not keep ``patient_id``.

    First result wins. Since 0.2.
    """


# ---------------------------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def route_review(
    review: ReviewToRoute, destination: str, ctx: HookContext
) -> PublishedReview | None:
    """Publish ``review`` at ``destination`` (``google``, ``vitals``, ``healthgrades``, …).

    :param review: the public review as the patient agreed to publish it.
    :param destination: the destination's configured name.
    :param ctx: the context of the delivery doing the routing (use its idempotency key).
    :returns: where the review now lives, or ``None`` if this plugin does not serve
        ``destination``.

    First result wins. Since 0.1.
    """


# ---------------------------------------------------------------------------------------------
# Start-up: declared settings and checks
# ---------------------------------------------------------------------------------------------


@hookspec
def settings_model() -> type[BaseModel]:
    """Declare the pydantic model of this plugin's settings (``plugins.config.<plugin>``).

    :returns: the model class; derive it from ``ConfigSection`` so unknown keys are refused,
        and type secrets as ``SecretStr`` (they are then refused in the config file and
        masked everywhere).

    Called once per plugin at start-up; the engine validates the plugin's settings against it
    and reports every problem with its full key path. Read the validated settings with
    ``plugin_config(settings, name, Model)``. Since 0.2.
    """
    raise NotImplementedError


@hookspec
def check_config(settings: Settings, registries: Registries) -> None:
    """Cross-check this plugin's settings against the rest of the configuration.

    :param settings: the loaded, validated settings (plugin settings included).
    :param registries: the EHR adapters and channels every plugin registered.

    Called once per plugin at start-up, after ``register_ehr_adapters`` and
    ``register_channels`` filled ``registries``. Raise
    ``ConfigError`` naming the full key path and the valid choices for anything a delivery
    would otherwise find wrong later (a channel name that resolves to nothing, a channel
    whose required settings are missing). Since 0.2.
    """


# ---------------------------------------------------------------------------------------------
# Before go-live
# ---------------------------------------------------------------------------------------------


@hookspec
def go_live_checks(
    settings: Settings, registries: Registries, db: Database | None, ehr: Mapping[str, EHRFacts]
) -> list[GoLiveCheck]:
    """Check what this plugin needs from the world outside the configuration, before go-live.

    :param settings: the loaded, validated settings.
    :param registries: the EHR adapters and channels every plugin registered.
    :param db: the database, reachable and migrated to head; ``None`` when it is not (that
        check has failed already: skip what needs it).
    :param ehr: what the core read from each practice's EHR, by practice slug: its practice
        settings, providers, locations and visit reasons. A practice without ``ehr_adapter``
        is absent, and so is one whose EHR could not be read (that check has failed already).
    :returns: one ``GoLiveCheck`` per thing checked, passed or failed; a failure says what to
        change, naming the setting or the place in the EHR. Neither carries patient data or
        a secret.

    Broadcast, by ``practice-sync check`` only, after the core's own checks (database,
    broker, each practice's EHR); every plugin's checks are printed, one line each. Plugins
    call no EHR adapter: what they need from the EHR is in ``ehr``. An exception is reported
    as a failed check of the plugin. Since 0.2.
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# Start-up registration
# ---------------------------------------------------------------------------------------------


@hookspec
def register_ehr_adapters(registry: Registry[AdapterFactory], settings: Settings) -> None:
    """Add EHR adapter factories by name (a practice's ``ehr_adapter`` picks one).

    :param registry: call ``registry.add(name, factory)``.
    :param settings: the loaded settings.

    Broadcast, once at start-up. Since 0.1.
    """


@hookspec
def register_channels(registry: Registry[ChannelFactory], settings: Settings) -> None:
    """Add notification channel factories by name (``email``, ``sms``, ``file``, …).

    :param registry: call ``registry.add(name, factory)``.
    :param settings: the loaded settings.

    Broadcast, once at start-up. Since 0.1.
    """


@hookspec
def register_routes(routes: RouteRegistry, settings: Settings) -> None:
    """Add FastAPI routers (and ASGI middleware) to the HTTP app.

    :param routes: call ``routes.add(router)`` or ``routes.add_middleware(cls, **options)``.
    :param settings: the loaded settings.

    Broadcast, once when the app is built. Since 0.1.
    """


@hookspec
def register_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``practice-sync`` command line.

    :param cli: the root ``click`` group; call ``cli.add_command(...)``.

    Broadcast, once when the command line starts. Since 0.1.
    """


@hookspec
def after_migrate(db: Database, settings: Settings, clock: Clock) -> None:
    """The schema is up to date: import configured seed data, idempotently.

    :param db: the migrated database (open your own transaction).
    :param settings: the loaded settings.
    :param clock: the clock to stamp rows with.

    Broadcast, after ``practice-sync migrate``, ``run`` and ``demo`` migrate. Since 0.1.
    """


@hookspec
def register_tables(tables: TableRegistry) -> None:
    """Add the Alembic version folder holding this plugin's migrations.

    :param tables: call ``tables.add_versions(folder)``.

    Broadcast, once before migrating. Since 0.1.
    """
