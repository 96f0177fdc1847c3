"""EHR changes as the core receives them, for tests: a change with sensible defaults, applied
the way the webhook route and the poller apply one, and a request's appointment as the EHR
sync leaves it (tentative, linked to its EHR appointment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from integration_core import links
from integration_core.ehr.changes import Applied, Via, apply_change
from integration_core.ehr.protocol import EHRAttendee, EHRChange
from integration_core.records import Appointment, AppointmentStatus, Origin

NOW = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
START = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)


def change(version: int, state: str = "booked", **fields: Any) -> EHRChange:
    """Version ``version`` of EHR appointment ``APT-1`` (or ``appointment_id=``): Dr. Lee's
    (EHR id 1001) at downtown, 30 minutes from :data:`START`, one patient in ``state``."""
    values: dict[str, Any] = {
        "change_id": f"CHG-{fields.get('appointment_id', 'APT-1')}-{version}",
        "appointment_id": "APT-1",
        "version": version,
        "kind": "confirmed",
        "occurred_at": NOW,
        "patient_id": None,
        "state": state,
        "attendees": (EHRAttendee(patient_id="PAT-1", state=state),),
        "group": False,
        "provider_id": "1001",
        "location_id": "downtown",
        "start": START,
        "duration_minutes": 30,
        "telehealth": False,
        "visit_reason_id": "2",
        "intake_forms": (),
        "staff_reason": None,
    }
    values.update(fields)
    return EHRChange(**values)


def apply(runtime: Any, given: EHRChange, via: Via = "poll") -> Applied:
    with runtime.db.transaction() as session:
        return apply_change(
            session,
            practice_id="acme",
            practice=runtime.settings.practice("acme"),
            outbox=runtime.outbox,
            change=given,
            via=via,
            now=runtime.clock.now(),
        )


def widget_appointment(runtime: Any, ehr_id: str = "APT-1") -> str:
    """A request's appointment, tentative in the EHR as ``ehr_id`` (as the EHR sync leaves it)."""
    with runtime.db.transaction() as session:
        session.add(
            Appointment(
                id="local-1",
                practice_id="acme",
                provider_id="dr_lee",
                location_id="downtown",
                reason_id="checkup",
                start_at=START,
                end_at=START + timedelta(minutes=30),
                status=AppointmentStatus.TENTATIVE,
                origin=Origin.WIDGET,
                virtual=False,
                request_id=None,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        session.flush()
        links.link(
            session,
            practice_id="acme",
            entity="appointment",
            local="local-1",
            system=links.EHR_SYSTEM,
            external=ehr_id,
            now=NOW,
        )
    return "local-1"
