"""PHI canary: the whole flow at DEBUG; the canary patients' data appears in no log record, no
broker message, no row of the tables that do not own PHI and nowhere in ``/metrics``.

Two canaries: one books through the widget; the other is booked by staff in the EHR, kept by
the booking platform (contact details and preferences), listed in All Appointments, corrected
and archived by staff, and their appointment cancelled in the booking platform."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import dramatiq
from fastapi.testclient import TestClient
from sqlalchemy import select

from integration_core.clock import ManualClock
from integration_core.ehr.change_tables import Attendee, ChangeSeen, EHRAppointmentState
from integration_core.ehr.changes import apply_change
from integration_core.ehr.protocol import EHRAttendee, EHRChange
from integration_core.http.app import create_app
from integration_core.runtime import Runtime
from integration_core.store import AuditEntry, Delivery, DeliveryStatus, Event, IdLink, Timer
from integration_core.testing.processes import wait_until
from integration_core.testing.pytest_plugin import build_settings
from plugins.ehr_kareo_like.sandbox.store import SandboxPatient, SandboxStore
from plugins.growth_platform.tables import LocalCancellation, UnmappedChange
from tests.support.booking import MONDAY_MORNING, STAFF, booking
from tests.support.sandbox_ehr import sync_overrides

CANARY = {
    "first_name": "Zebulon",
    "last_name": "Quackenbush",
    "email": "zebulon.quackenbush@canary.example",
    "phone": "(617) 555-0177",
    "date_of_birth": "1979-07-31",
    "insurance_member_id": "CANARY998877",
    "notes": "Canary-note-xyzzy",
}
EHR_CANARY = {
    "first_name": "Xanthippe",
    "last_name": "Quillfeather",
    "date_of_birth": date(1968, 3, 9),
    "email": "xanthippe.quillfeather@canary.example",
    "mobile_phone": "(617) 555-0166",
}
CORRECTED_EMAIL = "xq.corrected@canary.example"
NEEDLES = [
    *CANARY.values(),
    "+16175550177",
    "6175550177",
    "555-0177",
    "Zebulon",
    "Quackenbush",
    "1979-07-31",
    "Xanthippe",
    "Quillfeather",
    "1968-03-09",
    EHR_CANARY["email"],
    CORRECTED_EMAIL,
    "+16175550166",
    "6175550166",
    "555-0166",
]
# What staff do in the EHR: book the EHR canary, Tuesday at 11:00 in New York.
EHR_BOOKED = EHRChange(
    change_id="CHG-CANARY-1",
    appointment_id="APT-CANARY",
    version=1,
    kind="created",
    occurred_at=MONDAY_MORNING,
    patient_id=None,
    state="booked",
    attendees=(EHRAttendee(patient_id="PAT-CANARY", state="booked"),),
    group=False,
    provider_id="1001",
    location_id="downtown",
    start=datetime(2027, 1, 5, 16, 0, tzinfo=UTC),
    duration_minutes=30,
    telehealth=False,
    visit_reason_id=None,
    intake_forms=(),
    staff_reason=None,
)


class BrokerTap(dramatiq.Middleware):
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def before_enqueue(self, broker, message, delay):
        self.bodies.append(message.encode())


def test_phi_stays_out_of_logs_broker_and_non_phi_tables(
    ps_database_url, sandbox_url, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    overrides = sync_overrides(sandbox_url, tmp_path / "messages")
    overrides["plugins"]["config"]["notifications"] = {
        "file_folder": str(tmp_path / "messages"),
        "practices": {
            "acme": {
                "alert_emails": ["desk@acme.example"],
                "alert_phones": ["+16175550999"],
                "email_channel": "file",
                "sms_channel": "file",
            }
        },
    }
    overrides["metrics"] = {"token": "canary-metrics"}
    runtime = Runtime(
        build_settings(ps_database_url, **overrides), clock=ManualClock(MONDAY_MORNING)
    )
    tap = BrokerTap()
    runtime.broker.add_middleware(tap)
    try:
        runtime.migrate()
        runtime.start_worker()
        with TestClient(create_app(runtime)) as client:
            response = client.post("/v1/practices/acme/widget/requests", json=booking(**CANARY))
            assert response.status_code == 201, response.text

            def synced_and_done() -> bool:
                with runtime.db.read() as session:
                    statuses = set(session.scalars(select(Delivery.status)))
                    kinds = set(session.scalars(select(Event.kind)))
                return "request_synced" in kinds and statuses == {DeliveryStatus.DONE}

            wait_until(synced_and_done, 60, "the request to be synced and every delivery done")
            assert (
                client.get("/v1/practices/acme/portal/action-required", headers=STAFF).status_code
                == 200
            )
            patient_id = booked_in_the_ehr(runtime, sandbox_url)
            listed = client.get("/v1/practices/acme/appointments", headers=STAFF)
            assert listed.status_code == 200
            assert EHR_CANARY["first_name"] in listed.text  # staff see them; nothing else does
            for method, path, body in (
                ("PATCH", f"/patients/{patient_id}", {"email": CORRECTED_EMAIL}),
                ("PATCH", f"/patients/{patient_id}", {"mobile_phone": "not a phone 555-0166"}),
                ("POST", f"/patients/{patient_id}/archive", None),
                (
                    "POST",
                    f"/appointments/{listed.json()['items'][-1]['appointment_id']}/cancel",
                    None,
                ),
            ):
                answer = client.request(
                    method, f"/v1/practices/acme{path}", json=body, headers=STAFF
                )
                assert answer.status_code in (200, 422), answer.text
            assert client.get("/v1/practices/acme/patients", headers=STAFF).status_code == 200
            scrape = client.get("/metrics", headers={"Authorization": "Bearer canary-metrics"})
            assert scrape.status_code == 200
    finally:
        runtime.close()

    assert caplog.records, "the flow logged nothing at DEBUG: the canary would prove nothing"
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for needle in NEEDLES:
            assert needle not in text, f"{record.name} logged patient data"
    assert 'kind="request_synced"' in scrape.text  # the scrape saw the flow
    for needle in NEEDLES:
        assert needle not in scrape.text, "/metrics shows patient data"
    assert tap.bodies
    for body in tap.bodies:
        for needle in NEEDLES:
            assert needle.encode() not in body
    with runtime.db.read() as session:
        tables = (Event, Delivery, Timer, AuditEntry, IdLink, ChangeSeen, EHRAppointmentState)
        for table in (*tables, Attendee, UnmappedChange, LocalCancellation):
            rows = session.scalars(select(table)).all()
            dump = " ".join(str(vars(row)) for row in rows)
            for needle in NEEDLES:
                assert needle not in dump, f"{table.__tablename__} holds patient data"


def booked_in_the_ehr(runtime: Runtime, sandbox_url: str) -> str:
    """Staff enter the EHR canary in the EHR and book them; once every delivery is done, the
    booking platform's record of them."""
    with SandboxStore(sandbox_url).transaction() as session:
        session.add(
            SandboxPatient(
                id="PAT-CANARY",
                sex="female",
                phone=None,
                email_allowed=True,
                sms_allowed=True,
                created_at=MONDAY_MORNING,
                **EHR_CANARY,
            )
        )
    with runtime.db.transaction() as session:
        apply_change(
            session,
            practice_id="acme",
            practice=runtime.settings.practice("acme"),
            outbox=runtime.outbox,
            change=EHR_BOOKED,
            via="webhook",
            now=runtime.clock.now(),
        )

    def kept() -> str | None:
        with runtime.db.read() as session:
            statuses = set(session.scalars(select(Delivery.status)))
            patient: str | None = session.scalar(select(Attendee.patient_id))
        return patient if statuses == {DeliveryStatus.DONE} else None

    wait_until(lambda: kept() is not None, 60, "the EHR canary to be kept, every delivery done")
    found = kept()
    assert found is not None
    return found
