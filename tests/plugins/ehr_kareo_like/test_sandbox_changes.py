"""The sandbox EHR's change records, on SQLite and PostgreSQL: every change once, in commit
order, page after page; cursors the feed never gave are refused; writers racing each other —
threads of one process, or two servers over one database — neither confirm two overlapping
appointments nor let a reader skip a change."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from integration_core.api import ApiError
from integration_core.testing.services import postgres_schema_url
from plugins.ehr_kareo_like.sandbox import appointments
from plugins.ehr_kareo_like.sandbox.changes import changes_after
from plugins.ehr_kareo_like.sandbox.staff_client import StaffApiError, StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment, SandboxStore
from tests.support.commands import sandbox_ehr_server
from tests.support.sandbox_ehr import existing_patient

API_KEY = "feed-key"
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)


def request(store: SandboxStore, patient_id: str, *, hours: float = 0) -> str:
    """practice-sync's tentative appointment, ``hours`` after ``START``."""
    visit = appointments.NewVisit(
        patient_ids=[patient_id],
        provider_id="1001",
        location_id="main",
        start=START + timedelta(hours=hours),
        duration_minutes=30,
        appointment_type="In Person",
    )
    with store.transaction() as session:
        return appointments.create(session, visit, tentative=True).id


def act(store: SandboxStore, appointment_id: str, do: Callable[..., None], **kw: Any) -> None:
    with store.transaction() as session:
        do(session, session.get_one(SandboxAppointment, appointment_id), **kw)


def confirm(store: SandboxStore, appointment_id: str) -> None:
    act(
        store,
        appointment_id,
        appointments.confirm,
        visit_reason_id=2,
        appointment_type=None,
        start=None,
        duration_minutes=None,
        intake_forms=[],
    )


def read(store: SandboxStore, cursor: str | None, limit: int = 500) -> tuple[list[Any], str]:
    with store.read() as session:
        return changes_after(session, cursor, limit)


def read_one_at_a_time(store: SandboxStore) -> list[dict[str, Any]]:
    seen, cursor = [], None
    while True:
        page, following = read(store, cursor, 1)
        if not page:
            assert following == (cursor or "0")
            return seen
        seen += page
        cursor = following


def test_every_change_once_in_order_read_one_at_a_time(store: SandboxStore) -> None:
    patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
    first, second = request(store, patient), request(store, patient, hours=2)
    confirm(store, first)
    act(store, second, appointments.decline, reason="Away that week.")
    act(store, first, appointments.attend, action="checked_in", patient_id=None)
    act(store, first, appointments.attend, action="checked_out", patient_id=None)

    changes = read_one_at_a_time(store)
    assert changes == read(store, None)[0]
    assert [(c["appointment_id"], c["type"]) for c in changes] == [
        (first, "appointment.created"),
        (second, "appointment.created"),
        (first, "appointment.confirmed"),
        (second, "appointment.declined"),
        (first, "appointment.checked_in"),
        (first, "appointment.checked_out"),
    ]
    sequences = [c["sequence"] for c in changes]
    assert sequences == sorted(set(sequences))
    assert len({c["id"] for c in changes}) == len(changes)
    versions = defaultdict(list)
    for change in changes:
        versions[change["appointment_id"]].append(change["version"])
    assert versions == {first: [1, 2, 3, 4], second: [1, 2]}
    last = changes[-1]
    assert last["appointment"]["status"] == "Checked Out"
    assert last["appointment"]["patients"] == [{"patient_id": patient, "status": "Checked Out"}]
    assert changes[3]["appointment"]["staff_reason"] == "Away that week."
    # from the last cursor: nothing, and the same cursor back, until a new change
    end = str(last["sequence"])
    assert read(store, end) == ([], end)
    request(store, patient, hours=4)
    (newest,), following = read(store, end)
    assert newest["type"] == "appointment.created"
    assert following == str(newest["sequence"])


