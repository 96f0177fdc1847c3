"""Booking a request end to end through the core: submitted, synced to the EHR, looked up.

:func:`book_end_to_end` needs nothing but the core and the practice's EHR adapter (no booking
platform plugin), so an adapter author can prove their adapter carries a real request into a
tentative EHR appointment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.booking import BookingForm, Submitted, submit_request
from integration_core.ehr.matching import Match
from integration_core.ehr.sync import PLUGIN as EHR_SYNC
from integration_core.ehr.sync import SyncDecision
from integration_core.links import EHR_SYSTEM, external_id
from integration_core.records import Appointment, AppointmentStatus
from integration_core.store import Delivery
from integration_core.testing.dispatch import drain

if TYPE_CHECKING:
    from integration_core.runtime import Runtime

__all__ = ["TEST_FORM", "EndToEndBooking", "SyncDidNotHappen", "book_end_to_end"]

TEST_FORM = BookingForm(
    first_name="Kit",
    last_name="Endtoend",
    email="kit.endtoend@example.com",
    phone="+16175550123",
    date_of_birth=date(1933, 3, 3),
    sex="female",
    new_patient=True,
    privacy_policy_version="test",
    sms_consent=False,
)
"""The demographics :func:`book_end_to_end` submits unless the caller overrides fields."""


class SyncDidNotHappen(AssertionError):
    """The request was stored but is not a tentative appointment in the EHR.

    ``status`` and ``error_code`` are those of the request's ``ehr_sync`` delivery (``None``
    when there is no such delivery).
    """

    def __init__(self, message: str, *, status: str | None, error_code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


@dataclass(frozen=True)
class EndToEndBooking:
    """What :func:`book_end_to_end` made: the local records and what the EHR sync linked."""

    request_id: str
    appointment: Appointment
    """The local appointment, as read after the sync (a detached row)."""
    ehr_appointment_id: str
    match: Match
    """How the patient was matched in the EHR: new, attached or ambiguous."""

    @property
    def status(self) -> AppointmentStatus:
        return self.appointment.status


def book_end_to_end(
    runtime: Runtime,
    *,
    practice_id: str,
    provider_id: str,
    location_id: str,
    start: datetime,
    duration: timedelta = timedelta(minutes=30),
    reason_id: str = "checkup",
    virtual: bool = False,
    **form: Any,
) -> EndToEndBooking:
    """Submit a booking request through the core, run the deliveries, return what was synced.

    The request is stored with :func:`integration_core.booking.submit_request` (the service the
    booking platform uses) with :data:`TEST_FORM`'s demographics, changed by ``form``
    (``first_name="Ann"``, ``date_of_birth=date(1980, 2, 29)``, any field of
    :class:`~integration_core.booking.BookingForm`). Then :func:`drain` runs the deliveries, so
    the ``ehr_sync`` plugin writes to whatever adapter the practice uses — the one its
    ``ehr_adapter`` setting builds, or one a test set with ``runtime.ehr.use``.

    :param start: an aware datetime; the appointment lasts ``duration``.
    :raises SyncDidNotHappen: (an ``AssertionError``) naming the ``ehr_sync`` delivery's status
        and last error code when the request did not become an EHR appointment.

    Example, against an adapter under test::

        def test_a_request_becomes_a_tentative_appointment(ps_runtime_factory):
            runtime = ps_runtime_factory(
                practices={"acme": {**TEST_PRACTICE, "ehr_adapter": "my_ehr"}},
                plugins={"enabled": [*BUILT_IN_PLUGINS, "my_ehr"]},
            )
            runtime.ehr.use("acme", MyEHRAdapter(...))
            booked = book_end_to_end(
                runtime,
                practice_id="acme",
                provider_id="dr_lee",
                location_id="downtown",
                start=datetime(2031, 5, 6, 14, 0, tzinfo=UTC),
            )
            assert booked.status is AppointmentStatus.TENTATIVE
            assert booked.match is Match.NEW
    """
    with runtime.db.transaction() as session:
        submitted = submit_request(
            session,
            runtime.outbox,
            practice_id=practice_id,
            provider_id=provider_id,
            location_id=location_id,
            reason_id=reason_id,
            start=start,
            end=start + duration,
            virtual=virtual,
            form=dataclasses.replace(TEST_FORM, **form),
            now=runtime.clock.now(),
        )
    drain(runtime)
    with runtime.db.read() as session:
        ehr_appointment_id = external_id(
            session,
            practice_id=practice_id,
            entity="appointment",
            local=submitted.appointment_id,
            system=EHR_SYSTEM,
        )
        if ehr_appointment_id is None:
            raise _not_synced(runtime, session, submitted)
        appointment = session.get_one(Appointment, submitted.appointment_id)
        decision = session.get_one(SyncDecision, (practice_id, submitted.request_id))
    return EndToEndBooking(
        request_id=submitted.request_id,
        appointment=appointment,
        ehr_appointment_id=ehr_appointment_id,
        match=Match(decision.outcome),
    )


def _not_synced(runtime: Runtime, session: Session, submitted: Submitted) -> SyncDidNotHappen:
    """Why the submitted request has no EHR appointment, read from its ``ehr_sync`` delivery."""
    delivery = session.scalar(
        select(Delivery).where(Delivery.event_id == submitted.event_id, Delivery.plugin == EHR_SYNC)
    )
    if delivery is None:
        return SyncDidNotHappen(
            f"request {submitted.request_id} was not synced: no {EHR_SYNC} delivery was made "
            f"(is the {EHR_SYNC} plugin loaded? see plugins.enabled)",
            status=None,
            error_code=None,
        )
    status = delivery.status.value
    if runtime.settings.practice(delivery.practice_id).ehr_adapter is None:
        reason = f"practices.{delivery.practice_id}.ehr_adapter is not set"
    elif delivery.last_error_code is None:
        reason = "no error recorded"
    else:
        reason = f"last error {delivery.last_error_code}: {delivery.last_error}"
    return SyncDidNotHappen(
        f"request {submitted.request_id} was not synced: its {EHR_SYNC} delivery is {status} "
        f"after {delivery.attempts} attempt(s); {reason}",
        status=status,
        error_code=delivery.last_error_code,
    )
