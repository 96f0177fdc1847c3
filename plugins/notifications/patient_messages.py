"""Telling one patient something: by email, and by text as well where both sides agreed.

A patient is emailed at the address they may be emailed at (the practice's ``email_channel``)
and texted when the practice texts patients (``text_patients``, through ``sms_channel``) and
the patient agreed to texts — never otherwise. Each message goes once per delivery, patient
and channel, through the send ledger, so a retried delivery resends nothing that went out.
"""

from __future__ import annotations

from typing import Any

from integration_core.api import HookContext, Message
from plugins.notifications.channel_choice import channel
from plugins.notifications.config import practice_notifications
from plugins.notifications.ledger import send_once
from plugins.notifications.recipients import Recipient
from plugins.notifications.rendering import render

__all__ = ["tell"]


def tell(ctx: HookContext, recipient: Recipient, template: str, subject: str, **values: Any) -> int:
    """Send ``template`` (``<template>.email.j2``, ``<template>.sms.j2``) to ``recipient``,
    greeted by their first name; returns how many ways reached them (0: none may be used)."""
    ours = practice_notifications(ctx.settings, ctx.practice_id)
    ways: list[tuple[str, str, Message]] = []
    if recipient.email is not None:
        body = render(f"{template}.email.j2", first_name=recipient.first_name, **values)
        ways.append(("email", ours.email_channel, Message(recipient.email, body, subject)))
    if recipient.phone is not None and ours.text_patients:
        body = render(f"{template}.sms.j2", **values)
        ways.append(("sms", ours.sms_channel, Message(recipient.phone, body)))
    for medium, name, message in ways:
        counted_as = None if recipient.ledger_id is None else f"{recipient.ledger_id}:{medium}"
        send_once(
            ctx,
            name,
            channel(ctx.settings, ctx.channels, name),
            template,
            message,
            recipient=counted_as,
        )
    return len(ways)
