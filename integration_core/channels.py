"""The notification channel protocol: what a channel plugin implements, and its factory type.

A channel sends one message and returns the provider's id for it, and can prove that its
endpoint answers without sending anything (``probe``, which ``practice-sync check`` calls
before go-live). Channels are chosen by
name (``email``, ``sms``, ``file``, or one a third-party plugin adds) from the registry that
``register_channels`` fills; a factory builds one from the loaded settings and raises
:class:`~integration_core.errors.ConfigError`, naming the key, when what it needs is missing.

Errors follow :mod:`integration_core.errors`: ``ExternalUnavailable`` / ``ExternalTimeout``
when the provider cannot be reached (retried), ``ExternalRejected`` when it refuses the
message (not retried). Messages of those errors never contain the recipient or the text,
nor a secret of the channel's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from integration_core.settings import Settings

__all__ = ["Channel", "ChannelFactory", "Message"]


@dataclass(frozen=True)
class Message:
    to: str
    body: str
    subject: str | None = None
    """Email only."""


class Channel(Protocol):
    def send(self, message: Message) -> str:
        """Send ``message``; return the provider's message id. Safe to call from any thread."""
        ...

    def probe(self) -> None:
        """Prove the endpoint answers with the configured credentials, sending no message.

        Raise ``ExternalUnavailable`` (or ``ExternalTimeout``) when it cannot be reached and
        ``ExternalRejected`` when it refuses the credentials or the settings; return otherwise.
        """
        ...


ChannelFactory = Callable[["Settings"], Channel]
"""``factory(settings)`` → a channel; raises ``ConfigError`` naming the key it lacks."""
