"""The sandbox EHR's webhooks over real loopback HTTP: each change reaches each subscriber once,
signed under its own secret; a subscriber that is down or failing gets it later, after a
backoff that doubles; a removed subscriber gets nothing more."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from integration_core.api import InProcessTransport
from integration_core.clock import ManualClock
from integration_core.testing.processes import wait_until
from plugins.ehr_kareo_like.sandbox import appointments
from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.appointments import NewVisit
from plugins.ehr_kareo_like.sandbox.changes import changes_after
from plugins.ehr_kareo_like.sandbox.outbound import (
    WebhookDelivery,
    WebhookDispatcher,
    WebhookSubscriber,
    new_secret,
    subscribe,
)
from plugins.ehr_kareo_like.sandbox.staff_client import StaffApiError, StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment, SandboxStore
from tests.support.sandbox_ehr import API_KEY, existing_patient
from tests.support.webhook_subscriber import Subscriber, subscriber

START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """The dispatcher's (and the subscribers') time: a minute ahead of the sandbox's own, so
    what the sandbox queues during a test is due by it."""
    return ManualClock(datetime.now(UTC) + timedelta(minutes=1))


@pytest.fixture
def dispatcher(store: SandboxStore, clock: ManualClock) -> Iterator[WebhookDispatcher]:
    sender = WebhookDispatcher(store, clock=clock, max_backoff_seconds=3)
    yield sender
    sender.stop()


def listen(store: SandboxStore, endpoint: Subscriber) -> None:
    """Subscribe ``endpoint`` to the sandbox, which gives it its secret."""
    _, endpoint.secret = subscribe(store, endpoint.url)


def staff_story(store: SandboxStore) -> str:
    """A tentative appointment that staff then confirm and check in: three changes."""
    patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
    visit = NewVisit(
        patient_ids=[patient],
        provider_id="1001",
        location_id="main",
        start=START,
        duration_minutes=30,
        appointment_type="In Person",
    )
    with store.transaction() as session:
        appointment_id = appointments.create(session, visit, tentative=True).id
    with store.transaction() as session:
        appointment = session.get_one(SandboxAppointment, appointment_id)
        appointments.confirm(
            session,
            appointment,
            visit_reason_id=2,
            appointment_type=None,
            start=None,
            duration_minutes=None,
            intake_forms=[],
        )
    with store.transaction() as session:
        appointment = session.get_one(SandboxAppointment, appointment_id)
        appointments.attend(session, appointment, "checked_in", patient_id=None)
    return appointment_id


def feed(store: SandboxStore) -> list[dict[str, object]]:
    with store.read() as session:
        changes, _ = changes_after(session, None, 500)
    return changes


def deliveries(store: SandboxStore) -> list[WebhookDelivery]:
    with store.read() as session:
        return list(session.scalars(select(WebhookDelivery)))


def test_each_change_reaches_each_subscriber_once_signed_with_its_own_secret(
    store, clock, dispatcher
):
    with subscriber(clock.now) as first, subscriber(clock.now) as second:
        listen(store, first)
        listen(store, second)
        assert first.secret != second.secret
        staff_story(store)
        assert dispatcher.send_due() == 6
        assert dispatcher.send_due() == 0

        changes = feed(store)
        assert [change["version"] for change in changes] == [1, 2, 3]
        for endpoint in (first, second):
            assert endpoint.refused == 0
            assert [message.message_id for message in endpoint.received] == [
                change["id"] for change in changes
            ]
            assert [message.body for message in endpoint.received] == [
                {"type": "appointment.changed", "data": change} for change in changes
            ]
    assert all(row.delivered_at is not None and row.attempts == 1 for row in deliveries(store))


def test_a_subscriber_that_was_down_gets_the_change_later_after_a_doubling_backoff(
    store, clock, dispatcher
):
    with subscriber(clock.now, listening=False) as endpoint:
        listen(store, endpoint)
        patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
        visit = NewVisit([patient], "1001", "main", START, 30, "In Person")
        with store.transaction() as session:
            appointments.create(session, visit, tentative=True)

        waits = []
        for _ in range(4):  # down: refused at once, tried again 1, 2, then 3 s (the cap) later
            assert dispatcher.send_due() == 1
            [row] = deliveries(store)
            assert row.last_error == "connect_error" and row.delivered_at is None
            assert row.next_attempt_at is not None
            waits.append((row.next_attempt_at - clock.now()).total_seconds())
            clock.advance(seconds=waits[-1] - 0.5)
            assert dispatcher.send_due() == 0  # not due yet
            clock.advance(seconds=0.5)
        assert waits == [1, 2, 3, 3]

        endpoint.open()
        assert dispatcher.send_due() == 1
        [change] = feed(store)
        assert endpoint.ids() == [change["id"]]
        [row] = deliveries(store)
        assert row.attempts == 5 and row.delivered_at == clock.now()
        assert row.next_attempt_at is None and row.last_error is None


def test_an_error_answer_is_retried_under_the_same_id_signed_anew_each_time(
    store, clock, dispatcher, caplog
):
    caplog.set_level(logging.INFO, logger="plugins.ehr_kareo_like.sandbox.outbound")
    with subscriber(clock.now) as endpoint:
        listen(store, endpoint)
        endpoint.statuses = [500, 503]
        patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
        visit = NewVisit([patient], "1001", "main", START, 30, "In Person")
        with store.transaction() as session:
            appointments.create(session, visit, tentative=True)

        assert dispatcher.send_due() == 1
        assert deliveries(store)[0].last_error == "http_500"
        clock.advance(seconds=1)
        assert dispatcher.send_due() == 1
        assert deliveries(store)[0].last_error == "http_503"
        clock.advance(seconds=2)
        assert dispatcher.send_due() == 1

        [change] = feed(store)
        assert [status for _, status in endpoint.tries] == [500, 503, 200]
        assert {message.message_id for message, _ in endpoint.tries} == {change["id"]}
        stamps = [message.signed_at for message, _ in endpoint.tries]
        assert stamps == sorted(set(stamps)) and len(stamps) == 3
        assert endpoint.ids() == [change["id"]]
    told = [(r.levelname, r.getMessage(), r.error) for r in caplog.records]  # type: ignore[attr-defined]
    assert told == [
        ("WARNING", "sandbox webhook to be retried", "http_500"),
        ("WARNING", "sandbox webhook to be retried", "http_503"),
        ("INFO", "sandbox webhook delivered", None),
    ]


def test_a_receiver_that_already_has_the_message_is_not_sent_it_again(store, clock, dispatcher):
    """practice-sync answers a replay of a message it acted on with 409: delivered."""
    with subscriber(clock.now) as endpoint:
        listen(store, endpoint)
        endpoint.statuses = [409]
        patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
        visit = NewVisit([patient], "1001", "main", START, 30, "In Person")
        with store.transaction() as session:
            appointments.create(session, visit, tentative=True)

        assert dispatcher.send_due() == 1
        [delivery] = deliveries(store)
        assert delivery.delivered_at is not None and delivery.next_attempt_at is None
        clock.advance(seconds=600)
        assert dispatcher.send_due() == 0


def test_a_change_is_given_up_once_its_time_is_over(store, clock):
    dispatcher = WebhookDispatcher(store, clock=clock, give_up_after=timedelta(minutes=5))
    try:
        with subscriber(clock.now, listening=False) as endpoint:
            listen(store, endpoint)
            patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
            visit = NewVisit([patient], "1001", "main", START, 30, "In Person")
            with store.transaction() as session:
                appointments.create(session, visit, tentative=True)
            assert dispatcher.send_due() == 1
            clock.advance(minutes=5)
            assert dispatcher.send_due() == 1  # the last try
            [row] = deliveries(store)
            assert row.next_attempt_at is None and row.last_error == "connect_error"
            endpoint.open()
            clock.advance(hours=1)
            assert dispatcher.send_due() == 0
            assert endpoint.tries == []
    finally:
        dispatcher.stop()


@pytest.fixture
def staff(tmp_path) -> Iterator[tuple[SandboxStore, StaffClient]]:
    """The sandbox's API in process (its routes, without the dispatcher its server runs) and
    the store under it."""
    sandbox = SandboxStore(f"sqlite:///{tmp_path / 'sandbox-ehr.db'}")
    transport = InProcessTransport(create_sandbox_app(sandbox, API_KEY))
    with StaffClient("http://sandbox-ehr", API_KEY, transport=transport) as client:
        yield sandbox, client
    transport.close()
    sandbox.dispose()


def test_subscriptions_are_made_listed_and_removed_through_the_api_and_a_removed_one_gets_nothing(
    staff,
):
    store, client = staff
    dispatcher = WebhookDispatcher(
        store, first_backoff_seconds=0.01, max_backoff_seconds=0.05, interval_seconds=0.01
    )
    with subscriber() as kept, subscriber(listening=False) as removed:
        made = {}
        for endpoint in (kept, removed):
            subscription = client.subscribe_webhook(endpoint.url)
            assert subscription["secret"].startswith("whsec_")
            endpoint.secret, made[endpoint.url] = subscription["secret"], subscription["id"]
        listed = client.list_webhook_subscriptions()
        assert {(s["id"], s["url"]) for s in listed} == {(i, u) for u, i in made.items()}
        assert all("secret" not in s for s in listed)

        dispatcher.start()
        patient = client.add_patient(
            first_name="Ada", last_name="Byron", date_of_birth=date(1990, 1, 2), sex="female"
        )
        booked = client.book(
            patient_id=patient["id"],
            provider_id="1001",
            location_id="main",
            start=START,
            visit_reason_id=2,
        )
        wait_until(lambda: len(kept.received) == 1, 10, "the booking's webhook")
        wait_until(
            lambda: any(row.attempts >= 2 for row in deliveries(store)),
            10,
            "a retry to the down one",
        )

        client.unsubscribe_webhook(made[removed.url])
        assert [s["url"] for s in client.list_webhook_subscriptions()] == [kept.url]
        removed.open()
        client.cancel(booked["id"], reason="The doctor is away.")
        wait_until(lambda: len(kept.received) == 2, 10, "the cancellation's webhook")
        dispatcher.stop()

        assert removed.tries == []
        assert kept.ids() == [change["id"] for change in feed(store)]
        [stopped] = [row for row in deliveries(store) if row.subscriber_id == made[removed.url]]
        assert stopped.next_attempt_at is None and stopped.last_error == "unsubscribed"
        with pytest.raises(StaffApiError) as gone:
            client.unsubscribe_webhook(made[removed.url])
        assert (gone.value.status, gone.value.code) == (404, "not_found")


def test_a_restart_with_the_same_subscriber_keeps_its_subscription_with_the_new_secret(tmp_path):
    store = SandboxStore(f"sqlite:///{tmp_path / 'sandbox-ehr.db'}")
    first, second = new_secret(), new_secret()
    try:
        kept, _ = subscribe(store, "http://127.0.0.1:9/hooks", first, one_per_url=True)
        again, secret = subscribe(store, "http://127.0.0.1:9/hooks", second, one_per_url=True)
        added, _ = subscribe(store, "http://127.0.0.1:9/hooks", second)
        with store.read() as session:
            rows = {row.id: row.secret for row in session.scalars(select(WebhookSubscriber))}
        assert again == kept and secret == second
        assert rows == {kept: second, added: second}
        for url, bad_secret in (("ftp://127.0.0.1/hooks", None), ("http://127.0.0.1/", "")):
            with pytest.raises(ValueError):
                subscribe(store, url, bad_secret)
    finally:
        store.dispose()
