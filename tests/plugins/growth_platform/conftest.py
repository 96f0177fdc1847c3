"""The booking practice (``tests.support.booking``) as a migrated runtime and its HTTP client;
the same practice syncing to an EHR that refuses its appointments until told not to; and what
staff do in the EHR (appointments made, confirmed, cancelled; patients entered) as the core
receives it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from integration_core import links
from integration_core.api import (
    Attendee,
    EHRAdapter,
    EHRAttendee,
    EHRChange,
    EHRPatientContact,
    MissingRecord,
)
from integration_core.ehr.changes import Applied, apply_change
from integration_core.http.app import create_app
from integration_core.runtime import Runtime
from integration_core.store import Delivery, DeliveryStatus
from integration_core.testing import drain
from tests.support.booking import MONDAY_MORNING, booking_overrides
from tests.support.sandbox_ehr import API_KEY, RefusesAppointments, sync_overrides


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock):
    ps_clock.set(MONDAY_MORNING)
    return ps_runtime_factory(**booking_overrides())


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def refusing_ehr(ps_runtime_factory, ps_clock, sandbox_url, network, tmp_path):
    """``(runtime, client, adapter)``: the booking practice syncing to the sandbox EHR through
    an adapter that refuses every appointment until ``adapter.refusing = False``."""
    ps_clock.set(MONDAY_MORNING)
    runtime = ps_runtime_factory(**sync_overrides(sandbox_url, tmp_path / "messages"))
    adapter = RefusesAppointments(
        "http://sandbox-ehr", API_KEY, transport=network, transient_retries=0
    )
    runtime.ehr.use("acme", adapter)
    with TestClient(create_app(runtime)) as client:
        yield runtime, client, adapter


class PatientDirectory:
    """An EHR of which only the patients are in play: what the core reads the patients of
    appointments made in the EHR from (``read_patient``). Staff enter them with ``enter``."""

    def __init__(self) -> None:
        self.patients: dict[str, EHRPatientContact] = {}

    def enter(self, patient_id: str, **fields: Any) -> EHRPatientContact:
        values: dict[str, Any] = {
            "id": patient_id,
            "first_name": "Rosa",
            "last_name": "Diaz",
            "date_of_birth": date(1975, 6, 1),
            "sex": "female",
            "email": "rosa.diaz@example.com",
            "mobile_phone": "(617) 555-0123",
            "email_allowed": True,
            "sms_allowed": True,
        }
        values.update(fields)
        self.patients[patient_id] = EHRPatientContact(**values)
        return self.patients[patient_id]

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        if patient_id not in self.patients:
            raise MissingRecord("no such patient")
        return self.patients[patient_id]

    def close(self) -> None:
        pass


class EHRDesk:
    """What staff do in the EHR, as the EHR announces it: each call is one change of one
    appointment (its next version), applied through the core's ``apply_change`` as the webhook
    route and the feed poller apply them. Ids are the EHR's: providers ``1001`` (Dr. Lee),
    ``1002`` (Dr. Patel), ``1003`` (NP Garcia); locations by slug."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.versions: dict[str, int] = {}

    def announce(
        self,
        appointment: str,
        state: str = "booked",
        *,
        start: datetime,
        minutes: int = 30,
        provider: str = "1001",
        location: str = "downtown",
        attendees: dict[str, str] | None = None,
        kind: str = "created",
    ) -> Applied:
        """``attendees``: EHR patient id → their own state (default: ``PAT-1`` in ``state``);
        more than one makes a group."""
        version = self.versions.get(appointment, 0) + 1
        self.versions[appointment] = version
        people = attendees or {"PAT-1": state}
        change = EHRChange(
            change_id=f"CHG-{appointment}-{version}",
            appointment_id=appointment,
            version=version,
            kind=kind,
            occurred_at=self.runtime.clock.now(),
            patient_id=None,
            state=state,
            attendees=tuple(EHRAttendee(patient_id=p, state=s) for p, s in people.items()),
            group=len(people) > 1,
            provider_id=provider,
            location_id=location,
            start=start,
            duration_minutes=minutes,
            telehealth=False,
            visit_reason_id=None,
            intake_forms=(),
            staff_reason=None,
        )
        with self.runtime.db.transaction() as session:
            return apply_change(
                session,
                practice_id="acme",
                practice=self.runtime.settings.practice("acme"),
                outbox=self.runtime.outbox,
                change=change,
                via="webhook",
                now=self.runtime.clock.now(),
            )

    def took_over(self, appointment_id: str, ehr_id: str) -> None:
        """A widget request's appointment, now ``ehr_id`` in the EHR (as the EHR sync links
        it), so that the EHR's changes to it apply."""
        with self.runtime.db.transaction() as session:
            links.link(
                session,
                practice_id="acme",
                entity="appointment",
                local=appointment_id,
                system=links.EHR_SYSTEM,
                external=ehr_id,
                now=self.runtime.clock.now(),
            )
            self.versions[ehr_id] = 1


@pytest.fixture
def ehr_patients(runtime: Runtime) -> PatientDirectory:
    """The EHR's patients, read by the core for appointments made in the EHR."""
    directory = PatientDirectory()
    runtime.ehr.use("acme", cast(EHRAdapter, directory))
    return directory


@pytest.fixture
def ehr_desk(runtime: Runtime) -> EHRDesk:
    return EHRDesk(runtime)


@pytest.fixture
def settle(runtime: Runtime) -> Callable[[], None]:
    """Run every delivery now, and hold the booking platform's and the EHR sync's to having
    succeeded (patient messages are not configured for the booking practice)."""

    def run() -> None:
        drain(runtime)
        with runtime.db.read() as session:
            failed = session.execute(
                select(Delivery.plugin, Delivery.last_error_code).where(
                    Delivery.plugin.in_(["growth_platform", "ehr_sync"]),
                    Delivery.status != DeliveryStatus.DONE,
                )
            ).all()
        assert failed == []

    return run


NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York


@pytest.fixture
def made_in_ehr(
    runtime: Runtime, ehr_desk: EHRDesk, ehr_patients: PatientDirectory, settle: Callable[[], None]
) -> Callable[..., dict[str, str | None]]:
    """``made_in_ehr(appointment, start=…, **announce)``: staff make an appointment in the EHR
    (Tuesday 09:00 unless told) and every delivery runs; EHR patient id → the booking
    platform's record its attendee row then carries."""

    def make(appointment: str, start: datetime = NINE, **fields: Any) -> dict[str, str | None]:
        applied = ehr_desk.announce(appointment, start=start, **fields)
        settle()
        with runtime.db.read() as session:
            rows = session.scalars(
                select(Attendee).where(Attendee.appointment_id == applied.appointment_id)
            )
            return {row.ehr_patient_id: row.patient_id for row in rows}

    return make
