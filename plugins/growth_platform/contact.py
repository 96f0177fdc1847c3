"""Email addresses and phone numbers as the booking platform keeps them: an email normalised
by ``email_validator`` (no deliverability lookup), a phone in E.164 read in the practice's
region. One reading for what a patient types in the widget, what staff correct and what the
EHR hands over, so a patient's number compares equal whichever way it came."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

__all__ = ["normal_email", "normal_phone"]


def normal_email(value: str) -> str | None:
    """``value`` normalised, or ``None`` when it is not an email address."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def normal_phone(value: str, region: str) -> str | None:
    """``value`` in E.164 (read as dialled in ``region``), or ``None`` when it is not a valid
    phone number."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
