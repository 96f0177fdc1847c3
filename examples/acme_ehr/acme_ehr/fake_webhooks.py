"""The fake Acme EHR's webhooks: each journal entry announced in a message signed with
`Standard Webhooks <https://www.standardwebhooks.com/>`_ under the subscriber's secret.

A message has its own id (``webhook-id``, the receiver's key against replays), the time it was
signed (``webhook-timestamp``, seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``
of ``id.timestamp.body``); its body is ``{"event": "journal.appended", "entries": [...]}``, each
entry as the journal shows it. The fake keeps what it signed, in order, as sent
(:attr:`WebhookSigner.sent`); it posts nowhere, so tests hand the messages to the adapter.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from acme_ehr.fake_fields import Json

__all__ = ["EVENT", "SentWebhook", "WebhookSigner"]

EVENT = "journal.appended"


@dataclass(frozen=True)
class SentWebhook:
    """A message as it went on the wire: its headers (lower-case names) and body."""

    headers: dict[str, str]
    body: bytes


class WebhookSigner:
    """Signs a message for each journal entry it hears of (a :class:`Journal` listener)."""

    def __init__(self, secret: str, clock: Callable[[], datetime]) -> None:
        self._webhook = Webhook(secret)
        self._clock = clock
        self._sent: list[SentWebhook] = []

    def __call__(self, entry: Json) -> None:
        self.sign(json.dumps({"event": EVENT, "entries": [entry]}))

    def sign(self, body: str) -> SentWebhook:
        """Sign ``body`` as a new message, now, and keep it as sent."""
        message_id = f"msg_{secrets.token_hex(8)}"
        signed_at = self._clock().astimezone(UTC)  # the library reads it as UTC wall time
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": self._webhook.sign(message_id, signed_at, body),
        }
        message = SentWebhook(headers, body.encode())
        self._sent.append(message)
        return message

    @property
    def sent(self) -> list[SentWebhook]:
        """Every message signed so far, oldest first."""
        return list(self._sent)
