"""The story's second half: the practice's staff decide in the EHR, and the EHR's webhooks bring
each decision back to practice-sync.

Staff confirm the first request as a longer visit at a new time, decline the second, check the
first patient in and out, then enter two patients of their own and book them together at a
time the widget offers, which the widget then no longer offers. The staff act through the
sandbox EHR's staff API; after each step the story waits until practice-sync has caught up
(:class:`~plugins.demo.progress.Progress`) and tells, read back from the stores, where the
appointment stands in practice-sync and which messages the step caused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import httpx

from integration_core.api import (
    EHR_SYSTEM,
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Database,
    external_id,
    local_id,
)
from plugins.demo.messages import MessageFolder
from plugins.demo.processes import wait_for
from plugins.demo.progress import Progress
from plugins.demo.sandbox import SandboxEHR
from plugins.demo.widget import Slot, open_slots
from plugins.ehr_kareo_like.sandbox.staff_client import (
    AppointmentDetail,
    StaffApiError,
    StaffClient,
)

__all__ = ["FAMILY", "FOLLOW_UP", "NEW_PATIENT_VISIT", "Stage", "tell_decisions"]

WAIT_SECONDS = 30.0
NEW_PATIENT_VISIT = 1
"""The sandbox EHR's visit reason "New patient visit": 45 minutes, longer than a widget slot."""
FOLLOW_UP = 2
"""The sandbox EHR's visit reason "Follow-up" (20 minutes), for the group."""
FAMILY = (("Noah", "Clark", date(2015, 5, 2)), ("Emma", "Clark", date(2017, 8, 19)))
"""The patients staff enter in the EHR and book together: first name, last name, birth date."""


@dataclass(frozen=True)
class Stage:
    """Where the staff act and where the story reads back what came of it."""

    database: Database
    web: httpx.Client
    ehr: SandboxEHR
    staff: StaffClient
    progress: Progress
    messages: MessageFolder
    practice: str
    say: Callable[[str], None]


@dataclass(frozen=True)
class Request:
    """A booked request as practice-sync holds it, with its appointment's id in the EHR."""

    initials: str
    appointment: Appointment
    ehr_id: str


def tell_decisions(
    stage: Stage,
    requests: list[str],
    *,
    providers: Mapping[str, tuple[str, str]],
    locations: Mapping[str, tuple[str, str]],
) -> None:
    """The staff's steps on the first two of ``requests`` that reached the EHR; ``providers``
    and ``locations`` are the practice's configured EHR ids by slug, which staff book with."""
    in_ehr = _in_ehr(stage, requests)
    if len(in_ehr) < 2:
        raise click.ClickException("the staff's decisions need two requests in the EHR")
    first, second = in_ehr[:2]
    stage.say("\nthe practice's staff decide in the EHR; its webhooks tell practice-sync:")
    slots = _slots_like(stage, first.appointment)
    zone = slots[0].zone
    visit = stage.ehr.visit_reason(NEW_PATIENT_VISIT)
    if visit.duration_minutes is None:
        raise click.ClickException(f"the sandbox EHR's {visit.name!r} has no length")
    later = _free_for(slots, visit.duration_minutes, first.appointment.start_at + timedelta(days=1))
    _step(
        stage,
        f"staff confirm {first.initials}'s request {first.ehr_id} as {visit.name} "
        f"({visit.duration_minutes} min) at a new time, {_at(later.start, zone)}",
        lambda: stage.staff.confirm(first.ehr_id, visit_reason_id=visit.id, start=later.start),
        AppointmentStatus.BOOKED,
        zone,
    )
    _step(
        stage,
        f"staff decline {second.initials}'s request {second.ehr_id}",
        lambda: stage.staff.decline(second.ehr_id, reason="The doctor is away that day"),
        AppointmentStatus.DECLINED,
        zone,
    )
    _step(
        stage,
        f"staff check {first.initials} in",
        lambda: stage.staff.check_in(first.ehr_id),
        AppointmentStatus.CHECKED_IN,
        zone,
    )
    _step(
        stage,
        f"staff check {first.initials} out",
        lambda: stage.staff.check_out(first.ehr_id),
        AppointmentStatus.CHECKED_OUT,
        zone,
    )
    _book_group(stage, first.appointment, providers=providers, locations=locations)


