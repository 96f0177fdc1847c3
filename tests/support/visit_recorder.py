"""A plugin that keeps a row for every check-in and check-out it is handed, in the delivery's
own transaction: a visit event that reached it twice shows as two rows."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from integration_core.api import CheckinEvent, CheckoutEvent, HookContext, hookimpl
from tests.support.ledger import TestTables

PLUGIN_NAME = "visit_recorder"


class VisitRow(TestTables):
    __tablename__ = "test_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plugin: Mapped[str] = mapped_column(String(64))
    hook: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(32))
    appointment_id: Mapped[str] = mapped_column(String(32))


def handed(session: Session) -> list[tuple[str, str, str]]:
    """(plugin, hook, appointment id) of every visit event handed to a recorder, in order."""
    rows = session.query(VisitRow).order_by(VisitRow.id)
    return [(row.plugin, row.hook, row.appointment_id) for row in rows]


def _keep(ctx: HookContext, hook: str, appointment_id: str) -> None:
    ctx.session.add(
        VisitRow(plugin=ctx.plugin, hook=hook, event_id=ctx.event_id, appointment_id=appointment_id)
    )


@hookimpl
def on_checkin(event: CheckinEvent, ctx: HookContext) -> None:
    _keep(ctx, "on_checkin", event.appointment_id)


@hookimpl
def on_checkout(event: CheckoutEvent, ctx: HookContext) -> None:
    _keep(ctx, "on_checkout", event.appointment_id)
