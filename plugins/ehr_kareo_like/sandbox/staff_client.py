"""``StaffClient``: the sandbox EHR's staff API, patients and webhook subscriptions, over httpx.

What a practice's staff do in the EHR's own screens — confirm, decline, reschedule, check in,
book, block time — as typed calls, for the ``sandbox-ehr staff`` command line and for tests
that play the staff. Answers are the API's JSON as it came (the typed dicts of
:mod:`~plugins.ehr_kareo_like.sandbox.staff_answers`, re-exported here); every failure is one
:class:`StaffApiError` carrying the API's error code, its message (written for people, never
quoting patient data), the HTTP status and, for a scheduling conflict, the clashing items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast
from urllib.parse import quote

import httpx

from plugins.ehr_kareo_like.sandbox.staff_answers import (
    AppointmentDetail,
    AppointmentPage,
    AppointmentSummary,
    AppointmentType,
    Attendee,
    Conflict,
    Insurance,
    NewWebhookSubscription,
    Patient,
    PatientRecord,
    TimeBlock,
    WebhookSubscription,
)

__all__ = [
    "AppointmentDetail",
    "AppointmentPage",
    "AppointmentSummary",
    "Attendee",
    "Conflict",
    "Insurance",
    "NewWebhookSubscription",
    "Patient",
    "PatientRecord",
    "StaffApiError",
    "StaffClient",
    "TimeBlock",
    "WebhookSubscription",
]


class StaffApiError(Exception):
    """The sandbox refused a call (``status``: its HTTP status) or did not answer (``status``
    ``None``, ``code`` ``unreachable`` or ``timeout``). ``fields`` names what to change in the
    request; ``conflicts`` lists what a ``scheduling_conflict`` clashed with."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None,
        fields: dict[str, str] | None = None,
        conflicts: Sequence[Conflict] = (),
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields or {}
        self.conflicts = list(conflicts)


def _when(value: datetime | None) -> str | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("a time for the sandbox EHR needs its UTC offset")
    return None if value is None else value.isoformat()


