"""The patients of appointments made in the EHR are read once per appointment and kept by the
plugin that keeps patient records, linked by their EHR ids."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from integration_core import hookimpl, links
from integration_core.ehr.change_tables import Attendee
from integration_core.ehr.protocol import EHRAttendee, EHRPatientContact
from integration_core.testing import drain
from tests.support.ehr_changes import NOW, apply, change, widget_appointment


class PatientsInTheEHR:
    """Answers ``read_patient`` for any id, counting the reads."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        self.reads.append(patient_id)
        return EHRPatientContact(
            id=patient_id,
            first_name="Robin",
            last_name=f"Group{patient_id}",
            date_of_birth=date(1980, 2, 3),
            sex=None,
            email=f"{patient_id.lower()}@example.com",
            mobile_phone=None,
            email_allowed=True,
            sms_allowed=False,
        )

    def close(self) -> None:
        pass


class Keeper:
    """A plugin keeping patient records: our id is the EHR id, lower-cased."""

    def __init__(self) -> None:
        self.kept: list[EHRPatientContact] = []

    @hookimpl
    def keep_ehr_patient(self, patient, ctx):
        self.kept.append(patient)
        return f"kept-{patient.id.lower()}"


@pytest.fixture
def keeper() -> Keeper:
    return Keeper()


@pytest.fixture
def ehr() -> PatientsInTheEHR:
    return PatientsInTheEHR()


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock, keeper, ehr):
    ps_clock.set(NOW)
    runtime = ps_runtime_factory(extra_plugins={"keeper": keeper})
    runtime.ehr.use("acme", ehr)
    return runtime


def group(version: int, *patients: str):
    return change(
        version,
        appointment_id="APT-G",
        group=True,
        attendees=tuple(EHRAttendee(patient_id=p, state="booked") for p in patients),
    )


def test_each_patient_of_an_ehr_made_group_is_read_and_kept_once(runtime, keeper, ehr):
    made = apply(runtime, group(1, "PAT-A", "PAT-B"))
    drain(runtime)
    assert sorted(ehr.reads) == ["PAT-A", "PAT-B"]
    apply(runtime, group(2, "PAT-A", "PAT-B", "PAT-C"))  # one more joins
    drain(runtime)
    assert sorted(ehr.reads) == ["PAT-A", "PAT-B", "PAT-C"]
    assert [p.email for p in keeper.kept][-1] == "pat-c@example.com"
    with runtime.db.read() as session:
        kept = {
            row.ehr_patient_id: row.patient_id
            for row in session.scalars(
                select(Attendee).where(Attendee.appointment_id == made.appointment_id)
            )
        }
        linked = links.local_id(
            session, practice_id="acme", entity="patient", system="ehr", external="PAT-B"
        )
    assert kept == {"PAT-A": "kept-pat-a", "PAT-B": "kept-pat-b", "PAT-C": "kept-pat-c"}
    assert linked == "kept-pat-b"


def test_a_widget_requests_patient_is_not_read_from_the_ehr(runtime, ehr):
    widget_appointment(runtime)
    apply(runtime, change(2))
    drain(runtime)
    assert ehr.reads == []
