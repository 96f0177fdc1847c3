"""``apply_change``: one EHR change becomes the shared appointment record and its events.

Webhooks, the feed poller, redeliveries and a second poller all end here, so the rules live in
one place:

- **Once.** The change is recorded by its id in the caller's transaction before anything else;
  a change already recorded is a ``duplicate`` and does nothing. Changes of one practice are
  applied one at a time (a row lock on its feed cursor), so two arrivals of two versions of one
  appointment cannot both read the old state.
- **In version order.** The record follows the highest version seen; a lower one is ``stale``.
  The lifecycle events are those between the state held and the newest
  (:func:`~integration_core.ehr.transitions.lifecycle_steps`), so a check-out that arrives
  before its check-in still gives ``checkin`` then ``checkout``, and the late check-in nothing.
- **Every change the EHR made is applied**, an overlap included: the no-double-booking rule
  binds requests from the widget only; the EHR is the source of truth.
- **Unknown provider or location**: recorded as ``unmapped`` and reported (a log line, a
  metric, an ``ehr_change_unmapped`` event staff see), never retried.
- **Not linked yet**: a tentative appointment the core does not know, with a configured provider
  and location, is most likely the one the EHR sync is creating right now (the EHR announced it
  before the sync committed its link). It is ``deferred`` and applied when the sync links it
  (:func:`apply_deferred`). With a provider or location not configured it cannot be the sync's
  (it books configured ones only): that is ``unmapped``, reported.

- **History is not news.** A change made before practice-sync followed the practice's EHR
  (its feed cursor row was made, or reset after the EHR refused the stored cursor) updates
  the records and causes no lifecycle event, so the first read of a feed — the EHR's whole
  history — sends no patient a message about it.

EHR-made appointments become shared records with origin ``ehr``. Their patients are attendee
rows by EHR patient id, each in their own state (a group's check-ins are per attendee).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from integration_core import links, metrics
from integration_core.ehr.change_tables import Attendee, ChangeSeen, EHRAppointmentState, FeedCursor
from integration_core.ehr.protocol import EHRChange
from integration_core.ehr.transitions import STATUS_OF, lifecycle_steps
from integration_core.events import (
    AppointmentSyncedEvent,
    CancelEvent,
    CheckinEvent,
    CheckoutEvent,
    ConfirmEvent,
    DeclineEvent,
    EHRChangeUnmappedEvent,
    LifecycleEvent,
    RescheduleEvent,
)
from integration_core.outbox import Outbox
from integration_core.records import ACTIVE_STATUSES, Appointment, AppointmentStatus, Origin
from integration_core.settings import PracticeSettings
from integration_core.store import new_id

__all__ = ["Applied", "Outcome", "Via", "apply_change", "apply_deferred", "lock_practice"]

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "deferred", "unmapped"]
Via = Literal["webhook", "poll"]


@dataclass(frozen=True)
class Applied:
    """What came of one change: its outcome, the local appointment, the events emitted."""

    outcome: Outcome
    appointment_id: str | None = None
    events: tuple[str, ...] = ()


def lock_practice(session: Session, practice_id: str, now: datetime) -> FeedCursor:
    """The practice's feed cursor row, locked for the caller's transaction (made if missing):
    whoever holds it is the only one applying the practice's changes. Every change applied
    takes it, so the row is inserted only the first time."""
    held = select(FeedCursor).where(FeedCursor.practice_id == practice_id).with_for_update()
    held = held.execution_options(populate_existing=True)
    found = session.scalars(held).one_or_none()
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(FeedCursor)
        .values(practice_id=practice_id, cursor=None, next_poll_at=now, following_since=now)
        .on_conflict_do_nothing(index_elements=[FeedCursor.practice_id])
    )
    return session.scalars(held).one()


def apply_change(
    session: Session,
    *,
    practice_id: str,
    practice: PracticeSettings,
    outbox: Outbox,
    change: EHRChange,
    via: Via,
    now: datetime,
) -> Applied:
    """Apply ``change`` in the caller's transaction (see the module's rules)."""
    following = lock_practice(session, practice_id, now).following_since
    if session.get(ChangeSeen, (practice_id, change.change_id)) is not None:
        applied = Applied("duplicate")
    else:
        seen = ChangeSeen(
            practice_id=practice_id,
            change_id=change.change_id,
            ehr_appointment_id=change.appointment_id,
            version=change.version,
            kind=change.kind,
            via=via,
            outcome="applied",
            occurred_at=change.occurred_at,
            received_at=now,
        )
        session.add(seen)
        news = change.occurred_at >= following
        applied = _apply(session, practice_id, practice, outbox, change, seen, now, news=news)
    outbox.db.after_commit(
        session, metrics.EHR_CHANGES.labels(practice_id, via, applied.outcome).inc
    )
    return applied


def apply_deferred(
    session: Session,
    *,
    practice_id: str,
    practice: PracticeSettings,
    outbox: Outbox,
    ehr_appointment_id: str,
    now: datetime,
) -> list[Applied]:
    """Apply, in version order, the changes deferred until ``ehr_appointment_id`` was linked;
    called in the transaction that links it."""
    following = lock_practice(session, practice_id, now).following_since
    waiting = session.scalars(
        select(ChangeSeen)
        .where(
            ChangeSeen.practice_id == practice_id,
            ChangeSeen.ehr_appointment_id == ehr_appointment_id,
            ChangeSeen.outcome == "deferred",
        )
        .order_by(ChangeSeen.version)
    ).all()
    results = []
    for seen in waiting:
        assert seen.deferred is not None
        change = EHRChange.model_validate({**seen.deferred, "staff_reason": None})
        seen.deferred = None
        news = change.occurred_at >= following
        results.append(_apply(session, practice_id, practice, outbox, change, seen, now, news=news))
    return results


def _apply(
    session: Session,
    practice_id: str,
    practice: PracticeSettings,
    outbox: Outbox,
    change: EHRChange,
    seen: ChangeSeen,
    now: datetime,
    *,
    news: bool,
) -> Applied:
    """Apply one recorded change; ``news`` is False for a change made before practice-sync
    followed this EHR, which updates the records but tells nobody."""
    local = links.local_id(
        session,
        practice_id=practice_id,
        entity="appointment",
        system=links.EHR_SYSTEM,
        external=change.appointment_id,
    )
    mapped = _local_place(practice, change)
    if isinstance(mapped, _Unknown):  # not the EHR sync's either: it books configured ones only
        return _unmapped(session, practice_id, outbox, seen, mapped)
    provider_id, location_id = mapped
    if local is None and (change.state == "tentative" or _waits_for_link(session, seen)):
        seen.outcome = "deferred"
        seen.deferred = change.model_dump(mode="json", exclude={"staff_reason"})
        return Applied("deferred")

    new_status = STATUS_OF[change.state]
    if local is None:
        appointment = _ehr_made(session, practice_id, change, now)
        ehr_state = None
        # The EHR made it booked: what happened since is still news (a check-out starts the
        # survey) — unless it ended before practice-sync saw it.
        if new_status in (AppointmentStatus.CANCELLED, AppointmentStatus.DECLINED):
            steps: list[str] = []
        else:
            steps = lifecycle_steps(AppointmentStatus.BOOKED, new_status)
        old_start = change.start
    else:
        appointment = session.get_one(
            Appointment, local, with_for_update=True, populate_existing=True
        )
        ehr_state = session.get(EHRAppointmentState, local)
        if ehr_state is not None and change.version <= ehr_state.version:
            seen.outcome = "stale"
            seen.appointment_id = local
            return Applied("stale", local)
        steps = lifecycle_steps(appointment.status, new_status)
        old_start = appointment.start_at
    seen.appointment_id = appointment.id

    appointment.status = new_status
    appointment.provider_id = provider_id
    appointment.location_id = location_id
    appointment.start_at = change.start
    appointment.end_at = change.start + timedelta(minutes=change.duration_minutes)
    appointment.virtual = change.telehealth
    appointment.updated_at = now
    _keep_ehr_state(session, practice_id, appointment.id, ehr_state, change, now)
    attendee_steps = _keep_attendees(session, practice_id, appointment.id, change, now)

    if not news:
        steps, attendee_steps = [], []
    events: list[LifecycleEvent] = [
        _lifecycle_event(step, practice_id, appointment.id) for step in steps
    ]
    moved = news and change.start != old_start and new_status in ACTIVE_STATUSES
    if moved and "confirm" not in steps:
        events.append(
            RescheduleEvent(
                practice_id=practice_id,
                appointment_id=appointment.id,
                previous_start=old_start.isoformat(),
            )
        )
    events.extend(
        _lifecycle_event(step, practice_id, appointment.id, attendee)
        for attendee, step in attendee_steps
    )
    events.append(AppointmentSyncedEvent(practice_id=practice_id, appointment_id=appointment.id))
    for event in events:
        outbox.emit(session, event)
    return Applied("applied", appointment.id, tuple(event.kind for event in events))


@dataclass(frozen=True)
class _Unknown:
    code: Literal["unknown_provider", "unknown_location"]
    ehr_id: str


def _local_place(practice: PracticeSettings, change: EHRChange) -> tuple[str, str] | _Unknown:
    """The configured provider and location the change's EHR ids name, or which is unknown."""
    providers = {provider.ehr_id: slug for slug, provider in practice.providers.items()}
    locations = {(place.ehr_id or slug): slug for slug, place in practice.locations.items()}
    if change.provider_id not in providers:
        return _Unknown("unknown_provider", change.provider_id)
    if change.location_id not in locations:
        return _Unknown("unknown_location", change.location_id)
    return providers[change.provider_id], locations[change.location_id]


