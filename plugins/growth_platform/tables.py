"""The booking platform's own tables: provider calendars and time blocks (data, not config),
its patient records, the EHR syncs that failed for good, the EHR changes the core could not
apply, and the appointments cancelled here only."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from integration_core.api import Base

__all__ = [
    "Calendar",
    "LocalCancellation",
    "Patient",
    "SyncFailure",
    "TimeBlock",
    "UnmappedChange",
]


class Calendar(Base):
    """When a provider takes online bookings at one location.

    ``days`` maps ``mon`` … ``sun`` to ``{"enabled": bool, "ranges": [["09:00", "12:00"], …]}``;
    a day that is enabled with no ranges is open from ``day_start`` to ``day_end``.
    """

    __tablename__ = "gp_calendars"
    __table_args__ = (UniqueConstraint("practice_id", "provider_id", "location_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    slot_minutes: Mapped[int] = mapped_column(Integer)
    day_start: Mapped[str] = mapped_column(String(5))
    day_end: Mapped[str] = mapped_column(String(5))
    min_notice_minutes: Mapped[int] = mapped_column(Integer)
    horizon_days: Mapped[int] = mapped_column(Integer)
    days: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))

    @property
    def days_json(self) -> str:
        """``days`` as canonical JSON (slot computation keys its caches on it)."""
        return json.dumps(self.days, sort_keys=True, separators=(",", ":"))


class TimeBlock(Base):
    """Time taken off one calendar (provider at location), e.g. one blocked slot."""

    __tablename__ = "gp_time_blocks"
    __table_args__ = (
        Index("ix_gp_time_blocks_lookup", "practice_id", "provider_id", "start_at"),
        UniqueConstraint("practice_id", "provider_id", "location_id", "start_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class Patient(Base):
    """The booking platform's own patient record (owns PHI). Records are never merged: a
    request whose patient matched several EHR records gets a new one here too.

    A practice has at most one record in use per EHR patient (a unique index over the records
    not archived), so a request attached to an EHR patient and an appointment staff made in
    the EHR for them meet on the same record. An archived record is kept — its appointments'
    messages still reach the patient — but is never matched again: the EHR patient's next
    appointment gets a new record."""

    __tablename__ = "gp_patients"
    __table_args__ = (
        Index(
            "uq_gp_patients_ehr_in_use",
            "practice_id",
            "ehr_patient_id",
            unique=True,
            sqlite_where=text("archived_at IS NULL"),
            postgresql_where=text("archived_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    mobile_phone: Mapped[str | None] = mapped_column(String(20))
    """E.164; where text messages go when ``sms_allowed``."""
    email_allowed: Mapped[bool] = mapped_column(Boolean)
    sms_allowed: Mapped[bool] = mapped_column(Boolean)
    ehr_patient_id: Mapped[str | None] = mapped_column(String(128))
    excluded_from_surveys: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SyncFailure(Base):
    """A request whose EHR sync failed for good, and the dead delivery that retries it (what
    ``practice-sync dead-letters replay`` takes). Kept while the request's sync state is
    failed: a sync that succeeds, after a replay, removes it."""

    __tablename__ = "gp_sync_failures"

    request_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str | None] = mapped_column(String(32))


class UnmappedChange(Base):
    """An appointment in the EHR whose changes the core could not apply because its provider
    or location is not configured: one row per EHR appointment, with its latest reason, until
    a change of it is applied. Ids and codes only, no patient data."""

    __tablename__ = "gp_unmapped_changes"
    __table_args__ = (UniqueConstraint("practice_id", "ehr_appointment_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    ehr_appointment_id: Mapped[str] = mapped_column(String(128))
    change_id: Mapped[str] = mapped_column(String(128))
    """The latest change not applied."""
    reason_code: Mapped[str] = mapped_column(String(64))
    ehr_id: Mapped[str] = mapped_column(String(128))
    """The EHR's id of the provider or location that is not configured."""
    changes: Mapped[int] = mapped_column(Integer)
    """How many of the appointment's changes were not applied."""
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class LocalCancellation(Base):
    """An appointment the practice cancelled in the booking platform only: ``cancelled`` by
    staff (the EHR's appointment stands), or ``released`` — the slot of a request whose EHR
    sync failed, which never reached the EHR. Its time is free for the widget again."""

    __tablename__ = "gp_cancellations"

    appointment_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    cancelled_at: Mapped[datetime]
    cancelled_by: Mapped[str] = mapped_column(String(128))
    """The staff token's name."""