def _book_group(
    stage: Stage,
    like: Appointment,
    *,
    providers: Mapping[str, tuple[str, str]],
    locations: Mapping[str, tuple[str, str]],
) -> None:
    """Two patients entered in the EHR, booked together at the first time the widget offers
    with ``like``'s provider and location; then whether the widget still offers it."""
    slot = _slots_like(stage, like)[0]
    provider, location = providers[slot.provider][0], locations[slot.location][0]
    stage.say(
        f"  the widget offers {_at(slot.start, slot.zone)} ({slot.provider} at {slot.location})"
    )
    visit = stage.ehr.visit_reason(FOLLOW_UP)
    patients = [
        stage.staff.add_patient(
            first_name=first,
            last_name=last,
            date_of_birth=born,
            email=f"{first.lower()}.{last.lower()}@example.com",
            email_allowed=True,
        )["id"]
        for first, last, born in FAMILY
    ]
    _step(
        stage,
        f"staff enter {len(patients)} patients in the EHR ({', '.join(patients)}) and book "
        f"them as a group then: {visit.name}, provider {provider} at location {location}",
        lambda: stage.staff.book_group(
            patient_ids=patients,
            provider_id=provider,
            location_id=location,
            start=slot.start,
            visit_reason_id=visit.id,
        ),
        AppointmentStatus.BOOKED,
        slot.zone,
    )
    offered = slot.start in {other.start for other in _slots_like(stage, like)}
    stage.say(
        f"      the widget {'still offers' if offered else 'no longer offers'} "
        f"{_at(slot.start, slot.zone)}"
    )


def _step(
    stage: Stage,
    what: str,
    act: Callable[[], AppointmentDetail],
    status: AppointmentStatus,
    zone: ZoneInfo,
) -> None:
    """Say what staff do, do it in the EHR, wait until practice-sync holds the appointment in
    ``status`` and has caught up, then tell the appointment and the messages written since."""
    stage.say(f"  {what}")
    try:
        ehr_id = act()["id"]
    except StaffApiError as exc:
        raise click.ClickException(f"the sandbox EHR refused: {exc}") from None

    def reached() -> bool:
        appointment = _linked(stage, ehr_id)
        return appointment is not None and appointment.status is status

    wait_for(
        lambda: reached() and stage.progress.caught_up(),
        WAIT_SECONDS,
        f"practice-sync to hold the EHR's appointment {ehr_id} as {status.value}",
    )
    appointment = _linked(stage, ehr_id)
    assert appointment is not None
    stage.say(
        f"      practice-sync: appointment {appointment.id} (origin {appointment.origin.value}) "
        f"is {appointment.status.value}, {appointment.start_at.astimezone(zone):%Y-%m-%d %H:%M}–"
        f"{appointment.end_at.astimezone(zone):%H:%M %Z}"
    )
    stage.messages.tell_new(stage.say, "      ")


def _in_ehr(stage: Stage, requests: list[str]) -> list[Request]:
    """``requests``, in their order, whose appointment the EHR sync made."""
    found = []
    with stage.database.read() as session:
        for request_id in requests:
            request = session.get_one(AppointmentRequest, request_id)
            appointment = session.get_one(Appointment, request.appointment_id)
            ehr_id = external_id(
                session,
                practice_id=stage.practice,
                entity="appointment",
                local=appointment.id,
                system=EHR_SYSTEM,
            )
            if ehr_id is not None:
                initials = f"{request.first_name[0]}.{request.last_name[0]}."
                found.append(Request(initials, appointment, ehr_id))
    return found


def _linked(stage: Stage, ehr_id: str) -> Appointment | None:
    """Practice-sync's appointment linked to the EHR's ``ehr_id``, if it has one yet."""
    with stage.database.read() as session:
        found = local_id(
            session,
            practice_id=stage.practice,
            entity="appointment",
            system=EHR_SYSTEM,
            external=ehr_id,
        )
        return None if found is None else session.get(Appointment, found)


def _slots_like(stage: Stage, appointment: Appointment) -> list[Slot]:
    """The times the widget offers now for ``appointment``'s reason, provider and location."""
    if appointment.reason_id is None:
        raise click.ClickException(f"appointment {appointment.id} has no reason for visit")
    slots = [
        slot
        for slot in open_slots(stage.web, stage.practice, appointment.reason_id)
        if (slot.provider, slot.location) == (appointment.provider_id, appointment.location_id)
    ]
    if not slots:
        raise click.ClickException(
            f"the widget offers no time with {appointment.provider_id} at "
            f"{appointment.location_id} for the staff's part of the story"
        )
    return slots


def _free_for(slots: list[Slot], minutes: int, after: datetime) -> Slot:
    """The first offered slot from ``after`` on where back-to-back offered slots last
    ``minutes``, so a visit that long takes no one else's time."""
    length = timedelta(minutes=minutes)
    for index, first in enumerate(slots):
        if first.start < after:
            continue
        end = first.end
        for later in slots[index + 1 :]:
            if end - first.start >= length or later.start > end:
                break
            end = max(end, later.end)
        if end - first.start >= length:
            return first
    raise click.ClickException(
        f"the widget offers no {minutes} free minutes after {after:%Y-%m-%d %H:%M %Z}"
    )


def _at(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M %Z}"
