"""The sandbox EHR announcing its changes: a signed webhook per change to each subscriber.

A subscriber registers a URL (``/webhook-subscriptions``) and is given a Standard Webhooks
secret, shown once. Each change enqueues one delivery per active subscriber, in the
transaction that writes the change (:func:`enqueue`), so a committed change is always sent and
a rolled-back one never is. :class:`WebhookDispatcher` sends what is due: a 2xx delivers, so
does a 409 (the receiver already has this message: practice-sync refuses a replay so), and
anything else — an error status, a refused connection, no answer within 10 s — is tried again
after 1 s, 2 s, 4 s … (at most ``max_backoff_seconds`` apart) until three days have passed.
Every try carries the change's id as ``webhook-id`` and is signed anew with the time of the
try, so a receiver's timestamp tolerance never refuses a late retry.

The HTTP call happens between two short transactions — one claims the due deliveries, one
records each outcome — so a slow subscriber holds no lock on the EHR's database. A claim moves
the delivery's next attempt past the HTTP timeout, so two dispatchers over one database never
send the same try twice, and a dispatcher that dies mid-send leaves it to be retried.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import httpx
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import AnyUrl, BaseModel, Field, TypeAdapter, UrlConstraints, ValidationError
from sqlalchemy import Boolean, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from integration_core.api import ApiError, Clock, Identifier
from plugins.ehr_kareo_like.sandbox.store import SandboxBase, SandboxStore, new_sandbox_id, now

if TYPE_CHECKING:
    from plugins.ehr_kareo_like.sandbox.changes import SandboxChange

__all__ = [
    "MESSAGE_TYPE",
    "WebhookDelivery",
    "WebhookDispatcher",
    "WebhookSubscriber",
    "enqueue",
    "new_secret",
    "signing_secret",
    "subscribe",
    "subscriber_url",
    "subscriptions_router",
]

log = logging.getLogger(__name__)

MESSAGE_TYPE = "appointment.changed"
"""The ``type`` of every message; its ``data`` is the change as the feed shows it."""

SEND_TIMEOUT_SECONDS = 10.0
"""How long a subscriber has to answer before the try counts as failed."""
ALREADY_RECEIVED = 409
"""What practice-sync answers a webhook it already has: delivered, not to be tried again."""

CLAIM_SECONDS = SEND_TIMEOUT_SECONDS * 3
"""How long a claimed delivery is left to its dispatcher before another may try it."""

BATCH = 50
"""Deliveries claimed per pass: a backlog is sent in passes, oldest change first."""


class WebhookSubscriber(SandboxBase):
    """A URL the EHR posts its changes to, signed with the subscriber's own secret; a
    removed subscriber stays as a row (``active`` false) so its deliveries keep their story."""

    __tablename__ = "webhook_subscribers"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(SandboxBase):
    """One change for one subscriber: tried until delivered or three days have passed.
    ``next_attempt_at`` is null once nothing more will be tried (delivered, given up, or the
    subscriber removed); ``last_error`` is a short code (``http_503``, ``timeout``, …)."""

    __tablename__ = "webhook_deliveries"

    change_sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(32))


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def enqueue(session: Session, change: SandboxChange) -> None:
    """One pending delivery of ``change`` per active subscriber, in the caller's transaction
    (the one writing the change), due at once."""
    if change.sequence is None:
        session.flush()  # the sequence is the database's to give
    stamp = now()
    for subscriber_id in session.scalars(
        select(WebhookSubscriber.id).where(WebhookSubscriber.active)
    ):
        session.add(
            WebhookDelivery(
                change_sequence=change.sequence,
                subscriber_id=subscriber_id,
                attempts=0,
                created_at=stamp,
                next_attempt_at=stamp,
            )
        )


SubscriberUrl = Annotated[
    AnyUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])
]
"""Where a subscriber takes its messages: http or https, no wider than its column."""

_subscriber_urls: TypeAdapter[AnyUrl] = TypeAdapter(SubscriberUrl)


def subscriber_url(text: str) -> str:
    """``text`` as a subscriber's URL (normalised); ``ValueError`` unless it is an http or
    https URL of at most 2000 characters."""
    try:
        return str(_subscriber_urls.validate_python(text))
    except ValidationError:
        raise ValueError("not an http or https URL of at most 2000 characters") from None


def signing_secret(secret: str) -> str:
    """``secret``, once it is one Standard Webhooks can sign with (``whsec_`` and base64 of
    some bytes); else ``ValueError``."""
    try:
        Webhook(secret)
    except (binascii.Error, EmptyWebhookSecretError, ValueError):
        raise ValueError("not a Standard Webhooks secret (whsec_ and base64)") from None
    return secret


def subscribe(
    store: SandboxStore, url: str, secret: str | None = None, *, one_per_url: bool = False
) -> tuple[str, str]:
    """Subscribe ``url`` to every change from now on: ``(subscriber id, secret)``. ``url``
    must pass :func:`subscriber_url` and ``secret`` (default: a new one)
    :func:`signing_secret`, else ``ValueError``. With ``one_per_url``, an active subscription
    of ``url`` is kept and takes ``secret`` — what a restart with the same subscriber wants —
    instead of a second one being added."""
    url = subscriber_url(url)
    secret = new_secret() if secret is None else signing_secret(secret)
    with store.transaction() as session:
        existing = (
            session.scalars(
                select(WebhookSubscriber)
                .where(WebhookSubscriber.url == url, WebhookSubscriber.active)
                .order_by(WebhookSubscriber.created_at)
            ).first()
            if one_per_url
            else None
        )
        if existing is not None:
            existing.secret = secret
            return existing.id, secret
        subscriber = WebhookSubscriber(
            id=new_sandbox_id("WHS"), url=url, secret=secret, created_at=now(), active=True
        )
        session.add(subscriber)
    return subscriber.id, secret


class SubscriptionIn(BaseModel):
    url: SubscriberUrl = Field(description="Where each change is posted.")


class SubscriptionOut(BaseModel):
    id: str
    url: str
    created_at: datetime


class NewSubscription(BaseModel):
    id: str
    url: str
    secret: str = Field(description="The Standard Webhooks secret, shown only this once.")


class SubscriptionList(BaseModel):
    webhook_subscriptions: list[SubscriptionOut]


def subscriptions_router(store: SandboxStore) -> APIRouter:
    """``POST``, ``GET`` and ``DELETE /webhook-subscriptions`` over ``store`` (the app puts
    them under its prefix and API key)."""
    router = APIRouter(prefix="/webhook-subscriptions", tags=["webhooks"])

    @router.post("", response_model=NewSubscription, status_code=201)
    def create_subscription(body: SubscriptionIn) -> NewSubscription:
        url = str(body.url)
        subscriber_id, secret = subscribe(store, url)
        return NewSubscription(id=subscriber_id, url=url, secret=secret)

    @router.get("", response_model=SubscriptionList)
    def list_subscriptions() -> SubscriptionList:
        with store.transaction() as session:
            rows = session.scalars(
                select(WebhookSubscriber)
                .where(WebhookSubscriber.active)
                .order_by(WebhookSubscriber.created_at, WebhookSubscriber.id)
            ).all()
        return SubscriptionList(
            webhook_subscriptions=[
                SubscriptionOut(id=row.id, url=row.url, created_at=row.created_at) for row in rows
            ]
        )

    @router.delete("/{subscription_id}", status_code=204, response_class=Response)
    def delete_subscription(subscription_id: Identifier) -> Response:
        with store.transaction() as session:
            row = session.get(WebhookSubscriber, subscription_id)
            if row is None or not row.active:
                raise ApiError(404, "not_found", "No such webhook subscription.")
            row.active = False
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.subscriber_id == subscription_id,
                    WebhookDelivery.next_attempt_at.is_not(None),
                )
                .values(next_attempt_at=None, last_error="unsubscribed")
            )
        return Response(status_code=204)

    return router


class _WallClock:
    """The sandbox's own time (its store's), when no clock is given."""

    def now(self) -> datetime:
        return now()


@dataclass(frozen=True)
class _Claimed:
    """A delivery this dispatcher holds for one try, with all it needs outside a transaction."""

    change_sequence: int
    subscriber_id: str
    attempts: int
    created_at: datetime
    url: str
    secret: str
    message_id: str
    body: str


class WebhookDispatcher:
    """Sends the due deliveries of ``store``: :meth:`send_due` once, or :meth:`start` a
    thread that does so every ``interval_seconds`` until :meth:`stop`. ``client`` (default:
    one of its own, closed by :meth:`stop`) lets a test choose the transport."""

    def __init__(
        self,
        store: SandboxStore,
        *,
        client: httpx.Client | None = None,
        clock: Clock | None = None,
        first_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        give_up_after: timedelta = timedelta(days=3),
        interval_seconds: float = 0.2,
    ) -> None:
        self.store = store
        self.clock: Clock = clock if clock is not None else _WallClock()
        self.first_backoff = first_backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.give_up_after = give_up_after
        self.interval = interval_seconds
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Send due deliveries in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after the try in flight, if any) and close the client if owned."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._owns_client:
            self._client.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = self.send_due()
            except Exception:  # the database went away for a moment: try on the next pass
                log.exception("sandbox webhook pass failed")
                sent = 0
            if sent < BATCH:
                self._stopping.wait(self.interval)

    def send_due(self) -> int:
        """One pass: claim up to a batch of due deliveries, try each, record how it went.
        The number tried."""
        claimed = self._claim()
        for delivery in claimed:
            if self._stopping.is_set():
                break  # tried again once its claim runs out
            self._record(delivery, self._send(delivery))
        return len(claimed)

    def _claim(self) -> Sequence[_Claimed]:
        # Imported here: the changes module imports this one, to enqueue.
        from plugins.ehr_kareo_like.sandbox.changes import SandboxChange

        at = self.clock.now()
        claimed = []
        with self.store.transaction() as session:
            due = session.execute(
                select(WebhookDelivery, WebhookSubscriber, SandboxChange)
                .join(WebhookSubscriber, WebhookSubscriber.id == WebhookDelivery.subscriber_id)
                .join(SandboxChange, SandboxChange.sequence == WebhookDelivery.change_sequence)
                .where(WebhookDelivery.next_attempt_at <= at, WebhookSubscriber.active)
                .order_by(WebhookDelivery.change_sequence, WebhookDelivery.subscriber_id)
                .limit(BATCH)
            ).all()
            for delivery, subscriber, change in due:
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.change_sequence == delivery.change_sequence,
                        WebhookDelivery.subscriber_id == delivery.subscriber_id,
                        WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
                    )
                    .values(
                        next_attempt_at=at + timedelta(seconds=CLAIM_SECONDS),
                        attempts=WebhookDelivery.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another dispatcher holds it
                claimed.append(
                    _Claimed(
                        change_sequence=delivery.change_sequence,
                        subscriber_id=subscriber.id,
                        attempts=delivery.attempts + 1,
                        created_at=delivery.created_at,
                        url=subscriber.url,
                        secret=subscriber.secret,
                        message_id=change.id,
                        body=json.dumps({"type": MESSAGE_TYPE, "data": change.payload}),
                    )
                )
        return claimed

    def _send(self, delivery: _Claimed) -> str | None:
        """Post one try, signed now: None if the subscriber took it, else a short code."""
        signed_at = self.clock.now()
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": Webhook(delivery.secret).sign(
                delivery.message_id, signed_at, delivery.body
            ),
        }
        try:
            answer = self._client.post(
                delivery.url,
                content=delivery.body.encode(),
                headers=headers,
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except httpx.TimeoutException:
            return "timeout"
        except httpx.ConnectError:
            return "connect_error"
        except httpx.HTTPError:
            return "transport_error"
        if answer.is_success or answer.status_code == ALREADY_RECEIVED:
            return None
        return f"http_{answer.status_code}"

    def _record(self, delivery: _Claimed, error: str | None) -> None:
        at = self.clock.now()
        values: dict[str, object]
        if error is None:
            outcome = "delivered"
            values = {"delivered_at": at, "next_attempt_at": None, "last_error": None}
        elif at - delivery.created_at >= self.give_up_after:
            outcome = "given up"
            values = {"next_attempt_at": None, "last_error": error}
        else:
            outcome = "to be retried"
            values = {"next_attempt_at": at + self.backoff(delivery.attempts), "last_error": error}
        with self.store.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.change_sequence == delivery.change_sequence,
                    WebhookDelivery.subscriber_id == delivery.subscriber_id,
                    WebhookDelivery.next_attempt_at.is_not(None),  # else removed meanwhile
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        log.log(
            logging.INFO if error is None else logging.WARNING,
            "sandbox webhook %s",
            outcome,
            extra={
                "change_sequence": delivery.change_sequence,
                "subscriber_id": delivery.subscriber_id,
                "attempt": delivery.attempts,
                "error": error,
            },
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try: 1, 2, 4 … times the first, capped."""
        seconds = self.first_backoff * 2 ** min(attempts - 1, 62)
        return timedelta(seconds=min(seconds, self.max_backoff))
