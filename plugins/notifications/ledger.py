"""The send ledger: what was already sent, per (event, plugin, template, channel, recipient) key.

Each send is recorded in its own transaction right after the channel accepted it, so a retry
of the delivery (another recipient failed, the worker died) skips what already went out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from integration_core.api import Base, Channel, HookContext, Message

__all__ = ["SentMessage", "send_once"]


class SentMessage(Base):
    __tablename__ = "notif_sent"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]


# Built once: every message runs them.
_SENT = select(SentMessage.key).where(SentMessage.key == bindparam("key"))
_RECORD = insert(SentMessage)


def send_once(
    ctx: HookContext,
    channel_name: str,
    channel: Channel,
    template: str,
    message: Message,
    *,
    recipient: str | None = None,
) -> bool:
    """Send unless the ledger says it was sent; True if it was sent now.

    :param recipient: whom the message is counted for, when people may share an address (each
        patient of a group); by default the address, ``message.to``.
    """
    key = ctx.idempotency_key(f"{template}:{channel_name}:{recipient or message.to}")
    if not ctx.first_run:
        with ctx.db.read() as session:
            if session.connection().execute(_SENT, {"key": key}).first() is not None:
                return False
    provider_id = channel.send(message)
    with ctx.db.transaction() as session:
        session.connection().execute(
            _RECORD,
            {
                "key": key,
                "practice_id": ctx.practice_id,
                "channel": channel_name,
                "template": template,
                "provider_message_id": provider_id,
                "sent_at": ctx.clock.now(),
            },
        )
    return True
