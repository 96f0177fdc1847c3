"""A plugin receiving a signed webhook: it records the message's reference as an id link, in
the transaction that accepts the message once — or fails after the write, while ``failing``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from standardwebhooks import Webhook

from integration_core.api import (
    ApiError,
    RouteRegistry,
    Settings,
    SignedMessage,
    accept_once,
    get_engine,
    hookimpl,
    link,
    standard_webhook,
)

PLUGIN_NAME = "webhook_receiver"
SOURCE = "test_sender"
SECRET = "whsec_" + "cmVjZWl2ZXItc2VjcmV0LXJlY2VpdmVyLXNlY3JldA=="
failing = False
"""While True, the route fails after its writes: nothing it wrote may stay."""

router = APIRouter(prefix="/v1/test-webhooks", tags=["test"])
signed = standard_webhook(SOURCE, lambda request: SECRET)


@router.post("")
def receive(request: Request, message: Annotated[SignedMessage, Depends(signed)]) -> dict[str, str]:
    engine = get_engine(request)
    now = engine.clock.now()
    with engine.db.transaction() as session:
        accept_once(session, message, now)
        link(
            session,
            practice_id="acme",
            entity="test_webhook",
            local=message.message_id,
            system=SOURCE,
            external=json.loads(message.body)["ref"],
            now=now,
        )
        if failing:
            raise ApiError(503, "try_later", "Not now.")
    return {"status": "accepted"}


@hookimpl
def register_routes(routes: RouteRegistry, settings: Settings) -> None:
    routes.add(router)


def signed_headers(
    body: bytes, message_id: str, *, at: datetime, secret: str = SECRET
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed ``at`` with ``secret``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
        "content-type": "application/json",
    }
