"""How to reach a patient: the shape the booking platform answers ``patient_contact`` with.

Patient records are the booking platform's (it owns their data); the core and the other
plugins ask for what they need through the ``patient_contact`` hook, by the record's id (the
one an appointment's attendee row carries), and never copy it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["PatientContact"]


class PatientContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    patient_id: str
    first_name: str
    last_name: str
    email: str | None
    mobile_phone: str | None
    email_allowed: bool
    """The patient agreed to messages by email."""
    sms_allowed: bool
    """The patient agreed to text messages on ``mobile_phone``."""
