"""``apply_change``: EHR changes become the shared records and their events, once and in order."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from integration_core import links
from integration_core.ehr.change_tables import Attendee, ChangeSeen, EHRAppointmentState
from integration_core.ehr.changes import apply_deferred
from integration_core.ehr.protocol import EHRAttendee, EHRChange
from integration_core.records import Appointment, AppointmentStatus, Origin
from integration_core.testing import drain
from tests.support.ehr_changes import NOW, START, apply, change, widget_appointment


@pytest.fixture
def runtime(ps_runtime_factory, ps_recorder, ps_clock):
    ps_clock.set(NOW)
    return ps_runtime_factory(extra_plugins={"recorder": ps_recorder})


def hooks(recorder) -> list[str]:
    return [call.hook for call in recorder.calls]


def record(runtime, appointment_id: str) -> Appointment:
    with runtime.db.read() as session:
        return session.get_one(Appointment, appointment_id)


def test_a_confirm_with_a_new_time_and_a_longer_reason_books_the_request(runtime, ps_recorder):
    local = widget_appointment(runtime)
    later = START + timedelta(hours=2)
    applied = apply(runtime, change(2, start=later, duration_minutes=45, telehealth=True))
    assert applied.outcome == "applied"
    assert applied.events == ("confirm", "appointment_synced")  # the confirm carries the move
    drain(runtime)
    assert hooks(ps_recorder) == ["on_confirm", "on_appointment_synced"]
    booked = record(runtime, local)
    assert booked.status is AppointmentStatus.BOOKED
    assert (booked.start_at, booked.end_at) == (later, later + timedelta(minutes=45))
    assert booked.virtual is True
    assert booked.origin is Origin.WIDGET  # still the widget's request


def test_a_change_is_applied_once_however_often_it_arrives(runtime, ps_recorder):
    widget_appointment(runtime)
    assert apply(runtime, change(2), via="webhook").outcome == "applied"
    assert apply(runtime, change(2), via="poll").outcome == "duplicate"
    drain(runtime)
    assert hooks(ps_recorder) == ["on_confirm", "on_appointment_synced"]
    with runtime.db.read() as session:
        (seen,) = session.scalars(select(ChangeSeen)).all()
    assert (seen.via, seen.outcome, seen.appointment_id) == ("webhook", "applied", "local-1")


def test_a_check_out_before_its_check_in_still_gives_check_in_then_check_out(runtime, ps_recorder):
    local = widget_appointment(runtime)
    apply(runtime, change(2))
    assert apply(runtime, change(4, "checked_out", kind="checked_out")).events == (
        "checkin",
        "checkout",
        "appointment_synced",
    )
    late = apply(runtime, change(3, "checked_in", kind="checked_in"))
    assert (late.outcome, late.events) == ("stale", ())
    drain(runtime)
    assert hooks(ps_recorder) == [
        "on_confirm",
        "on_appointment_synced",
        "on_checkin",
        "on_checkout",
        "on_appointment_synced",
    ]
    assert record(runtime, local).status is AppointmentStatus.CHECKED_OUT


def test_a_booked_appointment_moved_is_a_reschedule_from_its_old_start(runtime, ps_recorder):
    widget_appointment(runtime)
    apply(runtime, change(2))
    moved = START + timedelta(days=1)
    assert apply(runtime, change(3, start=moved, kind="rescheduled")).events == (
        "reschedule",
        "appointment_synced",
    )
    drain(runtime)
    (call,) = ps_recorder.named("on_reschedule")
    assert call.event.previous_start == START.isoformat()


def test_a_declined_request_frees_its_time(runtime, ps_recorder):
    local = widget_appointment(runtime)
    assert apply(runtime, change(2, "declined", kind="declined", staff_reason="Full")).events == (
        "decline",
        "appointment_synced",
    )
    assert record(runtime, local).status is AppointmentStatus.DECLINED
    from integration_core.records import ACTIVE_STATUSES

    assert AppointmentStatus.DECLINED not in ACTIVE_STATUSES


def test_an_appointment_made_in_the_ehr_becomes_a_shared_record(runtime, ps_recorder):
    applied = apply(runtime, change(1, kind="created", appointment_id="APT-9", provider_id="1002"))
    assert applied.events == ("appointment_synced",)
    with runtime.db.read() as session:
        made = session.get_one(Appointment, applied.appointment_id)
        assert (made.origin, made.status, made.provider_id, made.location_id) == (
            Origin.EHR,
            AppointmentStatus.BOOKED,
            "dr_patel",
            "downtown",
        )
        assert made.request_id is None
        found = links.local_id(
            session, practice_id="acme", entity="appointment", system="ehr", external="APT-9"
        )
        assert found == made.id
        (attendee,) = session.scalars(select(Attendee)).all()
        assert (attendee.ehr_patient_id, attendee.status) == ("PAT-1", AppointmentStatus.BOOKED)


def test_an_ehr_change_overlapping_another_appointment_is_applied(runtime):
    local = widget_appointment(runtime)
    apply(runtime, change(2))
    overlapping = apply(runtime, change(1, kind="created", appointment_id="APT-2"))
    assert overlapping.outcome == "applied"
    with runtime.db.read() as session:
        starts = {a.id: a.start_at for a in session.scalars(select(Appointment))}
    assert starts == {local: START, overlapping.appointment_id: START}


@pytest.mark.parametrize("state", ["booked", "tentative"])  # tentative: not the sync's either
@pytest.mark.parametrize(
    ("fields", "code", "ehr_id"),
    [
        ({"provider_id": "9999"}, "unknown_provider", "9999"),
        ({"location_id": "annex"}, "unknown_location", "annex"),
    ],
)
def test_a_change_for_an_unknown_provider_or_location_is_reported_not_applied(
    runtime, ps_recorder, caplog, fields, code, ehr_id, state
):
    made = change(1, state, kind="created", appointment_id="APT-7", **fields)
    with caplog.at_level(logging.WARNING):
        applied = apply(runtime, made)
    assert applied.outcome == "unmapped"
    assert apply(runtime, made).outcome == "duplicate"  # recorded: never tried again
    drain(runtime)
    (call,) = ps_recorder.named("on_ehr_change_unmapped")
    assert (call.event.reason_code, call.event.ehr_id) == (code, ehr_id)
    assert ehr_id in caplog.text
    with runtime.db.read() as session:
        assert session.scalars(select(Appointment)).all() == []
        (seen,) = session.scalars(select(ChangeSeen)).all()
        assert (seen.outcome, seen.reason_code) == ("unmapped", code)


def test_a_tentative_appointment_not_linked_yet_waits_for_its_link(runtime, ps_recorder):
    created = change(1, "tentative", kind="created", appointment_id="APT-5")
    confirmed = change(2, "booked", appointment_id="APT-5")
    assert apply(runtime, created).outcome == "deferred"
    assert apply(runtime, confirmed).outcome == "deferred"  # not a second record
    with runtime.db.read() as session:
        assert session.scalars(select(Appointment)).all() == []
    local = widget_appointment(runtime, ehr_id="APT-5")
    with runtime.db.transaction() as session:
        results = apply_deferred(
            session,
            practice_id="acme",
            practice=runtime.settings.practice("acme"),
            outbox=runtime.outbox,
            ehr_appointment_id="APT-5",
            now=NOW,
        )
    assert [r.outcome for r in results] == ["applied", "applied"]
    assert results[1].events == ("confirm", "appointment_synced")
    assert record(runtime, local).status is AppointmentStatus.BOOKED
    with runtime.db.read() as session:
        assert session.get_one(EHRAppointmentState, local).version == 2


def test_each_patient_of_a_group_checks_in_and_out_on_their_own(runtime, ps_recorder):
    def group(version: int, *states: str) -> EHRChange:
        return change(
            version,
            appointment_id="APT-G",
            group=True,
            attendees=tuple(
                EHRAttendee(patient_id=f"PAT-{n}", state=state) for n, state in enumerate(states)
            ),
        )

    made = apply(runtime, group(1, "booked", "booked", "booked"))
    apply(runtime, group(2, "checked_in", "booked", "booked"))
    apply(runtime, group(4, "checked_out", "checked_in", "no_show"))
    apply(runtime, group(3, "checked_out", "booked", "booked"))  # late: stale
    drain(runtime)
    steps = [
        (call.hook, call.event.attendee)
        for call in ps_recorder.calls
        if call.hook in ("on_checkin", "on_checkout")
    ]
    assert steps == [
        ("on_checkin", "PAT-0"),
        ("on_checkout", "PAT-0"),
        ("on_checkin", "PAT-1"),
    ]
    with runtime.db.read() as session:
        states = {
            row.ehr_patient_id: row.status
            for row in session.scalars(
                select(Attendee).where(Attendee.appointment_id == made.appointment_id)
            )
        }
        assert record(runtime, made.appointment_id).status is AppointmentStatus.BOOKED
    assert states == {
        "PAT-0": AppointmentStatus.CHECKED_OUT,
        "PAT-1": AppointmentStatus.CHECKED_IN,
        "PAT-2": AppointmentStatus.NO_SHOW,
    }


def test_what_the_ehr_did_before_it_was_followed_is_recorded_but_told_to_nobody(
    runtime, ps_recorder
):
    """A first read of the feed brings the EHR's history: cancelled groups, past check-outs.
    The records follow it; no patient hears of it."""
    before = NOW - timedelta(days=2)
    made = change(1, appointment_id="APT-OLD", occurred_at=before)
    cancelled = change(2, "cancelled", appointment_id="APT-OLD", occurred_at=before)
    assert apply(runtime, made).events == ("appointment_synced",)
    history = apply(runtime, cancelled)
    assert history.events == ("appointment_synced",)
    assert record(runtime, history.appointment_id).status is AppointmentStatus.CANCELLED
    news = apply(runtime, change(3, "checked_out", appointment_id="APT-NEW", occurred_at=NOW))
    assert news.events == ("checkin", "checkout", "appointment_synced")
