"""Signed inbound webhooks: verified before the body is parsed, and each message acted on once.

A signature proves who sent a message, not that it is new: whoever saw one signed message could
send it again. So a verified message carries its sender's id for it, and the route records
``(source, message id)`` with :func:`accept_once` in the same transaction as what the message
changes. A replay — to any process, after any restart — is refused with ``409
webhook_replayed``; a message whose handling failed (and rolled back) can still be delivered
again. An id is kept while the source's tolerance window would let a replay through, then
forgotten (:mod:`integration_core.webhook_messages`).

* Standard Webhooks (:func:`standard_webhook`): the id is ``webhook-id``, signed together with
  the body and ``webhook-timestamp``, which must be within five minutes of the engine's clock.
* A source that signs no timestamp (an SMS gateway's HMAC over the URL and its parameters)
  uses its own message id and keeps it as long as it may resend; the URL it signed is
  :func:`public_url`, rebuilt from ``http.public_base_url``, never from the Host header a
  client chose.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from integration_core.http.errors import ApiError
from integration_core.http.security import get_engine
from integration_core.settings import Settings
from integration_core.webhook_messages import record_once

__all__ = [
    "STANDARD_WEBHOOK_TOLERANCE",
    "SignedMessage",
    "accept_once",
    "public_url",
    "standard_webhook",
    "verify_standard_webhook",
]

STANDARD_WEBHOOK_TOLERANCE = timedelta(minutes=5)
"""How far ``webhook-timestamp`` may be from now, either way (the standardwebhooks library's)."""


@dataclass(frozen=True)
class SignedMessage:
    """A message whose signature verified: who sent it, their id for it, its raw body, and
    until when a replay of it could still verify."""

    source: str
    message_id: str
    body: bytes
    keep_until: datetime


def standard_webhook(
    source: str, secret_for: Callable[[Request], str | None]
) -> Callable[[Request], Awaitable[SignedMessage]]:
    """A dependency returning the message once its Standard Webhooks signature verifies, signed
    within the tolerance of the engine's clock (else 401). ``source`` names the sender in the
    store of seen ids (``"kareo_like"``)."""

    async def dependency(request: Request) -> SignedMessage:
        secret = secret_for(request)
        body = await request.body()
        if not secret:
            raise ApiError(401, "webhook_not_configured", "No webhook secret is configured.")
        verified = verify_standard_webhook(
            secret, request.headers, body, get_engine(request).clock.now()
        )
        if verified is None:
            raise ApiError(
                401,
                "webhook_signature_invalid",
                "The webhook signature did not verify, or it was not signed within "
                f"{STANDARD_WEBHOOK_TOLERANCE.seconds // 60} minutes of now.",
            )
        message_id, signed_at = verified
        return SignedMessage(
            source=source,
            message_id=message_id,
            body=body,
            keep_until=signed_at + STANDARD_WEBHOOK_TOLERANCE,
        )

    return dependency


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> tuple[str, datetime] | None:
    """``(message id, signed at)`` if one of the ``v1`` signatures matches and the timestamp
    is within the tolerance of ``now``; else None. EHR adapters whose EHR signs with Standard
    Webhooks verify with it in ``parse_webhook``. (The standardwebhooks library signs; its
    verifier would read the system clock, not the engine's.)"""
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    presented = headers.get("webhook-signature", "").split()
    try:
        signed_at = datetime.fromtimestamp(int(stamp), UTC)
        expected = Webhook(secret).sign(message_id, signed_at, body.decode())
    except (ValueError, OverflowError, OSError, UnicodeDecodeError):
        return None
    if not message_id or abs(now - signed_at) > STANDARD_WEBHOOK_TOLERANCE:
        return None
    if not any(hmac.compare_digest(expected.encode(), sig.encode()) for sig in presented):
        return None
    return message_id, signed_at


def accept_once(session: Session, message: SignedMessage, now: datetime) -> None:
    """Record ``message`` as acted on, in the caller's transaction — the one that acts on it;
    ``409 webhook_replayed`` if it already was."""
    if not record_once(
        session,
        source=message.source,
        message_id=message.message_id,
        keep_until=message.keep_until,
        now=now,
    ):
        raise ApiError(409, "webhook_replayed", "This message was already received.")


def public_url(settings: Settings, request: Request) -> str:
    """The URL the sender signed: ``http.public_base_url`` with this request's path and query
    (the Host header and any forwarded host are the client's to choose, so never used)."""
    base = settings.http.public_base_url.rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")