class StaffClient:
    """The staff API of the sandbox EHR at ``base_url`` (``http://127.0.0.1:8500``), with its
    API key; ``transport`` serves it in process instead (an ``InProcessTransport``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"X-API-Key": api_key, "User-Agent": "practice-sync sandbox staff"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> StaffClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- appointments -------------------------------------------------------------------

    def list_appointments(
        self,
        *,
        status: str | None = None,
        provider_id: str | None = None,
        location_id: str | None = None,
        start_from: datetime | None = None,
        to: datetime | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> AppointmentPage:
        """One page of appointments by start; ``next_cursor`` (as ``after``) reads on."""
        query = {
            "status": status,
            "provider_id": provider_id,
            "location_id": location_id,
            "from": _when(start_from),
            "to": _when(to),
            "limit": limit,
            "after": after,
        }
        params = {name: value for name, value in query.items() if value is not None}
        return cast(AppointmentPage, self._call("GET", "/staff/appointments", params=params))

    def show(self, appointment_id: str) -> AppointmentDetail:
        return self._detail("GET", appointment_id, "")

    def confirm(
        self,
        appointment_id: str,
        *,
        visit_reason_id: int,
        appointment_type: AppointmentType | None = None,
        start: datetime | None = None,
        duration_minutes: int | None = None,
        intake_forms: Sequence[str] = (),
    ) -> AppointmentDetail:
        """Confirm a tentative appointment as ``visit_reason_id`` (whose length it takes, or
        ``duration_minutes`` for a reason without one), at ``start`` if moved."""
        return self._detail(
            "POST",
            appointment_id,
            "/confirm",
            visit_reason_id=visit_reason_id,
            appointment_type=appointment_type,
            start=_when(start),
            duration_minutes=duration_minutes,
            intake_forms=list(intake_forms),
        )

    def decline(self, appointment_id: str, *, reason: str | None = None) -> AppointmentDetail:
        return self._detail("POST", appointment_id, "/decline", reason=reason)

    def cancel(self, appointment_id: str, *, reason: str | None = None) -> AppointmentDetail:
        return self._detail("POST", appointment_id, "/cancel", reason=reason)

    def reschedule(
        self, appointment_id: str, *, start: datetime, duration_minutes: int | None = None
    ) -> AppointmentDetail:
        return self._detail(
            "POST",
            appointment_id,
            "/reschedule",
            start=_when(start),
            duration_minutes=duration_minutes,
        )

    def check_in(self, appointment_id: str, *, patient_id: str | None = None) -> AppointmentDetail:
        """Check the patient in (``patient_id``: which one, for a group)."""
        return self._detail("POST", appointment_id, "/check-in", patient_id=patient_id)

    def check_out(self, appointment_id: str, *, patient_id: str | None = None) -> AppointmentDetail:
        return self._detail("POST", appointment_id, "/check-out", patient_id=patient_id)

    def no_show(self, appointment_id: str, *, patient_id: str | None = None) -> AppointmentDetail:
        return self._detail("POST", appointment_id, "/no-show", patient_id=patient_id)

    def book(
        self,
        *,
        patient_id: str,
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: int,
        appointment_type: AppointmentType = "In Person",
        duration_minutes: int | None = None,
        allow_double_booking: bool = False,
    ) -> AppointmentDetail:
        """Book a confirmed appointment directly, as staff do for a patient on the phone."""
        return cast(
            AppointmentDetail,
            self._call(
                "POST",
                "/staff/appointments",
                json=self._booking(
                    patient_id=patient_id,
                    provider_id=provider_id,
                    location_id=location_id,
                    start=start,
                    visit_reason_id=visit_reason_id,
                    appointment_type=appointment_type,
                    duration_minutes=duration_minutes,
                    allow_double_booking=allow_double_booking,
                ),
            ),
        )

    def book_group(
        self,
        *,
        patient_ids: Sequence[str],
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: int,
        appointment_type: AppointmentType = "In Person",
        duration_minutes: int | None = None,
        allow_double_booking: bool = False,
    ) -> AppointmentDetail:
        """Book one appointment for several patients (two or more, each once)."""
        return cast(
            AppointmentDetail,
            self._call(
                "POST",
                "/staff/group-appointments",
                json=self._booking(
                    patient_ids=list(patient_ids),
                    provider_id=provider_id,
                    location_id=location_id,
                    start=start,
                    visit_reason_id=visit_reason_id,
                    appointment_type=appointment_type,
                    duration_minutes=duration_minutes,
                    allow_double_booking=allow_double_booking,
                ),
            ),
        )

    @staticmethod
    def _booking(*, start: datetime, duration_minutes: int | None, **fields: Any) -> dict[str, Any]:
        body = {"start": _when(start), **fields}
        if duration_minutes is not None:
            body["duration_minutes"] = duration_minutes
        return body

    # -- time blocks --------------------------------------------------------------------

    def block_time(
        self, *, provider_id: str, start: datetime, end: datetime, note: str = ""
    ) -> TimeBlock:
        body = {"provider_id": provider_id, "start": _when(start), "end": _when(end), "note": note}
        return cast(TimeBlock, self._call("POST", "/staff/time-blocks", json=body))

    def list_time_blocks(self, *, provider_id: str | None = None) -> list[TimeBlock]:
        params = {} if provider_id is None else {"provider_id": provider_id}
        answer = self._call("GET", "/staff/time-blocks", params=params)
        return cast(list[TimeBlock], answer["time_blocks"])

    def remove_time_block(self, time_block_id: str) -> None:
        self._call("DELETE", f"/staff/time-blocks/{_segment(time_block_id)}")

    # -- patients -----------------------------------------------------------------------

    def add_patient(
        self,
        *,
        first_name: str,
        last_name: str,
        date_of_birth: date,
        sex: str | None = None,
        email: str | None = None,
        mobile_phone: str | None = None,
        email_allowed: bool = False,
        sms_allowed: bool = False,
    ) -> Patient:
        """Enter a patient with their contact details and what messages they agreed to."""
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "date_of_birth": date_of_birth.isoformat(),
            "sex": sex,
            "email": email,
            "mobile_phone": mobile_phone,
            "email_allowed": email_allowed,
            "sms_allowed": sms_allowed,
        }
        return cast(Patient, self._call("POST", "/staff/patients", json=body))

    def read_patient(self, patient_id: str) -> PatientRecord:
        return cast(PatientRecord, self._call("GET", f"/patients/{_segment(patient_id)}"))

    # -- webhook subscriptions ----------------------------------------------------------

    def subscribe_webhook(self, url: str) -> NewWebhookSubscription:
        """Have every change from now on posted to ``url``; the answer's secret verifies
        them and is never shown again."""
        return cast(
            NewWebhookSubscription, self._call("POST", "/webhook-subscriptions", json={"url": url})
        )

    def list_webhook_subscriptions(self) -> list[WebhookSubscription]:
        answer = self._call("GET", "/webhook-subscriptions")
        return cast(list[WebhookSubscription], answer["webhook_subscriptions"])

    def unsubscribe_webhook(self, subscription_id: str) -> None:
        self._call("DELETE", f"/webhook-subscriptions/{_segment(subscription_id)}")

    # -- plumbing -----------------------------------------------------------------------

    def _detail(
        self, method: str, appointment_id: str, action: str, **body: Any
    ) -> AppointmentDetail:
        path = f"/staff/appointments/{_segment(appointment_id)}{action}"
        payload = {name: value for name, value in body.items() if value is not None}
        answer = self._call(method, path, json=payload if method == "POST" else None)
        return cast(AppointmentDetail, answer)

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise StaffApiError(
                "timeout", "The sandbox EHR did not answer in time.", status=None
            ) from None
        except httpx.TransportError:
            raise StaffApiError(
                "unreachable", "The sandbox EHR could not be reached.", status=None
            ) from None
        if response.is_success:
            return {} if response.status_code == 204 else cast(dict[str, Any], response.json())
        raise _refusal(response)


def _refusal(response: httpx.Response) -> StaffApiError:
    """The API's error shape as a :class:`StaffApiError` (a body in another shape: its
    status alone)."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return StaffApiError(
            f"http_{response.status_code}",
            f"The sandbox EHR answered {response.status_code}.",
            status=response.status_code,
        )
    fields = error.get("fields")
    conflicts = error.get("conflicts")
    return StaffApiError(
        code,
        message,
        status=response.status_code,
        fields=fields if isinstance(fields, dict) else None,
        conflicts=conflicts if isinstance(conflicts, list) else (),
    )


def _segment(record_id: str) -> str:
    """``record_id`` as one path segment: an id holding ``/`` or ``..`` names no other route,
    and an empty one is refused before it is sent."""
    if not record_id:
        raise StaffApiError("invalid_id", "An id cannot be empty.", status=None)
    return quote(record_id, safe="")
