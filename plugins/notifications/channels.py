"""The channels: each sends one message and returns the provider's message id.

SMTP and most SMS gateways honour no idempotency key, so senders check the send ledger
(:mod:`plugins.notifications.ledger`) first: a retried delivery does not resend what was
already sent. Across a crash between sending and recording, a message can go out twice:
channels are at-least-once.

``probe()`` proves a channel's endpoint answers, sending nothing (``practice-sync check``): the
SMTP server greets us (and accepts the login, when one is set), the SMS gateway shows the
account to its credentials, the folder takes a file.
"""

from __future__ import annotations

import re
import secrets
import smtplib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import httpx

from integration_core.api import ExternalRejected, ExternalTimeout, ExternalUnavailable, Message
from plugins.notifications.config import EmailSettings, SmsSettings

__all__ = ["EmailChannel", "FileChannel", "SmsChannel"]


class EmailChannel:
    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    @contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        """A greeted SMTP session (STARTTLS and the login, when set), its failures mapped onto
        the error tree: a refused recipient or login is permanent, the rest transient."""
        try:
            with smtplib.SMTP(
                self.settings.host, self.settings.port, timeout=self.settings.timeout_seconds
            ) as smtp:
                smtp.ehlo_or_helo_if_needed()
                if self.settings.starttls:
                    smtp.starttls()
                    smtp.ehlo()
                if self.settings.username and self.settings.password:
                    smtp.login(self.settings.username, self.settings.password.get_secret_value())
                yield smtp
        except smtplib.SMTPRecipientsRefused:
            raise ExternalRejected(
                "the mail server refused the recipient", code="email_rejected"
            ) from None
        except smtplib.SMTPAuthenticationError:
            raise ExternalRejected(
                "the mail server refused the username and password", code="email_unauthorized"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ExternalRejected(
                "the mail server offers no STARTTLS or login", code="email_rejected"
            ) from None
        except TimeoutError:
            raise ExternalTimeout("the mail server did not answer", code="email_timeout") from None
        except (OSError, smtplib.SMTPException):
            raise ExternalUnavailable(
                "the mail server is unavailable", code="email_unavailable"
            ) from None

    def send(self, message: Message) -> str:
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Message-ID"] = f"<{secrets.token_hex(12)}@practice-sync>"
        email.set_content(message.body)
        with self._session() as smtp:
            smtp.send_message(email)
        return str(email["Message-ID"])

    def probe(self) -> None:
        """Connect, read the greeting, EHLO (then STARTTLS and the login, when set), QUIT."""
        with self._session():
            pass


class SmsChannel:
    """A Twilio-compatible ``POST /2010-04-01/Accounts/{sid}/Messages.json``."""

    def __init__(self, settings: SmsSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.client = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            auth=(settings.account_sid, settings.auth_token.get_secret_value()),
            timeout=settings.timeout_seconds,
            transport=transport,
        )

    def send(self, message: Message) -> str:
        path = f"/2010-04-01/Accounts/{self.settings.account_sid}/Messages.json"
        form = {"To": message.to, "From": self.settings.from_number, "Body": message.body}
        try:
            response = self.client.post(path, data=form)
        except httpx.TimeoutException:
            raise ExternalTimeout("the SMS gateway did not answer", code="sms_timeout") from None
        except httpx.TransportError:
            raise ExternalUnavailable(
                "the SMS gateway is unavailable", code="sms_unavailable"
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ExternalUnavailable(
                f"the SMS gateway answered {response.status_code}", code="sms_unavailable"
            )
        if response.status_code >= 400:
            raise ExternalRejected(
                f"the SMS gateway refused the message ({response.status_code})", code="sms_rejected"
            )
        return str(response.json().get("sid", ""))

    def probe(self) -> None:
        """``GET /2010-04-01/Accounts/{sid}.json``: the account, shown to its credentials."""
        path = f"/2010-04-01/Accounts/{quote(self.settings.account_sid, safe='')}.json"
        try:
            response = self.client.get(path)
        except httpx.TimeoutException:
            raise ExternalTimeout("the SMS gateway did not answer", code="sms_timeout") from None
        except httpx.TransportError:
            raise ExternalUnavailable(
                "the SMS gateway is unavailable", code="sms_unavailable"
            ) from None
        status = response.status_code
        if status >= 500 or status == 429:
            raise ExternalUnavailable(f"the SMS gateway answered {status}", code="sms_unavailable")
        if status in (401, 403):
            raise ExternalRejected(
                f"the SMS gateway refused the credentials ({status})", code="sms_unauthorized"
            )
        if status == 404:
            raise ExternalRejected(
                "the SMS gateway has no such account (404)", code="sms_no_such_account"
            )
        if status >= 400:
            raise ExternalRejected(f"the SMS gateway refused ({status})", code="sms_rejected")


class FileChannel:
    """Development: one file per message in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = secrets.token_hex(8)
        kind = "email" if message.subject is not None else "sms"
        safe_to = re.sub(r"[^A-Za-z0-9]+", "_", message.to)[:40]
        lines = [f"To: {message.to}", f"Channel: {kind}"]
        if message.subject is not None:
            lines.append(f"Subject: {message.subject}")
        path = self.folder / f"{kind}-{safe_to}-{message_id}.txt"
        path.write_text("\n".join([*lines, "", message.body]) + "\n")
        return message_id

    def probe(self) -> None:
        """The folder exists (or can be made) and takes a file, removed at once."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe-"):
                pass
        except OSError:
            raise ExternalRejected(
                f"the folder {self.folder} cannot be written", code="file_not_writable"
            ) from None
