"""``practice-sync demo``: the first vertical slice end to end, on the embedded default.

SQLite, the in-process broker and worker threads, the sandbox EHR in process. Three patients
book on the widget — one new, one already in the EHR once, one whose name and birth date match
two EHR records — and each request becomes a tentative EHR appointment while messages land in
the file channel's folder. The timeline is then read back from the stores (the core's records
and events, the EHR through its adapter, the message folder), never from this script's own
variables; patients appear by initials and id.

The demo speaks to the plugins only as a user would: through configuration, HTTP and the
EHR adapter protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from integration_core import links
from integration_core.clock import SystemClock
from integration_core.ehr.protocol import NewPatient
from integration_core.http.app import create_app
from integration_core.http.inprocess import InProcessTransport
from integration_core.links import EHR_SYSTEM as EHR
from integration_core.records import Appointment, AppointmentRequest
from integration_core.runtime import Runtime
from integration_core.settings import Settings
from integration_core.store import Delivery, DeliveryStatus, Event

__all__ = ["run_demo"]

PRACTICE = "demo_clinic"
WAIT_SECONDS = 60.0
PATIENTS = [
    ("Olivia", "Bennett", date(1990, 4, 12), "new to the practice"),
    ("Maria", "Garcia", date(1975, 9, 3), "in the EHR once"),
    ("Sam", "Lee", date(1988, 1, 20), "in the EHR twice"),
]


def demo_settings(folder: Path) -> Settings:
    weekdays = {
        d: {"enabled": True, "ranges": [["09:00", "12:00"], ["13:00", "17:00"]]}
        for d in ("mon", "tue", "wed", "thu", "fri")
    }
    return Settings(
        database_url=f"sqlite:///{folder / 'practice-sync.db'}",
        practices={
            PRACTICE: {
                "name": "Demo Family Clinic",
                "ehr_adapter": "kareo_like",
                "locations": {"main": {"name": "Main Street", "time_zone": "America/New_York"}},
                "providers": {
                    "dr_lee": {"name": "Dr. Lee", "ehr_id": "1001", "locations": ["main"]}
                },
                "staff_tokens": {"demo": "demo-staff-token"},
            }
        },
        plugins={
            "config": {
                "growth_platform": {
                    "practices": {
                        PRACTICE: {
                            "reasons": {
                                "checkup": {
                                    "name": "Checkup",
                                    "providers": ["dr_lee"],
                                    "locations": ["main"],
                                }
                            },
                            "calendars": {
                                "dr_lee": {"main": {"min_notice_minutes": 60, "days": weekdays}}
                            },
                        }
                    }
                },
                "ehr_kareo_like": {
                    "sandbox": {"database_url": f"sqlite:///{folder / 'sandbox-ehr.db'}"},
                    "practices": {PRACTICE: {"sandbox": True}},
                },
                "notifications": {
                    "file_folder": str(folder / "messages"),
                    "practices": {
                        PRACTICE: {
                            "alert_emails": ["frontdesk@demo-clinic.example"],
                            "alert_phones": ["+16175550100"],
                            "email_channel": "file",
                            "sms_channel": "file",
                        }
                    },
                },
            }
        },
    )


def _fresh(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in [*folder.glob("*.db*"), *(folder / "messages").glob("*.txt")]:
        leftover.unlink()


def run_demo(folder: Path, say: Callable[[str], None]) -> None:
    _fresh(folder)
    runtime = Runtime(demo_settings(folder), clock=SystemClock())
    try:
        runtime.migrate()
        runtime.start_worker()
        runtime.start_scheduler()
        ehr = runtime.ehr.for_practice(PRACTICE)
        for first, last, born, _ in PATIENTS[1:]:
            copies = 1 if last == "Garcia" else 2
            for copy in range(copies):
                ehr.create_patient(
                    NewPatient(
                        first_name=first,
                        last_name=last,
                        date_of_birth=born,
                        sex="unknown",
                        email=f"{first.lower()}{copy}@on-file.example",
                        phone="+16175550101",
                    ),
                    idempotency_key=f"demo-seed-{last}-{copy}",
                )
        say("the EHR already knows M.G. once and S.L. twice")
        client = httpx.Client(
            transport=InProcessTransport(create_app(runtime)), base_url="http://practice-sync"
        )
        start = runtime.clock.now().date() + timedelta(days=1)
        slots = client.get(
            f"/v1/practices/{PRACTICE}/widget/slots",
            params={"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()},
        ).json()["slots"]
        for (first, last, born, story), slot in zip(PATIENTS, slots[::3], strict=False):
            answer = client.post(
                f"/v1/practices/{PRACTICE}/widget/requests", json=_booking(first, last, born, slot)
            )
            say(f"{first[0]}.{last[0]}. ({story}) books {slot['start']}: HTTP {answer.status_code}")
        _wait(runtime)
        _timeline(runtime, folder, say)
        client.close()
    finally:
        runtime.close()


def _booking(first: str, last: str, born: date, slot: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": slot["provider"],
        "location": slot["location"],
        "reason": "checkup",
        "start": slot["start"],
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}@example.com",
        "phone": "+16175550142",
        "date_of_birth": born.isoformat(),
        "sex": "unknown",
        "privacy_consent": True,
        "sms_consent": True,
        "new_patient": last == "Bennett",
        "notes": "Booked by the demo",
    }


def _wait(runtime: Runtime) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with runtime.db.read() as session:
            busy = session.scalars(
                select(Delivery.id).where(
                    Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RUNNING])
                )
            ).first()
        if busy is None:
            return
        time.sleep(0.05)


def _timeline(runtime: Runtime, folder: Path, say: Callable[[str], None]) -> None:
    ehr = runtime.ehr.for_practice(PRACTICE)
    say("\ntimeline, read back from the stores:")
    with runtime.db.read() as session:
        requests = session.scalars(
            select(AppointmentRequest).order_by(AppointmentRequest.created_at)
        ).all()
        events = session.scalars(select(Event).order_by(Event.created_at)).all()
        for request in requests:
            appointment = session.get(Appointment, request.appointment_id)
            assert appointment is not None
            initials = f"{request.first_name[0]}.{request.last_name[0]}."
            mine = [e for e in events if e.payload.get("request_id") == request.id]
            synced = next((e for e in mine if e.kind == "request_synced"), None)
            ehr_patient = links.external_id(
                session,
                practice_id=PRACTICE,
                entity="request_patient",
                local=request.id,
                system=EHR,
            )
            ehr_appointment_id = links.external_id(
                session,
                practice_id=PRACTICE,
                entity="appointment",
                local=appointment.id,
                system=EHR,
            )
            say(f"  {initials} request {request.id}: {' → '.join(e.kind for e in mine)}")
            status, sync = appointment.status.value, request.sync_state.value
            say(f"      booking platform: appointment {appointment.id} is {status}, sync {sync}")
            if synced is not None and ehr_appointment_id is not None:
                in_ehr = ehr.read_appointment(ehr_appointment_id)
                match = synced.payload["match"]
                say(
                    f"      EHR: patient {ehr_patient} (match: {match}), "
                    f"appointment {in_ehr.id} is {in_ehr.state}"
                )
    say("messages in the file channel's folder:")
    for path in sorted((folder / "messages").glob("*.txt")):
        lines = [line for line in path.read_text().splitlines() if line]
        subject = next((line[9:] for line in lines if line.startswith("Subject: ")), lines[-1])
        say(f"  {lines[1][9:]:5} → {_mask(lines[0][4:])}: {subject}")


def _mask(address: str) -> str:
    """Recipients by shape, not identity: j***@example.com, +1617***0142."""
    if "@" in address:
        name, domain = address.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return f"{address[:5]}***{address[-4:]}"
