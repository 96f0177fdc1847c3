"""What the core keeps of the EHR's changes: which it has seen, where each appointment stands in
the EHR, who attends it, and how far the feed has been read.

None of these rows holds patient data: ids, versions, states and form names only. (A change's
``staff_reason`` is free text staff wrote, handled as patient data, and never stored here.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from integration_core.records import AppointmentStatus
from integration_core.store.tables import Base, enum_column

__all__ = ["Attendee", "ChangeSeen", "EHRAppointmentState", "FeedCursor"]


class ChangeSeen(Base):
    """One EHR change, recorded once however often it arrives (webhook, poll, redelivery), with
    what came of it: ``applied``, ``stale`` (a higher version was already applied),
    ``unmapped`` (a provider or location the configuration does not know) or ``deferred``."""

    __tablename__ = "ehr_changes"
    __table_args__ = (
        Index("ix_ehr_changes_appointment", "practice_id", "ehr_appointment_id", "outcome"),
    )

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    change_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ehr_appointment_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(8))
    """``webhook`` or ``poll``: how it first arrived."""
    outcome: Mapped[str] = mapped_column(String(24))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    appointment_id: Mapped[str | None] = mapped_column(String(32))
    """The local appointment it was applied to."""
    deferred: Mapped[dict[str, Any] | None]
    """A ``deferred`` change, to apply once its appointment is linked (the change without
    ``staff_reason``)."""
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]


class EHRAppointmentState(Base):
    """Where a local appointment stands in the EHR: the highest version applied, and what the
    EHR adds to it (its visit reason, the intake forms asked for, whether it is a group)."""

    __tablename__ = "ehr_appointments"

    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    visit_reason_id: Mapped[str | None] = mapped_column(String(64))
    intake_forms: Mapped[list[str]] = mapped_column(JSON)
    is_group: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class Attendee(Base):
    """A patient of an appointment, by their EHR id, in their own state: one row for a
    single-patient appointment, one per patient of a group. ``patient_id`` is the booking
    platform's record of them, once it has one."""

    __tablename__ = "appointment_attendees"

    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    ehr_patient_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[AppointmentStatus] = enum_column(AppointmentStatus)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class FeedCursor(Base):
    """How far a practice's change feed has been read, and who reads it next: a poller claims
    the row until ``claimed_until``, so one reads at a time, and reads again at
    ``next_poll_at``."""

    __tablename__ = "ehr_feed_cursors"

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(512))
    following_since: Mapped[datetime]
    """When practice-sync began following this EHR's feed — or began again, the EHR having
    refused the stored cursor: changes made before are history."""
    next_poll_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
