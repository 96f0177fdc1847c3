"""``EHRAdapterContract``: the conformance suite every EHR adapter passes.

Subclass it in your tests and provide one fixture, ``ehr_adapter``: a fresh adapter talking to
an EHR (a sandbox, a test tenant) with no patient born on the contract's dates::

    class TestMyEHR(EHRAdapterContract):
        @pytest.fixture
        def ehr_adapter(self):
            return MyEHRAdapter(...)

Override ``provider_id`` / ``location_id`` with ids your EHR knows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from integration_core.ehr.protocol import NewAppointment, NewPatient, PatientQuery
from integration_core.errors import ExternalRejected, MissingRecord

__all__ = ["EHRAdapterContract"]


class EHRAdapterContract:
    provider_id = "1001"
    location_id = "main"
    birth_date = date(1911, 11, 11)

    def new_patient(self, **changes: Any) -> NewPatient:
        values: dict[str, Any] = {
            "first_name": "Contract",
            "last_name": "Patient",
            "date_of_birth": self.birth_date,
            "sex": "female",
            "email": "contract@example.com",
            "phone": "+16175550199",
        }
        values.update(changes)
        return NewPatient(**values)

    def new_appointment(self, patient_id: str, **changes: Any) -> NewAppointment:
        values: dict[str, Any] = {
            "patient_id": patient_id,
            "provider_id": self.provider_id,
            "location_id": self.location_id,
            "start": datetime(2031, 5, 6, 14, 0, tzinfo=UTC),
            "duration_minutes": 30,
            "telehealth": False,
            "patient_note": "Reason for visit: contract check",
        }
        values.update(changes)
        return NewAppointment(**values)

    def test_a_created_patient_is_found_by_name_and_birth_date(self, ehr_adapter: Any) -> None:
        created = ehr_adapter.create_patient(self.new_patient(), idempotency_key="contract-p1")
        found = ehr_adapter.find_patients(
            PatientQuery(first_name="Contract", last_name="Patient", date_of_birth=self.birth_date)
        )
        assert created.id in {p.id for p in found}
        assert (created.first_name, created.last_name, created.date_of_birth) == (
            "Contract",
            "Patient",
            self.birth_date,
        )

    def test_creating_a_patient_twice_with_one_key_creates_one(self, ehr_adapter: Any) -> None:
        first = ehr_adapter.create_patient(self.new_patient(), idempotency_key="contract-p2")
        again = ehr_adapter.create_patient(self.new_patient(), idempotency_key="contract-p2")
        assert first.id == again.id
        query = PatientQuery(
            first_name="Contract", last_name="Patient", date_of_birth=self.birth_date
        )
        assert [p.id for p in ehr_adapter.find_patients(query)].count(first.id) == 1

    def test_a_key_reused_with_another_body_is_refused(self, ehr_adapter: Any) -> None:
        ehr_adapter.create_patient(self.new_patient(), idempotency_key="contract-p3")
        with pytest.raises(ExternalRejected):
            ehr_adapter.create_patient(
                self.new_patient(first_name="Other"), idempotency_key="contract-p3"
            )

    def test_a_tentative_appointment_round_trips(self, ehr_adapter: Any) -> None:
        patient = ehr_adapter.create_patient(self.new_patient(), idempotency_key="contract-p4")
        wanted = self.new_appointment(patient.id, telehealth=True)
        created = ehr_adapter.create_tentative_appointment(wanted, idempotency_key="contract-a1")
        again = ehr_adapter.create_tentative_appointment(wanted, idempotency_key="contract-a1")
        read = ehr_adapter.read_appointment(created.id)
        assert created.id == again.id == read.id
        assert read.state == "tentative"
        assert read.telehealth is True
        assert read.patient_id == patient.id and read.provider_id == self.provider_id
        assert read.start == wanted.start
        assert read.end - read.start == timedelta(minutes=30)

    def test_an_unknown_appointment_is_a_missing_record(self, ehr_adapter: Any) -> None:
        with pytest.raises(MissingRecord):
            ehr_adapter.read_appointment("no-such-appointment")

    def test_practice_settings_are_readable(self, ehr_adapter: Any) -> None:
        settings = ehr_adapter.read_practice_settings()
        assert isinstance(settings.surveys_enabled, bool)
        assert isinstance(settings.online_scheduler_enabled, bool)
