"""The booking form: its wire shape and the checks that need the practice's context.

Type errors are caught by the model; the rest — email syntax, phone numbers in the practice's
region, a plausible date of birth, consent, and the slot's fit with the practice's
configuration — are collected here so the patient sees every problem at once, each under its
field's name. Messages describe the rule and never repeat what was typed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool

from integration_core.api import (
    ApiError,
    BookingForm,
    BoundedDate,
    BoundedDatetime,
    Identifier,
    MultiLine,
    PracticeSettings,
    SingleLine,
)
from plugins.growth_platform.config import PracticeGrowthSettings
from plugins.growth_platform.contact import normal_email, normal_phone

__all__ = ["BookingBody", "to_form"]

Name = Annotated[str, SingleLine(max_length=100, not_blank=True)]
Short = Annotated[str, SingleLine(max_length=120)]
InsuranceId = Annotated[str, SingleLine(max_length=64)]
MAX_AGE_YEARS = 120


class BookingBody(BaseModel):
    """A booking request from the widget.

    Every text field is one line without control characters (``notes`` may have line breaks
    and tabs), names are not blank, dates lie between 1900 and 2999, and consents are JSON
    ``true`` or ``false`` only."""

    provider: Identifier = Field(description="provider slug, from the slot")
    location: Identifier = Field(description="location slug, from the slot")
    reason: Identifier = Field(description="reason-for-visit slug")
    start: BoundedDatetime = Field(description="the slot's start, as the slots endpoint gave it")
    virtual: bool = False
    first_name: Name
    last_name: Name
    email: Annotated[str, SingleLine(max_length=254, not_blank=True)]
    phone: Annotated[str, SingleLine(max_length=32, not_blank=True)]
    date_of_birth: BoundedDate
    sex: Literal["female", "male", "other", "unknown"]
    privacy_consent: StrictBool = Field(
        description="accepted the privacy policy and terms (required): JSON true or false only"
    )
    sms_consent: StrictBool = Field(
        default=False, description="agreed to feedback requests by text: JSON true or false only"
    )
    new_patient: bool = True
    insurance_carrier: Short | None = None
    insurance_member_id: InsuranceId | None = None
    insurance_group: InsuranceId | None = None
    notes: Annotated[str, MultiLine(max_length=2000)] | None = None
    heard_about: Short | None = Field(default=None, description="new patients only")


def _blank_to_none(value: str | None) -> str | None:
    return value or None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def to_form(
    body: BookingBody,
    practice: PracticeSettings,
    growth: PracticeGrowthSettings,
    today: date,
    errors: dict[str, str],
) -> BookingForm:
    """Validate what the model cannot and build the core's form, or raise one 422 with
    these and any earlier ``errors`` (the slot's), each under its field's name."""
    email = normal_email(body.email)
    if email is None:
        errors["email"] = "not a valid email address"
    phone = normal_phone(body.phone, practice.phone_region)
    if phone is None:
        errors["phone"] = f"not a valid phone number (region {practice.phone_region})"

    if body.date_of_birth >= today:
        errors["date_of_birth"] = "must be in the past"
    elif body.date_of_birth < _years_before(today, MAX_AGE_YEARS):
        errors["date_of_birth"] = f"must be at most {MAX_AGE_YEARS} years ago"

    if not body.privacy_consent:
        errors["privacy_consent"] = "the privacy policy and terms must be accepted"

    new_patient = body.new_patient if growth.separate_new_returning else True
    if body.heard_about and not new_patient:
        errors["heard_about"] = "only asked of new patients"

    if errors:
        raise ApiError(422, "invalid_request", "Some fields are not valid.", fields=errors)
    assert email is not None and phone is not None  # else refused above
    return BookingForm(
        first_name=body.first_name,
        last_name=body.last_name,
        email=email,
        phone=phone,
        date_of_birth=body.date_of_birth,
        sex=body.sex,
        new_patient=new_patient,
        privacy_policy_version=growth.policy_version,
        sms_consent=body.sms_consent,
        insurance_carrier=_blank_to_none(body.insurance_carrier),
        insurance_member_id=_blank_to_none(body.insurance_member_id),
        insurance_group=_blank_to_none(body.insurance_group),
        notes=_blank_to_none(body.notes),
        referral_source=_blank_to_none(body.heard_about) if new_patient else None,
    )
