"""The EHR's signed change notifications, as the Kareo-like sandbox sends them to practice-sync's
``POST /v1/practices/{practice}/ehr/changes``: the booking practice syncing to the in-process
sandbox with a webhook secret, and an appointment made in the EHR announced in a message.

The message is built from the sandbox's own models of a change (what its feed and webhooks
show), so it is the shape the adapter reads, not a copy of it that could drift."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from plugins.ehr_kareo_like.sandbox.changes import AppointmentSnapshot, AttendeeSnapshot, ChangeOut
from plugins.ehr_kareo_like.sandbox.outbound import MESSAGE_TYPE
from tests.support.sandbox_ehr import sync_overrides
from tests.support.webhook_receiver import signed_headers

__all__ = ["CHANGES", "SECRET", "announce", "made_in_ehr", "notification", "webhook_overrides"]

CHANGES = "/v1/practices/acme/ehr/changes"
SECRET = "whsec_" + "ZWhyLWNoYW5nZS13ZWJob29rcy1mb3ItdGVzdHM="
"""The practice's webhook secret: what the EHR signs its notifications with."""


def webhook_overrides(sandbox_url: str, messages: Path) -> dict[str, Any]:
    """:func:`~tests.support.sandbox_ehr.sync_overrides`, the EHR signing with :data:`SECRET`."""
    overrides = sync_overrides(sandbox_url, messages)
    overrides["plugins"]["config"]["ehr_kareo_like"]["practices"]["acme"]["webhook_secret"] = SECRET
    return overrides


def made_in_ehr(appointment_id: str, patient_id: str, start: datetime) -> dict[str, Any]:
    """The change of staff booking ``patient_id`` in the EHR with Dr. Lee (EHR id 1001),
    downtown, for 30 minutes from ``start``: the appointment's first version."""
    return ChangeOut(
        id=f"CHG-{appointment_id}-1",
        sequence=1,
        type="appointment.created",
        appointment_id=appointment_id,
        version=1,
        occurred_at=start - timedelta(days=1),
        patient_id=None,
        appointment=AppointmentSnapshot(
            id=appointment_id,
            status="Confirmed",
            provider_id="1001",
            location_id="downtown",
            start=start,
            end=start + timedelta(minutes=30),
            duration_minutes=30,
            appointment_type="In Person",
            visit_reason_id=None,
            intake_forms=[],
            group=False,
            patients=[AttendeeSnapshot(patient_id=patient_id, status="Confirmed")],
            staff_reason=None,
        ),
    ).model_dump(mode="json")


def notification(change: dict[str, Any]) -> bytes:
    """The body of the EHR's webhook announcing ``change``."""
    return json.dumps({"type": MESSAGE_TYPE, "data": change}).encode()


def announce(
    client: TestClient, change: dict[str, Any], *, message_id: str, at: datetime
) -> Response:
    """Post ``change`` to the practice's change route as message ``message_id``, signed ``at``
    with :data:`SECRET`."""
    body = notification(change)
    return client.post(
        CHANGES, content=body, headers=signed_headers(body, message_id, at=at, secret=SECRET)
    )
