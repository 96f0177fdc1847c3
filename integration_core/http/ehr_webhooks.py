"""``POST /v1/practices/{practice}/ehr/changes``: the EHR's change notifications.

The practice's EHR adapter verifies the message (``parse_webhook``: its signature, signed
close to the engine's clock) and reads its changes. The message id is recorded with
:func:`~integration_core.http.webhooks.accept_once` in the transaction that applies the
changes, so a replayed message is refused (409) and a message whose handling failed can be sent
again. The changes themselves are applied once each by their ids, whether they come here or
through the feed poller.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from integration_core.ehr.changes import Outcome, apply_change
from integration_core.errors import InvalidWebhook
from integration_core.http.errors import ApiError
from integration_core.http.fields import Identifier
from integration_core.http.security import get_runtime
from integration_core.http.webhooks import STANDARD_WEBHOOK_TOLERANCE, SignedMessage, accept_once

__all__ = ["router"]

router = APIRouter(prefix="/v1/practices/{practice}/ehr", tags=["ehr"])


class ChangeOutcome(BaseModel):
    change_id: str
    outcome: Outcome


class Received(BaseModel):
    changes: list[ChangeOutcome]


async def _body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/changes",
    response_model=Received,
    responses={
        401: {"description": "the message did not verify"},
        409: {"description": "a replay"},
    },
)
def receive_changes(
    request: Request,
    practice: Annotated[Identifier, Path()],
    body: Annotated[bytes, Depends(_body)],
) -> Received:
    """Apply the changes of one signed notification from the practice's EHR."""
    runtime = get_runtime(request)
    settings = runtime.settings.practices.get(practice)
    if settings is None or settings.ehr_adapter is None:
        raise ApiError(404, "not_found", "No practice with an EHR by that id.")
    now = runtime.clock.now()
    try:
        message = runtime.ehr.for_practice(practice).parse_webhook(request.headers, body, now=now)
    except InvalidWebhook:
        raise ApiError(
            401,
            "webhook_signature_invalid",
            "The notification did not verify, or its body is not what the EHR sends.",
        ) from None
    signed = SignedMessage(
        source=f"ehr:{practice}",
        message_id=message.message_id,
        body=body,
        keep_until=message.signed_at + STANDARD_WEBHOOK_TOLERANCE,
    )
    outcomes = []
    with runtime.db.transaction() as session:
        accept_once(session, signed, now)
        for change in message.changes:
            applied = apply_change(
                session,
                practice_id=practice,
                practice=settings,
                outbox=runtime.outbox,
                change=change,
                via="webhook",
                now=now,
            )
            outcomes.append(ChangeOutcome(change_id=change.change_id, outcome=applied.outcome))
    return Received(changes=outcomes)
