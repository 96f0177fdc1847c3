"""A fresh fake Acme EHR for each test, served on a loopback port (real HTTP), with an adapter
and the front desk's staff on it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from acme_staff import AcmeStaff
from integration_core.api import EHRAppointment, NewAppointment, NewPatient

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_server import FakeAcmeEHR

API_KEY = "test-acme-key"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"the fake Acme EHR's test secret").decode()
"""A Standard Webhooks secret: ``whsec_`` and the key in base64."""
START = datetime(2031, 3, 4, 15, 30, tzinfo=UTC)


@pytest.fixture
def acme_ehr() -> Iterator[FakeAcmeEHR]:
    with FakeAcmeEHR(API_KEY, webhook_secret=WEBHOOK_SECRET) as server:
        yield server


@pytest.fixture
def adapter(acme_ehr: FakeAcmeEHR) -> Iterator[AcmeEHRAdapter]:
    adapter = AcmeEHRAdapter(
        acme_ehr.base_url, API_KEY, webhook_secret=WEBHOOK_SECRET, timeout_seconds=5
    )
    yield adapter
    adapter.close()


@pytest.fixture
def staff(acme_ehr: FakeAcmeEHR) -> Iterator[AcmeStaff]:
    staff = AcmeStaff(acme_ehr, API_KEY)
    yield staff
    staff.close()


@pytest.fixture
def pencilled(adapter: AcmeEHRAdapter) -> EHRAppointment:
    """A visit requested through the adapter, as practice-sync requests one: pencilled in."""
    person = adapter.create_patient(
        NewPatient(
            first_name="Ottoline",
            last_name="Marsh",
            date_of_birth=date(1977, 7, 7),
            sex="female",
            email="ottoline.marsh@example.com",
            phone="+16175550123",
        ),
        idempotency_key=uuid4().hex,
    )
    wanted = NewAppointment(
        patient_id=person.id,
        provider_id="cl-lee",
        location_id="st-downtown",
        start=START,
        duration_minutes=30,
        telehealth=False,
        patient_note="Check-up",
        requested_reason="checkup",
    )
    return adapter.create_tentative_appointment(wanted, idempotency_key=uuid4().hex)
