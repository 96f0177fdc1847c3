"""``book_end_to_end`` against the Kareo-like sandbox EHR in process, with only the core and
that EHR plugin loaded (no booking platform)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from integration_core.ehr.matching import Match
from integration_core.records import AppointmentStatus
from integration_core.testing import TEST_FORM, TEST_PRACTICE, SyncDidNotHappen, book_end_to_end
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.store import SandboxAppointment, SandboxPatient
from tests.support.sandbox_ehr import API_KEY, existing_patient

CORE_AND_EHR = {
    "enabled": ["ehr_sync", "ehr_kareo_like"],
    "config": {"ehr_kareo_like": {"practices": {"acme": {"sandbox": True}}}},
}
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def sandbox_runtime(ps_runtime_factory, network):
    """``build(**overrides)``: the test practice with the sandbox behind ``network`` as its EHR."""

    def build(**overrides):
        runtime = ps_runtime_factory(
            practices={"acme": {**TEST_PRACTICE, "ehr_adapter": "kareo_like"}},
            plugins=CORE_AND_EHR,
            **overrides,
        )
        adapter = KareoLikeAdapter(
            "http://sandbox-ehr", API_KEY, transport=network, transient_retries=0
        )
        runtime.ehr.use("acme", adapter)
        return runtime

    return build


def book(runtime, **changes):
    return book_end_to_end(
        runtime,
        practice_id="acme",
        provider_id="dr_lee",
        location_id="downtown",
        start=START,
        **changes,
    )


def test_a_new_patient_becomes_a_tentative_appointment_in_the_ehr(sandbox_runtime, ehr):
    booked = book(sandbox_runtime())
    assert booked.status is AppointmentStatus.TENTATIVE
    assert booked.appointment.request_id == booked.request_id
    assert booked.match is Match.NEW
    with ehr.transaction() as session:
        appointment = session.get(SandboxAppointment, booked.ehr_appointment_id)
        assert appointment is not None
        patient = session.get(SandboxPatient, appointment.patient_id)
        assert (appointment.provider_id, appointment.start_at) == ("1001", START)
        assert appointment.end_at - appointment.start_at == timedelta(minutes=30)
        assert (patient.first_name, patient.last_name, patient.date_of_birth) == (
            TEST_FORM.first_name,
            TEST_FORM.last_name,
            TEST_FORM.date_of_birth,
        )


def test_the_callers_demographics_are_what_the_ehr_matches(sandbox_runtime, ehr):
    on_file = existing_patient(ehr, "Ann", "Lee", date(1980, 2, 29))
    booked = book(
        sandbox_runtime(),
        first_name="Ann",
        last_name="Lee",
        date_of_birth=date(1980, 2, 29),
        duration=timedelta(minutes=20),
        virtual=True,
    )
    assert booked.match is Match.ATTACHED
    with ehr.transaction() as session:
        appointment = session.get(SandboxAppointment, booked.ehr_appointment_id)
        assert appointment is not None
        assert appointment.patient_id == on_file
        assert appointment.appointment_type == "Telehealth"
        assert appointment.end_at - appointment.start_at == timedelta(minutes=20)


@pytest.mark.parametrize(("max_attempts", "status"), [(1, "dead"), (5, "pending")])
def test_an_ehr_out_of_reach_fails_with_the_deliverys_status_and_error_code(
    sandbox_runtime, network, max_attempts, status
):
    runtime = sandbox_runtime(retry={"max_attempts": max_attempts})
    network.down = True
    with pytest.raises(SyncDidNotHappen) as caught:
        book(runtime)
    assert isinstance(caught.value, AssertionError)
    assert (caught.value.status, caught.value.error_code) == (status, "external_unavailable")
    assert f"ehr_sync delivery is {status} after 1 attempt(s)" in str(caught.value)
    assert "last error external_unavailable" in str(caught.value)
    assert TEST_FORM.last_name not in str(caught.value)


def test_a_practice_without_an_ehr_is_named(ps_runtime_factory):
    runtime = ps_runtime_factory(plugins=CORE_AND_EHR)  # TEST_PRACTICE sets no ehr_adapter
    with pytest.raises(SyncDidNotHappen, match=r"practices\.acme\.ehr_adapter is not set"):
        book(runtime)


def test_a_runtime_without_the_ehr_sync_plugin_is_named(ps_runtime_factory):
    runtime = ps_runtime_factory(plugins={"enabled": ["ehr_kareo_like"]})
    with pytest.raises(SyncDidNotHappen, match="no ehr_sync delivery") as caught:
        book(runtime)
    assert (caught.value.status, caught.value.error_code) == (None, None)
