"""PHI canary: the whole flow at DEBUG; the canary patient's data appears in no log record, no
broker message, no row of the tables that do not own PHI and nowhere in ``/metrics``."""

from __future__ import annotations

import logging

import dramatiq
from fastapi.testclient import TestClient
from sqlalchemy import select

from integration_core.clock import ManualClock
from integration_core.http.app import create_app
from integration_core.runtime import Runtime
from integration_core.store import AuditEntry, Delivery, DeliveryStatus, Event, Timer
from integration_core.testing.processes import wait_until
from integration_core.testing.pytest_plugin import build_settings
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
NEEDLES = [
    *CANARY.values(),
    "+16175550177",
    "6175550177",
    "555-0177",
    "Zebulon",
    "Quackenbush",
    "1979-07-31",
]


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
        for table in (Event, Delivery, Timer, AuditEntry):
            rows = session.scalars(select(table)).all()
            dump = " ".join(str(vars(row)) for row in rows)
            for needle in NEEDLES:
                assert needle not in dump, f"{table.__tablename__} holds patient data"
