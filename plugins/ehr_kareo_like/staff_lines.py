"""The sandbox EHR's answers as lines for the staff at a terminal.

An appointment in a list is one line: id, status, time, provider and location, type, its
patients, and whether it clashes with anything. A detail is the appointment's head line and
one labelled line per fact, its conflicts last, each on a line of its own. A refusal is the
API's code and message, then what to change and what it clashed with.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from plugins.ehr_kareo_like.sandbox.staff_client import (
    AppointmentDetail,
    AppointmentPage,
    AppointmentSummary,
    Attendee,
    Conflict,
    Patient,
    StaffApiError,
    TimeBlock,
)

__all__ = ["detail_lines", "page_lines", "patient_lines", "refusal_lines", "time_block_lines"]

LABEL = 14
"""The width of a detail line's label."""


def span(start: str, end: str) -> str:
    """``2027-01-05 14:00–14:45 +00:00``: a day, two times of day, the offset they are in
    (the end's day too when it is another)."""
    begins, ends = datetime.fromisoformat(start), datetime.fromisoformat(end)
    offset = begins.strftime("%z")
    until = ends.strftime("%H:%M" if ends.date() == begins.date() else "%Y-%m-%d %H:%M")
    return f"{begins:%Y-%m-%d %H:%M}–{until} {offset[:3]}:{offset[3:]}"


def _attendee(attendee: Attendee, *, with_status: bool) -> str:
    name = f"{attendee['first_name']} {attendee['last_name']}"
    return f"{name} ({attendee['status']})" if with_status else name


def _patients(appointment: AppointmentSummary) -> str:
    return ", ".join(
        _attendee(attendee, with_status=appointment["group"])
        for attendee in appointment["patients"]
    )


def summary_line(appointment: AppointmentSummary) -> str:
    kind = "group " if appointment["group"] else ""
    clash = "  [conflicts]" if appointment["has_conflicts"] else ""
    return (
        f"{appointment['id']}  {appointment['status']:<11}  "
        f"{span(appointment['start'], appointment['end'])}  "
        f"provider {appointment['provider_id']} at {appointment['location_id']}  "
        f"{kind}{appointment['appointment_type']}  {_patients(appointment)}{clash}"
    )


def page_lines(page: AppointmentPage) -> Iterator[str]:
    if not page["appointments"]:
        yield "no appointments"
    for appointment in page["appointments"]:
        yield summary_line(appointment)
    if page["next_cursor"] is not None:
        yield f"more: list again with --after {page['next_cursor']}"


def _labelled(label: str, values: list[str]) -> Iterator[str]:
    """``label`` then the first value, the others under it."""
    for index, value in enumerate(values or ["none"]):
        yield f"  {label if index == 0 else '':<{LABEL}}{value}"


def conflict_line(conflict: Conflict) -> str:
    what = "time block" if conflict["kind"] == "time_block" else "appointment"
    status = f" ({conflict['status']})" if conflict["status"] else ""
    return f"{what} {conflict['id']} {span(conflict['start'], conflict['end'])}{status}"


def detail_lines(appointment: AppointmentDetail) -> Iterator[str]:
    yield f"{appointment['id']}  {appointment['status']}  version {appointment['version']}"
    minutes = appointment["duration_minutes"]
    yield from _labelled(
        "time", [f"{span(appointment['start'], appointment['end'])} ({minutes} min)"]
    )
    yield from _labelled(
        "provider", [f"{appointment['provider_id']} at location {appointment['location_id']}"]
    )
    asked = (
        " (the patient asked for a virtual visit)" if appointment["telehealth_requested"] else ""
    )
    yield from _labelled("type", [f"{appointment['appointment_type']}{asked}"])
    reason = str(appointment["visit_reason_id"] or "not set")
    if appointment["requested_reason"]:
        reason += f" (requested: {appointment['requested_reason']})"
    yield from _labelled("visit reason", [reason])
    yield from _labelled(
        "patients" if appointment["group"] else "patient",
        [f"{a['patient_id']}  {_attendee(a, with_status=True)}" for a in appointment["patients"]],
    )
    insurance = appointment["insurance"]
    if insurance is not None:
        parts = [insurance["carrier"] or "carrier not given"]
        if insurance["member_id"]:
            parts.append(f"member {insurance['member_id']}")
        if insurance["group"]:
            parts.append(f"group {insurance['group']}")
        yield from _labelled("insurance", [", ".join(parts)])
    yield from _labelled("intake forms", [", ".join(appointment["intake_forms"]) or "none"])
    if appointment["staff_reason"]:
        yield from _labelled("staff reason", [appointment["staff_reason"]])
    if appointment["patient_note"]:
        yield from _labelled("patient note", appointment["patient_note"].splitlines())
    yield from _labelled("conflicts", [conflict_line(c) for c in appointment["conflicts"]])


def patient_lines(patient: Patient) -> Iterator[str]:
    yield f"{patient['id']}  {patient['first_name']} {patient['last_name']}"
    yield from _labelled("date of birth", [patient["date_of_birth"]])
    agreed = [
        kind
        for kind, allowed in (
            ("email", patient["email_allowed"]),
            ("texts", patient["sms_allowed"]),
        )
        if allowed
    ]
    yield from _labelled("messages", [", ".join(agreed) or "none agreed"])


def time_block_lines(block: TimeBlock) -> Iterator[str]:
    note = f"  {block['note']}" if block["note"] else ""
    when = span(block["start"], block["end"])
    yield f"{block['id']}  provider {block['provider_id']}  {when}{note}"


def refusal_lines(error: StaffApiError) -> Iterator[str]:
    yield f"error: {error.code}: {error.message}"
    for field, problem in error.fields.items():
        yield f"  {field}: {problem}"
    for conflict in error.conflicts:
        yield f"  clashes with {conflict_line(conflict)}"
