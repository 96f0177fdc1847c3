"""Who is told what, when a request arrives, is synced or fails to sync, and when the
practice decides about an appointment.

* ``request``: the practice's alert recipients get an email (no patient identity: provider,
  place, time, reason) and/or a text with no PHI at all — a count and a link.
* ``request_synced``: the patient gets "we received your request" (by email, and by text where
  both sides agreed: :mod:`plugins.notifications.patient_messages`).
* ``request_sync_failed``: the practice is alerted that a request needs attention.
* ``confirm``, ``decline``, ``cancel``, ``reschedule``: the patients hear what the practice
  decided in the EHR (:mod:`plugins.notifications.decisions`).

Channels are chosen per practice by name from the ``register_channels`` registry (``email``,
``sms``, ``file``, or another plugin's) and checked at start-up
(:mod:`plugins.notifications.channel_choice`); every send goes through the send ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from integration_core.api import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    HookContext,
    Message,
    MissingRecord,
    RequestEvent,
    RequestSyncedEvent,
    RequestSyncFailedEvent,
    TableRegistry,
    hookimpl,
)
from plugins.notifications.channel_choice import (
    channel,
    check_config,
    register_channels,
    settings_model,
)
from plugins.notifications.config import practice_notifications
from plugins.notifications.decisions import on_cancel, on_confirm, on_decline, on_reschedule
from plugins.notifications.golive import go_live_checks
from plugins.notifications.ledger import send_once
from plugins.notifications.patient_messages import tell
from plugins.notifications.recipients import of_request
from plugins.notifications.rendering import local_time, render, visit

__all__ = [
    "check_config",
    "go_live_checks",
    "on_cancel",
    "on_confirm",
    "on_decline",
    "on_request",
    "on_request_sync_failed",
    "on_request_synced",
    "on_reschedule",
    "register_channels",
    "register_tables",
    "settings_model",
]


@hookimpl
def register_tables(tables: TableRegistry) -> None:
    tables.add_versions(Path(__file__).parent / "migrations")


def _portal_link(ctx: HookContext) -> str:
    base = ctx.settings.http.public_base_url.rstrip("/")
    return f"{base}/v1/practices/{ctx.practice_id}/portal/action-required"


def _alert_staff(ctx: HookContext, template: str, subject: str, **values: Any) -> None:
    practice = practice_notifications(ctx.settings, ctx.practice_id)
    for address in practice.alert_emails:
        body = render(f"{template}.email.j2", **values)
        email = channel(ctx.settings, ctx.channels, practice.email_channel)
        send_once(ctx, practice.email_channel, email, template, Message(address, body, subject))
    for phone in practice.alert_phones:
        body = render(f"{template}.sms.j2", **values)
        sms = channel(ctx.settings, ctx.channels, practice.sms_channel)
        send_once(ctx, practice.sms_channel, sms, template, Message(phone, body))


@hookimpl
def on_request(event: RequestEvent, ctx: HookContext) -> None:
    recipients = practice_notifications(ctx.settings, ctx.practice_id)
    if not (recipients.alert_emails or recipients.alert_phones):
        return  # this practice takes no new-request alerts
    with ctx.db.read() as session:
        appointment = session.get(Appointment, event.appointment_id)
        waiting = session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.practice_id == ctx.practice_id,
                Appointment.request_id.is_not(None),
                Appointment.status.in_([AppointmentStatus.REQUESTED, AppointmentStatus.TENTATIVE]),
            )
        )
    if appointment is None:
        raise MissingRecord("the appointment is gone")
    practice = ctx.practice
    _alert_staff(
        ctx,
        "request_alert",
        f"{practice.name}: new appointment request",
        practice=practice.name,
        provider=practice.providers[appointment.provider_id].name,
        location=practice.locations[appointment.location_id].name,
        when=local_time(practice, appointment.location_id, appointment.start_at),
        reason=appointment.reason_name or appointment.reason_id or "not given",
        virtual=appointment.virtual,
        link=_portal_link(ctx),
        waiting=waiting,
    )


@hookimpl
def on_request_synced(event: RequestSyncedEvent, ctx: HookContext) -> None:
    with ctx.db.read() as session:
        request = session.get(AppointmentRequest, event.request_id)
        appointment = session.get(Appointment, event.appointment_id)
    if request is None or appointment is None:
        raise MissingRecord("the request is gone")
    practice = ctx.practice
    subject = f"{practice.name}: we received your appointment request"
    tell(ctx, of_request(request), "request_received", subject, **visit(practice, appointment))


@hookimpl
def on_request_sync_failed(event: RequestSyncFailedEvent, ctx: HookContext) -> None:
    _alert_staff(
        ctx,
        "sync_failed",
        f"{ctx.practice.name}: an appointment request needs attention",
        practice=ctx.practice.name,
        reason=event.reason_code,
        link=_portal_link(ctx),
    )
