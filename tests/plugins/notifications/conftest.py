"""A real SMTP server on loopback (aiosmtpd) for the notification tests."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from integration_core.testing.processes import free_port


class Inbox:
    """What the server accepted, as (sender, recipients, raw message); ``refused`` addresses
    are turned away at RCPT, as a mailbox that does not exist would be."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refused: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def emails(self) -> list[EmailMessage]:
        """The messages received, parsed (``message["To"]``, ``message.get_content()``)."""
        return [
            email.message_from_bytes(content, _class=EmailMessage, policy=email.policy.default)
            for _, _, content in self.messages
        ]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a loopback port: its inbox and its port."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()
