"""Who is told what, when a request arrives, is synced, or fails to sync.

* ``request``: the practice's alert recipients get an email (no patient identity: provider,
  place, time, reason) and/or a text with no PHI at all — a count and a link.
* ``request_synced``: the patient gets "we received your request" by email.
* ``request_sync_failed``: the practice is alerted that a request needs attention.

Channels are chosen per practice by name from the ``register_channels`` registry (``email``,
``sms``, ``file``, or another plugin's) and checked at start-up
(:mod:`plugins.notifications.channel_choice`); every send goes through the send ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func, select

from integration_core.api import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Channel,
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
from plugins.notifications.config import PracticeNotifications, load
from plugins.notifications.golive import go_live_checks
from plugins.notifications.ledger import send_once

__all__ = [
    "check_config",
    "go_live_checks",
    "on_request",
    "on_request_sync_failed",
    "on_request_synced",
    "register_channels",
    "register_tables",
    "settings_model",
]

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # plain-text messages
    keep_trailing_newline=True,
)


@hookimpl
def register_tables(tables: TableRegistry) -> None:
    tables.add_versions(Path(__file__).parent / "migrations")


def _channel(ctx: HookContext, name: str) -> Channel:
    return channel(ctx.settings, ctx.channels, name)


def _practice(ctx: HookContext) -> PracticeNotifications:
    return load(ctx.settings).practices.get(ctx.practice_id, PracticeNotifications())


def _render(template: str, **values: Any) -> str:
    return TEMPLATES.get_template(template).render(**values).strip() + "\n"


def _portal_link(ctx: HookContext) -> str:
    base = ctx.settings.http.public_base_url.rstrip("/")
    return f"{base}/v1/practices/{ctx.practice_id}/portal/action-required"


def _when(ctx: HookContext, appointment: Appointment) -> str:
    zone = ctx.practice.locations[appointment.location_id].zone
    return appointment.start_at.astimezone(zone).strftime("%a %d %b %Y, %H:%M %Z")


def _alert_staff(ctx: HookContext, template: str, subject: str, **values: Any) -> None:
    practice = _practice(ctx)
    email = _channel(ctx, practice.email_channel) if practice.alert_emails else None
    for address in practice.alert_emails:
        body = _render(f"{template}.email.j2", **values)
        assert email is not None
        send_once(ctx, practice.email_channel, email, template, Message(address, body, subject))
    sms = _channel(ctx, practice.sms_channel) if practice.alert_phones else None
    for phone in practice.alert_phones:
        assert sms is not None
        send_once(
            ctx,
            practice.sms_channel,
            sms,
            template,
            Message(phone, _render(f"{template}.sms.j2", **values)),
        )


@hookimpl
def on_request(event: RequestEvent, ctx: HookContext) -> None:
    recipients = _practice(ctx)
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
        when=_when(ctx, appointment),
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
    channel_name = _practice(ctx).email_channel
    body = _render(
        "request_received.email.j2",
        first_name=request.first_name,
        practice=practice.name,
        provider=practice.providers[appointment.provider_id].name,
        location=practice.locations[appointment.location_id].name,
        when=_when(ctx, appointment),
        virtual=appointment.virtual,
    )
    message = Message(request.email, body, f"{practice.name}: we received your appointment request")
    send_once(ctx, channel_name, _channel(ctx, channel_name), "request_received", message)


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
