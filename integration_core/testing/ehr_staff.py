"""``EHRStaff``: the hands of an EHR's staff, as the adapter contract needs them.

An adapter's ``read_changes``, ``parse_webhook`` and ``read_patient`` report what a practice's
staff did in the EHR's own screens. To prove them, :class:`EHRAdapterContract` must do those
things to the same EHR its ``ehr_adapter`` reads, and then see what the EHR sent. A test class
provides this protocol as the ``ehr_staff`` fixture, over whatever the EHR offers for it (a staff
API, a fake EHR's own methods, a browser driver).

Ids are the EHR's, as the adapter reports them (a visit reason's id is
``EHRVisitReason.id``); times carry their offset. An action the EHR refuses raises whatever the
driver raises: the contract only asks for actions the EHR allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

__all__ = ["EHRStaff", "NewPatientContact", "SentWebhook"]


class NewPatientContact(BaseModel):
    """A patient as staff enter them: demographics, how they may be reached, and which
    messages they agreed to (what ``read_patient`` must then answer, with the EHR's id)."""

    model_config = ConfigDict(frozen=True)

    first_name: str
    last_name: str
    date_of_birth: date
    sex: str | None
    email: str | None
    mobile_phone: str | None
    email_allowed: bool
    sms_allowed: bool


class SentWebhook(NamedTuple):
    """One webhook as the EHR sent it: its headers and its body, byte for byte."""

    headers: Mapping[str, str]
    body: bytes


class EHRStaff(Protocol):
    """What staff do to appointments and patients in the EHR, and the webhooks it then sent.

    Each action is one decision, which the EHR records as one change."""

    def confirm(
        self,
        appointment_id: str,
        *,
        visit_reason_id: str,
        start: datetime | None = None,
        intake_forms: Sequence[str] = (),
    ) -> None:
        """Confirm a tentative appointment as ``visit_reason_id`` (so its duration becomes the
        reason's), moved to ``start`` if given, asking the patient for ``intake_forms``."""
        ...

    def decline(self, appointment_id: str, *, reason: str) -> None:
        """Decline a tentative appointment, telling the patient ``reason``."""
        ...

    def cancel(self, appointment_id: str, *, reason: str) -> None:
        """Cancel a tentative or confirmed appointment, telling the patient ``reason``."""
        ...

    def reschedule(self, appointment_id: str, *, start: datetime) -> None:
        """Move an appointment to ``start``, keeping its duration."""
        ...

    def check_in(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        """Check the patient in; for a group appointment, the attendee ``patient_id``."""
        ...

    def check_out(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        """Check a checked-in patient out (``patient_id``: the attendee, for a group)."""
        ...

    def no_show(self, appointment_id: str, *, patient_id: str | None = None) -> None:
        """Mark a confirmed patient as not come (``patient_id``: the attendee, for a group)."""
        ...

    def add_patient(self, patient: NewPatientContact) -> str:
        """Enter a patient with their contact details and preferences; their id."""
        ...

    def book(
        self,
        *,
        patient_id: str,
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: str,
        telehealth: bool = False,
    ) -> str:
        """Book a confirmed appointment directly (as for a patient on the phone), lasting the
        visit reason's duration; its id."""
        ...

    def book_group(
        self,
        *,
        patient_ids: Sequence[str],
        provider_id: str,
        location_id: str,
        start: datetime,
        visit_reason_id: str,
    ) -> str:
        """Book one confirmed, in-person appointment for several patients; its id."""
        ...

    def webhooks_sent(self) -> list[SentWebhook]:
        """Every webhook the EHR has sent the adapter's receiver since the test began, oldest
        first, once it has sent those of every change made so far (a driver whose EHR sends
        them later makes it send them, or waits for them with a bounded timeout). They are
        signed with the secret ``ehr_adapter`` verifies with, at about the time they were
        sent."""
        ...
