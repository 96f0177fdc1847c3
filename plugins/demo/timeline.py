"""What happened, read back from the stores — never from the demo's own variables.

* the practice's database, through the shared records and id links ``integration_core.api``
  offers plugins: each request, its appointment, the EHR patient and appointment it is linked to;
* the EHR, through the sandbox's REST API: the appointment as the EHR holds it, and the
  patients it held before the booking — the match shown is the core's policy
  (``decide_match``) on those, checked against the patient the request was linked to;
* the staff's Action Required list, through the staff API;
* the file channel's folder, in the order the messages were written
  (:class:`~plugins.demo.messages.MessageFolder`).

Patients appear by initials and ids, recipients masked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from integration_core.api import (
    EHR_SYSTEM,
    Appointment,
    AppointmentRequest,
    Database,
    EHRPatient,
    Match,
    PatientQuery,
    decide_match,
    external_id,
)
from plugins.demo.messages import MessageFolder
from plugins.demo.sandbox import SandboxEHR

__all__ = ["tell_timeline"]


def tell_timeline(
    database: Database,
    ehr: SandboxEHR,
    web: httpx.Client,
    *,
    practice: str,
    staff_token: str,
    before: dict[str, list[EHRPatient]],
    messages: MessageFolder,
    say: Callable[[str], None],
) -> None:
    say("\ntimeline, read back from the stores:")
    with database.read() as session:
        requests = session.scalars(
            select(AppointmentRequest)
            .where(AppointmentRequest.practice_id == practice)
            .order_by(AppointmentRequest.created_at)
        ).all()
        for request in requests:
            appointment = session.get(Appointment, request.appointment_id)
            assert appointment is not None
            initials = f"{request.first_name[0]}.{request.last_name[0]}."
            patient_id, appointment_id = (
                external_id(
                    session, practice_id=practice, entity=entity, local=local, system=EHR_SYSTEM
                )
                for entity, local in (
                    ("request_patient", request.id),
                    ("appointment", appointment.id),
                )
            )
            say(f"  {initials} request {request.id}")
            say(
                f"      booking platform: appointment {appointment.id} is "
                f"{appointment.status.value}, sync {request.sync_state.value}"
                + (f" ({request.sync_error_code})" if request.sync_error_code else "")
            )
            if patient_id is None or appointment_id is None:
                continue
            query = PatientQuery(
                first_name=request.first_name,
                last_name=request.last_name,
                date_of_birth=request.date_of_birth,
            )
            match = _match(query, before.get(initials, []), patient_id)
            in_ehr = ehr.appointment(appointment_id)
            say(
                f"      EHR: patient {patient_id} (match: {match}), appointment {in_ehr.id} "
                f"is {in_ehr.status.lower()} at {in_ehr.start.isoformat()} "
                f"(provider {in_ehr.provider_id}, location {in_ehr.location_id})"
            )
    _action_required(web, practice, staff_token, say)
    say("messages in the file channel's folder, in the order they were written:")
    messages.tell_new(say, "  ")


def _match(query: PatientQuery, held: list[EHRPatient], linked: str) -> str:
    """The policy's outcome on the EHR's records before the booking, if the link agrees."""
    outcome, attached = decide_match(query, held)
    agrees = (attached is not None and attached.id == linked) or (
        outcome is not Match.ATTACHED and linked not in {patient.id for patient in held}
    )
    return outcome.value if agrees else f"{outcome.value}?! linked to another patient"


def _action_required(
    web: httpx.Client, practice: str, staff_token: str, say: Callable[[str], None]
) -> None:
    answer = web.get(
        f"/v1/practices/{practice}/portal/action-required",
        headers={"Authorization": f"Bearer {staff_token}"},
    )
    if answer.status_code != 200:
        say(f"Action Required (staff API): HTTP {answer.status_code}")
        return
    items: list[dict[str, Any]] = answer.json()["items"]
    waiting = [item["status"] for item in items]
    counts = ", ".join(f"{waiting.count(status)} {status}" for status in sorted(set(waiting)))
    say(f"Action Required (staff API): {len(items)} request(s) waiting for staff: {counts}")