def _waits_for_link(session: Session, seen: ChangeSeen) -> bool:
    """Whether an earlier change of this EHR appointment is deferred: then it is the EHR sync's
    own, and this one waits with it rather than making a second record."""
    deferred = session.scalar(
        select(ChangeSeen.change_id)
        .where(
            ChangeSeen.practice_id == seen.practice_id,
            ChangeSeen.ehr_appointment_id == seen.ehr_appointment_id,
            ChangeSeen.outcome == "deferred",
        )
        .limit(1)
    )
    return deferred is not None


def _unmapped(
    session: Session, practice_id: str, outbox: Outbox, seen: ChangeSeen, unknown: _Unknown
) -> Applied:
    seen.outcome = "unmapped"
    seen.reason_code = unknown.code
    log.warning(
        "EHR change not applied: %s %s is not configured",
        unknown.code.removeprefix("unknown_"),
        unknown.ehr_id,
        extra={"practice_id": practice_id, "change_id": seen.change_id},
    )
    event = EHRChangeUnmappedEvent(
        practice_id=practice_id,
        change_id=seen.change_id,
        ehr_appointment_id=seen.ehr_appointment_id,
        reason_code=unknown.code,
        ehr_id=unknown.ehr_id,
    )
    outbox.emit(session, event)
    return Applied("unmapped", None, (event.kind,))


