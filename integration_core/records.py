"""The shared records both sides meet on: appointment requests and appointments.

A *request* is the form a patient submitted (demographics, consents, insurance, notes, the
chosen slot) — it owns PHI, and only this table and the booking platform's patients hold it.
An *appointment* is the time a provider is taken, whatever its origin (the widget, the EHR,
anything else); it holds no PHI. The no-double-booking rule lives in
:mod:`integration_core.booking`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integration_core.store.tables import Base, enum_column

__all__ = [
    "ACTIVE_STATUSES",
    "Appointment",
    "AppointmentRequest",
    "AppointmentStatus",
    "Origin",
    "ProviderLock",
    "SyncState",
]


class AppointmentStatus(enum.StrEnum):
    REQUESTED = "requested"
    TENTATIVE = "tentative"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    DECLINED = "declined"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    NO_SHOW = "no_show"


ACTIVE_STATUSES = tuple(
    s
    for s in AppointmentStatus
    if s not in (AppointmentStatus.CANCELLED, AppointmentStatus.DECLINED)
)
"""Every status that takes the provider's time (a no-show's time was taken all the same)."""


class Origin(enum.StrEnum):
    WIDGET = "widget"
    EHR = "ehr"
    OTHER = "other"


class SyncState(enum.StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    SYNC_FAILED = "sync_failed"


class ProviderLock(Base):
    """One row per provider, locked while a booking checks for overlaps and inserts."""

    __tablename__ = "provider_locks"

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_provider_time", "practice_id", "provider_id", "start_at"),
        # staff lists and alerts count what waits in a status, whatever the history's size
        Index("ix_appointments_practice_status", "practice_id", "status", "request_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    reason_id: Mapped[str | None] = mapped_column(String(64))
    reason_name: Mapped[str | None] = mapped_column(String(120))
    """The reason's name as the patient saw it (staff messages show it; never PHI)."""
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[AppointmentStatus] = enum_column(AppointmentStatus)
    origin: Mapped[Origin] = enum_column(Origin)
    virtual: Mapped[bool] = mapped_column(Boolean, default=False)
    request_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AppointmentRequest(Base):
    """The submitted booking form. Owns PHI: never log, emit or copy these columns."""

    __tablename__ = "appointment_requests"
    __table_args__ = (
        Index("ix_appointment_requests_practice_created", "practice_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(16))
    new_patient: Mapped[bool] = mapped_column(Boolean)
    insurance_carrier: Mapped[str | None] = mapped_column(String(120))
    insurance_member_id: Mapped[str | None] = mapped_column(String(64))
    insurance_group: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    referral_source: Mapped[str | None] = mapped_column(String(120))
    privacy_consent_at: Mapped[datetime]
    privacy_policy_version: Mapped[str] = mapped_column(String(32))
    sms_consent_at: Mapped[datetime | None]
    sms_policy_version: Mapped[str | None] = mapped_column(String(32))
    sync_state: Mapped[SyncState] = enum_column(SyncState)
    sync_error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
