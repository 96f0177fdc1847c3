"""A booking request becomes a tentative appointment in the EHR — and stays correct under
lost responses, outages and permanent failures."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from integration_core import links
from integration_core.ehr.sync import SyncDecision
from integration_core.records import Appointment, AppointmentRequest, AppointmentStatus, SyncState
from integration_core.store import Delivery, DeliveryStatus, Event
from integration_core.testing import drain
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment, SandboxPatient
from plugins.growth_platform.tables import Patient
from tests.support.booking import STAFF, booking
from tests.support.sandbox_ehr import book_and_sync, existing_patient

DOB = date(1980, 2, 29)


def ehr_rows(store):
    with store.transaction() as session:
        return (
            session.scalars(select(SandboxPatient).order_by(SandboxPatient.created_at)).all(),
            session.scalars(select(SandboxAppointment)).all(),
        )


def local_state(runtime, booked):
    with runtime.db.read() as session:
        request = session.get(AppointmentRequest, booked["request_id"])
        appointment = session.get(Appointment, booked["appointment_id"])
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.created_at))]
    return request, appointment, kinds


def test_a_new_patient_lands_as_a_tentative_appointment(client, runtime, ehr):
    booked = book_and_sync(client, runtime, virtual=False)
    patients, appointments = ehr_rows(ehr)
    assert [(p.first_name, p.last_name, p.date_of_birth, p.phone) for p in patients] == [
        ("Jane", "Doe", DOB, "+16175550142")
    ]
    (appointment,) = appointments
    assert appointment.status == "Tentative"
    assert appointment.patient_id == patients[0].id
    assert appointment.provider_id == "1001"  # the provider's EHR id
    assert appointment.end_at - appointment.start_at == timedelta(minutes=30)
    assert appointment.appointment_type == "In Person"
    assert "Reason for visit: checkup" in appointment.patient_note
    assert "Knee pain since the marathon" in appointment.patient_note
    assert (
        appointment.insurance_carrier,
        appointment.insurance_member_id,
        appointment.insurance_group,
    ) == (
        "Blue Cross",
        "XJH123456789",
        "G-100",
    )
    request, local, kinds = local_state(runtime, booked)
    assert local.status is AppointmentStatus.TENTATIVE
    assert request.sync_state is SyncState.SYNCED
    assert kinds[:2] == ["request", "request_synced"]
    with runtime.db.read() as session:
        assert (
            links.external_id(
                session, practice_id="acme", entity="appointment", local=local.id, system="ehr"
            )
            == appointment.id
        )
        (gp_patient,) = session.scalars(select(Patient)).all()
        decision = session.get(SyncDecision, ("acme", request.id))
    assert gp_patient.ehr_patient_id == patients[0].id
    assert decision.outcome == "new"


def test_a_telehealth_request_is_a_telehealth_appointment(client, runtime, ehr):
    book_and_sync(client, runtime, reason="follow_up", virtual=True)
    (appointment,) = ehr_rows(ehr)[1]
    assert appointment.appointment_type == "Telehealth"


def test_exactly_one_match_is_attached_and_reused(client, runtime, ehr):
    on_file = existing_patient(ehr, "JANE", " doe ", DOB)
    existing_patient(ehr, "Jane", "Doe", date(1981, 2, 28))  # same name, other birthday
    first = book_and_sync(client, runtime)
    second = book_and_sync(client, runtime, start="2027-01-05T09:30:00-05:00")
    patients, appointments = ehr_rows(ehr)
    assert len(patients) == 2  # nobody new in the EHR
    assert {a.patient_id for a in appointments} == {on_file}
    with runtime.db.read() as session:
        gp = session.scalars(select(Patient)).all()
        outcomes = {d.outcome for d in session.scalars(select(SyncDecision))}
        first_link = links.external_id(
            session,
            practice_id="acme",
            entity="request_patient",
            local=first["request_id"],
            system="growth_platform",
        )
        second_link = links.external_id(
            session,
            practice_id="acme",
            entity="request_patient",
            local=second["request_id"],
            system="growth_platform",
        )
    assert outcomes == {"attached"}
    assert [p.ehr_patient_id for p in gp] == [on_file]
    assert first_link == second_link == gp[0].id


def test_several_matches_make_a_new_patient_in_both_systems(client, runtime, ehr):
    twins = {existing_patient(ehr, "Jane", "Doe", DOB), existing_patient(ehr, "jane", "DOE", DOB)}
    book_and_sync(client, runtime)
    patients, (appointment,) = ehr_rows(ehr)
    assert len(patients) == 3
    assert appointment.patient_id not in twins
    with runtime.db.read() as session:
        (gp,) = session.scalars(select(Patient)).all()
        (decision,) = session.scalars(select(SyncDecision)).all()
    assert gp.ehr_patient_id == appointment.patient_id
    assert decision.outcome == "ambiguous"


def test_lost_responses_after_the_ehr_committed_leave_one_patient_and_one_appointment(
    client, runtime, ehr, network, ps_clock
):
    network.lose_responses = ["/api/v1/patients", "/api/v1/appointments"]
    booked = book_and_sync(client, runtime)
    for _ in range(3):  # two lost responses: two retries
        ps_clock.advance(minutes=20)
        runtime.tick()
        drain(runtime)
    patients, appointments = ehr_rows(ehr)
    assert len(patients) == 1 and len(appointments) == 1
    # Each attempt repeats its writes with the same keys; the EHR answers with the same records.
    assert network.calls.count("POST /api/v1/patients") == 3
    assert network.calls.count("POST /api/v1/appointments") == 2
    assert network.calls.count("POST /api/v1/patients/search") == 1  # decided once
    request, appointment, _ = local_state(runtime, booked)
    assert request.sync_state is SyncState.SYNCED
    assert appointment.status is AppointmentStatus.TENTATIVE


def test_two_hours_of_ehr_outage_lose_nothing(client, runtime, ehr, network, ps_clock):
    network.down = True
    starts = ["09:00", "09:30", "10:00", "10:30", "11:00"]
    booked = [
        client.post(
            "/v1/practices/acme/widget/requests", json=booking(start=f"2027-01-05T{s}:00-05:00")
        )
        for s in starts
    ]
    assert [r.status_code for r in booked] == [201] * 5  # patients can book while the EHR is down
    drain(runtime)
    for _ in range(24):  # two hours in five-minute steps
        ps_clock.advance(minutes=5)
        runtime.tick()
        drain(runtime)
    assert ehr_rows(ehr)[1] == []
    with runtime.db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.DEAD)
            )
            == 0
        )
    network.down = False
    for _ in range(20):
        ps_clock.advance(minutes=15)
        runtime.tick()
        drain(runtime)
    assert len(ehr_rows(ehr)[1]) == 5
    with runtime.db.read() as session:
        states = set(session.scalars(select(AppointmentRequest.sync_state)))
        statuses = set(session.scalars(select(Appointment.status)))
    assert states == {SyncState.SYNCED}
    assert statuses == {AppointmentStatus.TENTATIVE}


def test_a_sync_that_fails_for_good_shows_in_action_required_and_a_replay_fixes_it(
    client, runtime, ehr, network, ps_clock
):
    network.down = True
    booked = book_and_sync(client, runtime)
    window = runtime.settings.retry.window_seconds
    for _ in range(int(window // 900) + 4):
        ps_clock.advance(seconds=900)
        runtime.tick()
        drain(runtime)
    request, appointment, kinds = local_state(runtime, booked)
    assert request.sync_state is SyncState.SYNC_FAILED
    assert request.sync_error_code == "external_unavailable"
    assert "delivery_dead" in kinds and "request_sync_failed" in kinds
    items = client.get("/v1/practices/acme/portal/action-required", headers=STAFF).json()["items"]
    assert [(i["request_id"], i["status"], i["sync_error_code"]) for i in items] == [
        (booked["request_id"], "sync_failed", "external_unavailable")
    ]

    network.down = False
    (dead,) = runtime.runner.dead("acme")
    assert dead.plugin == "ehr_sync"
    assert items[0]["delivery_id"] == dead.id  # the one to replay
    assert runtime.runner.replay(dead.id)
    drain(runtime)
    request, appointment, _ = local_state(runtime, booked)
    assert request.sync_state is SyncState.SYNCED
    assert appointment.status is AppointmentStatus.TENTATIVE
    assert len(ehr_rows(ehr)[1]) == 1
    items = client.get("/v1/practices/acme/portal/action-required", headers=STAFF).json()["items"]
    assert items[0]["status"] == "pending_request"