def _ehr_made(session: Session, practice_id: str, change: EHRChange, now: datetime) -> Appointment:
    """A new shared record for an appointment made in the EHR, linked to it."""
    appointment = Appointment(
        id=new_id(),
        practice_id=practice_id,
        provider_id="",
        location_id="",
        reason_id=None,
        reason_name=None,
        start_at=change.start,
        end_at=change.start,
        status=AppointmentStatus.BOOKED,
        origin=Origin.EHR,
        virtual=change.telehealth,
        request_id=None,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    session.flush()
    links.link(
        session,
        practice_id=practice_id,
        entity="appointment",
        local=appointment.id,
        system=links.EHR_SYSTEM,
        external=change.appointment_id,
        now=now,
    )
    return appointment


def _keep_ehr_state(
    session: Session,
    practice_id: str,
    appointment_id: str,
    state: EHRAppointmentState | None,
    change: EHRChange,
    now: datetime,
) -> None:
    if state is None:
        state = EHRAppointmentState(appointment_id=appointment_id, practice_id=practice_id)
        session.add(state)
    state.version = change.version
    state.visit_reason_id = change.visit_reason_id
    state.intake_forms = list(change.intake_forms)
    state.is_group = change.group
    state.updated_at = now


def _keep_attendees(
    session: Session, practice_id: str, appointment_id: str, change: EHRChange, now: datetime
) -> list[tuple[str, str]]:
    """Bring the attendee rows to the change's; for a group, the check-ins and check-outs each
    attendee passed, as (EHR patient id, step). A single patient's steps are the
    appointment's own, already counted."""
    held = {
        row.ehr_patient_id: row
        for row in session.scalars(
            select(Attendee).where(Attendee.appointment_id == appointment_id)
        )
    }
    steps: list[tuple[str, str]] = []
    for attendee in change.attendees:
        status = STATUS_OF[attendee.state]
        row = held.get(attendee.patient_id)
        if row is None:
            row = Attendee(
                appointment_id=appointment_id,
                ehr_patient_id=attendee.patient_id,
                practice_id=practice_id,
                status=AppointmentStatus.BOOKED,
                patient_id=None,
            )
            session.add(row)
        if change.group:
            steps.extend(
                (attendee.patient_id, step)
                for step in lifecycle_steps(row.status, status)
                if step in ("checkin", "checkout")
            )
        row.status = status
        row.updated_at = now
    return steps


_EVENTS: dict[str, type[ConfirmEvent | DeclineEvent | CancelEvent]] = {
    "confirm": ConfirmEvent,
    "decline": DeclineEvent,
    "cancel": CancelEvent,
}


def _lifecycle_event(
    step: str, practice_id: str, appointment_id: str, attendee: str | None = None
) -> LifecycleEvent:
    if step == "checkin":
        return CheckinEvent(
            practice_id=practice_id, appointment_id=appointment_id, attendee=attendee
        )
    if step == "checkout":
        return CheckoutEvent(
            practice_id=practice_id, appointment_id=appointment_id, attendee=attendee
        )
    return _EVENTS[step](practice_id=practice_id, appointment_id=appointment_id)