@pytest.mark.parametrize("cursor", ["999", "-1", "abc", "01", "1.0", "１"])
def test_a_cursor_the_feed_never_gave_is_refused(store: SandboxStore, cursor: str) -> None:
    request(store, existing_patient(store, "Ada", "Byron", date(1990, 1, 2)))
    with pytest.raises(ApiError) as refused:
        read(store, cursor)
    assert (refused.value.status, refused.value.code) == (422, "invalid_cursor")


def test_a_forgotten_ehr_gives_new_numbers_and_refuses_old_cursors(store: SandboxStore) -> None:
    request(store, existing_patient(store, "Ada", "Byron", date(1990, 1, 2)))
    _, old = read(store, None)
    store.forget_records()
    assert read(store, None) == ([], "0")
    with pytest.raises(ApiError):
        read(store, old)
    request(store, existing_patient(store, "Ada", "Byron", date(1990, 1, 2)))
    (change,), _ = read(store, None)
    assert change["sequence"] > int(old)


def race(*work: Callable[[], object]) -> list[object]:
    """Run each of ``work`` on its own thread, released together: what each returned, or the
    exception it raised."""
    start = threading.Barrier(len(work))
    outcomes: list[object] = [None] * len(work)

    def run(index: int, job: Callable[[], object]) -> None:
        start.wait()
        try:
            outcomes[index] = job()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=item) for item in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_of_two_overlapping_requests_racing_to_be_confirmed_one_wins(store: SandboxStore) -> None:
    patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
    for round_ in range(5):
        pair = [request(store, patient, hours=round_), request(store, patient, hours=round_ + 0.25)]
        outcomes = race(*(lambda a=a: confirm(store, a) for a in pair))
        refused = [o for o in outcomes if o is not None]
        assert len(refused) == 1, outcomes
        assert isinstance(refused[0], ApiError)
        assert refused[0].code == "scheduling_conflict"
    confirmed = [c for c in read(store, None)[0] if c["type"] == "appointment.confirmed"]
    assert len(confirmed) == 5


def test_a_reader_never_passes_over_a_change_committed_after_it_read(store: SandboxStore) -> None:
    patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
    writers, each = 4, 12
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def reader() -> None:
        cursor = None
        while True:
            finished = done.is_set()  # before reading: that read then sees every write
            page, cursor = read(store, cursor, 5)
            seen.extend(page)
            if finished and not page:
                return

    def writer(offset: int) -> None:
        for n in range(each):
            request(store, patient, hours=offset * 100 + n)

    reading = threading.Thread(target=reader)
    reading.start()
    race(*(lambda i=i: writer(i) for i in range(writers)))
    done.set()
    reading.join(timeout=60)
    everything = read(store, None)[0]
    assert len(everything) == writers * each
    assert [c["id"] for c in seen] == [c["id"] for c in everything]


@pytest.mark.postgres
def test_two_servers_on_one_database_never_confirm_two_overlapping_requests() -> None:
    """Two sandbox processes over one PostgreSQL database: their writes still take turns, so
    of two overlapping requests confirmed at once through each, one is refused."""
    with postgres_schema_url() as database:
        store = SandboxStore(database)
        patient = existing_patient(store, "Ada", "Byron", date(1990, 1, 2))
        with (
            sandbox_ehr_server(database, API_KEY) as one,
            sandbox_ehr_server(database, API_KEY) as other,
            StaffClient(one, API_KEY, timeout=30) as first,
            StaffClient(other, API_KEY, timeout=30) as second,
        ):
            for round_ in range(5):
                pair = [request(store, patient, hours=round_ + offset) for offset in (0, 0.1)]
                outcomes = race(
                    *(
                        lambda desk=desk, a=a: desk.confirm(a, visit_reason_id=2)
                        for desk, a in zip((first, second), pair, strict=True)
                    )
                )
                refused = [o for o in outcomes if isinstance(o, Exception)]
                assert len(refused) == 1, outcomes
                assert isinstance(refused[0], StaffApiError)
                assert refused[0].code == "scheduling_conflict"
        changes = read(store, None)[0]
        assert sum(c["type"] == "appointment.confirmed" for c in changes) == 5
        store.dispose()
