"""The feed poller against the in-process sandbox EHR: a stored cursor the EHR refuses (its feed
was reset, or the practice now reads another EHR) is not refused for ever — the feed is read
again from its start in the same pass, its history updating the records without telling
anyone, and what staff do afterwards comes back as news."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from integration_core.ehr.change_tables import ChangeSeen, FeedCursor
from integration_core.ehr.changes import lock_practice
from integration_core.metrics import PROCESS
from integration_core.records import Appointment, AppointmentStatus
from integration_core.testing import drain
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.changes import SandboxChange
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.sandbox_ehr import API_KEY, FaultyNetwork, sync_overrides

REFUSED = "7340"
"""A cursor the sandbox never gave: no change of this test has that sequence."""
POLLER = "integration_core.ehr.polling"
STARTED_OVER = "EHR change feed refused the stored cursor: reading it again from its start"
NOT_READ = "EHR change feed not read"


@pytest.fixture
def runtime(ps_runtime_factory, ps_recorder, ps_clock, sandbox_url, tmp_path):
    ps_clock.set(datetime.now(UTC))
    return ps_runtime_factory(
        extra_plugins={"recorder": ps_recorder},
        ehr={"poll_interval_seconds": 0.001},
        **sync_overrides(sandbox_url, tmp_path / "messages"),
    )


@pytest.fixture
def staff(network: FaultyNetwork) -> Iterator[StaffClient]:
    with StaffClient("http://sandbox-ehr", API_KEY, transport=network) as client:
        yield client


def book(staff: StaffClient) -> str:
    """Staff book a patient of theirs with Dr. Lee at downtown: the EHR appointment's id."""
    patient = staff.add_patient(
        first_name="Marguerite", last_name="Okafor", date_of_birth=date(1961, 4, 2)
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return staff.book(
        patient_id=patient["id"],
        provider_id="1001",
        location_id="downtown",
        start=start,
        visit_reason_id=2,
    )["id"]


def poll(runtime, clock) -> int:
    """One pass of the poller once the feed is due, at the wall clock's time; the hooks it set
    off, run. The sandbox stamps its changes with the wall clock: the engine's never runs
    ahead of it, so that what staff do after a poll is later than the poll."""
    with runtime.db.read() as session:
        due = session.scalar(
            select(FeedCursor.next_poll_at).where(FeedCursor.practice_id == "acme")
        )
    while due is not None and datetime.now(UTC) < due:
        time.sleep(0.001)
    clock.set(datetime.now(UTC))
    read = runtime.poller.poll_due()
    drain(runtime)
    return read


def stored(runtime) -> FeedCursor:
    with runtime.db.read() as session:
        return session.get_one(FeedCursor, "acme")


def store_cursor(runtime, cursor: str | None) -> None:
    with runtime.db.transaction() as session:
        lock_practice(session, "acme", runtime.clock.now()).cursor = cursor


def lifecycle(recorder) -> list[str]:
    return [call.hook for call in recorder.calls if call.hook != "on_appointment_synced"]


def feed_end(ehr: SandboxStore) -> str:
    with ehr.read() as session:
        return str(session.scalar(select(func.max(SandboxChange.sequence))))


def refused_cursors(adapter: str) -> float:
    labels = {
        "practice": "acme",
        "kind": "ehr",
        "adapter": adapter,
        "method": "read_changes",
        "code": "ehr_cursor_invalid",
    }
    return PROCESS.get_sample_value("practice_sync_adapter_errors_total", labels) or 0.0


def test_a_refused_cursor_is_read_again_from_the_start_without_telling_old_news(
    runtime, ps_clock, ps_recorder, staff, ehr, caplog
):
    poll(runtime, ps_clock)  # practice-sync follows the EHR from now on
    appointment = book(staff)
    assert poll(runtime, ps_clock) == 1
    assert lifecycle(ps_recorder) == []  # booked by staff: nothing to tell but that it synced
    staff.check_in(appointment)  # not read yet when the EHR stops knowing the cursor
    store_cursor(runtime, REFUSED)
    ps_recorder.calls.clear()
    counted = refused_cursors("kareo_like")

    with caplog.at_level(logging.WARNING, logger=POLLER):
        assert poll(runtime, ps_clock) == 2  # the booking again, and the check-in
    (warning,) = [r for r in caplog.records if r.name == POLLER]
    assert warning.getMessage() == STARTED_OVER
    assert (warning.practice_id, warning.error_code) == ("acme", "ehr_cursor_invalid")
    assert "Okafor" not in caplog.text
    assert refused_cursors("kareo_like") == counted + 1
    with runtime.db.read() as session:
        outcomes = session.scalars(select(ChangeSeen.outcome).order_by(ChangeSeen.version))
        assert list(outcomes) == ["applied", "applied"]  # read again, the booking a duplicate
        (record,) = session.scalars(select(Appointment)).all()
    assert record.status is AppointmentStatus.CHECKED_IN  # the records follow the EHR ...
    assert lifecycle(ps_recorder) == []  # ... but the check-in is history: no one is told
    cursor = stored(runtime)
    assert cursor.cursor == feed_end(ehr)
    assert cursor.following_since == ps_clock.now()

    caplog.clear()
    staff.check_out(appointment)
    with caplog.at_level(logging.WARNING, logger=POLLER):
        assert poll(runtime, ps_clock) == 1
    assert lifecycle(ps_recorder) == ["on_checkout"]  # news again
    assert stored(runtime).cursor == feed_end(ehr)
    assert not [r for r in caplog.records if r.name == POLLER]


def test_a_feed_that_refuses_its_start_too_is_an_ordinary_failure(runtime, ps_clock, caplog):
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"error": {"code": "invalid_cursor", "message": "no"}})

    runtime.ehr.use(
        "acme", KareoLikeAdapter("http://ehr", "key", transport=httpx.MockTransport(refuse))
    )
    store_cursor(runtime, REFUSED)

    with caplog.at_level(logging.WARNING, logger=POLLER):
        assert poll(runtime, ps_clock) == 0
        assert poll(runtime, ps_clock) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == POLLER]
    assert messages[0] == STARTED_OVER  # once, for the stored cursor
    assert [m.partition(":")[0] for m in messages[1:]] == [NOT_READ, NOT_READ]
    assert stored(runtime).cursor is None


def test_a_cursor_another_reader_moved_on_is_left_to_it(
    runtime, ps_clock, staff, ehr, network, caplog
):
    book(staff)
    moved_on = feed_end(ehr)

    class ReadOnMeanwhile(KareoLikeAdapter):
        """As the EHR refuses the stored cursor, another poller, which took the feed over, has
        already read it again from its start: the stored cursor is no longer the refused one."""

        def read_changes(self, cursor, *, limit=100):
            if cursor == REFUSED:
                store_cursor(runtime, moved_on)
            return super().read_changes(cursor, limit=limit)

    runtime.ehr.use("acme", ReadOnMeanwhile("http://sandbox-ehr", API_KEY, transport=network))
    store_cursor(runtime, REFUSED)
    following = stored(runtime).following_since

    with caplog.at_level(logging.WARNING, logger=POLLER):
        assert poll(runtime, ps_clock) == 0
    assert not [r for r in caplog.records if r.name == POLLER]
    assert (stored(runtime).cursor, stored(runtime).following_since) == (moved_on, following)
