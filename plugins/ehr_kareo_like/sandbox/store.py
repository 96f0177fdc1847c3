"""The sandbox EHR's own database (any SQLAlchemy URL; SQLite by default).

It is a separate system from practice-sync's store on purpose: nothing here is reachable
except through the sandbox's REST API, as with a real EHR. A new sandbox is seeded with visit
reasons, go-live-ready practice settings and a directory of providers and locations
(:mod:`plugins.ehr_kareo_like.sandbox.directory`); the ``set_*`` methods change what an EHR's
staff would change in its screens (tests use them to stage each go-live problem).

Writes take turns (:meth:`SandboxStore.transaction`): one at a time in this process, and on
PostgreSQL one at a time across processes too. That is what lets the change feed number changes
in commit order, and what makes a check-then-write such as "no confirmed appointment overlaps
this one" hold until the write commits.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    select,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool

from integration_core.api import UTCDateTime
from plugins.ehr_kareo_like.sandbox.directory import DEFAULT_DIRECTORY, Directory

__all__ = [
    "ACTIVE_STATUSES",
    "STATUSES",
    "AppointmentStatus",
    "AppointmentType",
    "CommunicationSettings",
    "IdempotencyEntry",
    "OfficeHours",
    "PracticeSetting",
    "SandboxAppointment",
    "SandboxAttendee",
    "SandboxBase",
    "SandboxLocation",
    "SandboxPatient",
    "SandboxProvider",
    "SandboxStore",
    "TimeBlock",
    "VisitReason",
    "new_sandbox_id",
    "now",
]

AppointmentStatus = Literal[
    "Tentative", "Confirmed", "Declined", "Cancelled", "Checked In", "Checked Out", "No Show"
]
"""An appointment's status, or one attendee's (who is never ``Tentative`` or ``Declined``
alone)."""
STATUSES: tuple[AppointmentStatus, ...] = get_args(AppointmentStatus)
AppointmentType = Literal["In Person", "Telehealth"]
ACTIVE_STATUSES = ("Tentative", "Confirmed", "Checked In")
"""An appointment in one of these still holds its provider's time."""

SETUP_TABLES = frozenset(
    {
        "visit_reasons",
        "providers",
        "locations",
        "office_hours",
        "patient_communications",
        "practice_settings",
        "webhook_subscribers",
    }
)
"""The practice's set-up, which :meth:`SandboxStore.forget_records` keeps; every other table
holds records."""

WRITE_LOCK_KEY = 0x5A4E_D0C5
"""The PostgreSQL advisory lock every write transaction holds until it ends."""

_writes = threading.Lock()
"""Held by every write transaction in this process (see :meth:`SandboxStore.transaction`)."""


class SandboxBase(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
        date: Date,
    }


class SandboxPatient(SandboxBase):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(index=True)
    sex: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    mobile_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    email_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    """The patient agreed to messages by email."""
    sms_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    """The patient agreed to text messages on ``mobile_phone``."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class SandboxAppointment(SandboxBase):
    """An appointment and its patients (:class:`SandboxAttendee`, one or, for a group, more).

    ``version`` counts its changes: each is recorded by
    :func:`plugins.ehr_kareo_like.sandbox.changes.record_change`, which alone moves it on."""

    __tablename__ = "appointments"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(24), index=True)
    """The patient of a single-patient appointment; ``None`` for a group."""
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    location_id: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(index=True)
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    appointment_type: Mapped[str] = mapped_column(String(16))
    """"In Person" or "Telehealth"."""
    telehealth_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    """The patient asked for a virtual visit: staff may only confirm it as Telehealth."""
    visit_reason_id: Mapped[int | None] = mapped_column(Integer)
    requested_reason: Mapped[str | None] = mapped_column(String(100), default=None)
    """The visit reason the patient chose on the booking platform (its id there)."""
    intake_forms: Mapped[list[str]] = mapped_column(default=list)
    staff_reason: Mapped[str | None] = mapped_column(Text, default=None)
    """What staff wrote when declining or cancelling."""
    group: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    patient_note: Mapped[str] = mapped_column(Text)
    insurance_carrier: Mapped[str | None] = mapped_column(String(120))
    insurance_member_id: Mapped[str | None] = mapped_column(String(64))
    insurance_group: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    attendees: Mapped[list[SandboxAttendee]] = relationship(
        order_by="SandboxAttendee.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def duration_minutes(self) -> int:
        return round((self.end_at - self.start_at).total_seconds() / 60)


class SandboxAttendee(SandboxBase):
    """One patient of an appointment, with their own status: a group's patients check in and
    out on their own, a single patient's status is the appointment's."""

    __tablename__ = "attendees"

    appointment_id: Mapped[str] = mapped_column(
        String(24), ForeignKey("appointments.id"), primary_key=True
    )
    patient_id: Mapped[str] = mapped_column(String(24), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    """The order staff named the patients in."""
    status: Mapped[str] = mapped_column(String(16))


class TimeBlock(SandboxBase):
    """Time a provider is not bookable (a meeting, a lunch): no appointment is confirmed,
    moved or booked into it."""

    __tablename__ = "time_blocks"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class VisitReason(SandboxBase):
    __tablename__ = "visit_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    """``None``: no default length (staff set it per appointment)."""
    color: Mapped[str] = mapped_column(String(7))


class SandboxProvider(SandboxBase):
    """A provider in the EHR's directory; appointments name one."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class SandboxLocation(SandboxBase):
    """A location (office) in the EHR's directory; appointments name one."""

    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class OfficeHours(SandboxBase):
    __tablename__ = "office_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))


class CommunicationSettings(SandboxBase):
    """A provider's patient-communication cadence: reminders before the appointment."""

    __tablename__ = "patient_communications"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    reminders: Mapped[dict[str, Any]]
    """``{"offsets_minutes": [4320, 1440, 120], "channels": ["email", "sms"]}``."""


class PracticeSetting(SandboxBase):
    """The practice-wide switches a go-live preflight reads."""

    __tablename__ = "practice_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    surveys_enabled: Mapped[bool] = mapped_column(Boolean)
    online_scheduler_enabled: Mapped[bool] = mapped_column(Boolean)
    provider_profiles_published: Mapped[bool] = mapped_column(Boolean)
    online_presence_enabled: Mapped[bool] = mapped_column(Boolean)
    intake_forms_enabled: Mapped[bool] = mapped_column(Boolean)


class IdempotencyEntry(SandboxBase):
    """A create's key, per endpoint: the same key returns the same resource."""

    __tablename__ = "idempotency_keys"

    endpoint: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]


DEFAULT_REASONS = [
    (1, "New patient visit", 45, "#1f77b4"),
    (2, "Follow-up", 20, "#2ca02c"),
    (3, "Annual physical", 30, "#ff7f0e"),
    (4, "Telehealth consult", 20, "#9467bd"),
    (5, "Other (length set by staff)", None, "#7f7f7f"),
]


class SandboxStore:
    """The sandbox EHR's database at ``url``; ``directory`` replaces its providers and
    locations (a new database starts with :data:`DEFAULT_DIRECTORY`)."""

    def __init__(self, url: str, *, directory: Directory | None = None) -> None:
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        # In memory: one connection holds the database, so transactions take turns on it.
        self._turns: AbstractContextManager[object] = (
            threading.Lock() if in_memory else nullcontext()
        )
        self.engine = create_engine(
            url,
            connect_args=connect_args,
            hide_parameters=True,
            **({"poolclass": StaticPool} if in_memory else {}),
        )
        if url.startswith("sqlite"):

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()

        # The change and webhook tables live beside the code that writes them; importing
        # those modules makes their tables part of what a new database is created with.
        from plugins.ehr_kareo_like.sandbox import changes, outbound  # noqa: F401

        SandboxBase.metadata.create_all(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._seed()
        if directory is not None:
            self.set_directory(directory)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction, committed when the block ends (rolled back on an exception).
        Write transactions take turns — in this process, and on PostgreSQL across processes —
        so each sees every write committed before it began and commits before the next one
        starts."""
        with _writes, self._turns, self.sessions() as session, session.begin():
            if self.engine.dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads, and so waits for no write."""
        with self._turns, self.sessions() as session, session.begin():
            yield session

    def _seed(self) -> None:
        with self.transaction() as session:
            if session.scalar(select(VisitReason.id).limit(1)) is None:
                for id_, name, minutes, color in DEFAULT_REASONS:
                    session.add(
                        VisitReason(id=id_, name=name, duration_minutes=minutes, color=color)
                    )
            if (
                session.scalar(select(SandboxProvider.id).limit(1)) is None
                and session.scalar(select(SandboxLocation.id).limit(1)) is None
            ):
                self._write_directory(session, DEFAULT_DIRECTORY)
            if session.get(PracticeSetting, 1) is None:
                session.add(
                    PracticeSetting(
                        id=1,
                        surveys_enabled=False,
                        online_scheduler_enabled=False,
                        provider_profiles_published=False,
                        online_presence_enabled=False,
                        intake_forms_enabled=True,
                    )
                )

    def set_directory(self, directory: Directory) -> None:
        """Make the EHR's providers and locations exactly these."""
        with self.transaction() as session:
            session.execute(delete(SandboxProvider))
            session.execute(delete(SandboxLocation))
            self._write_directory(session, directory)

    @staticmethod
    def _write_directory(session: Session, directory: Directory) -> None:
        session.add_all(SandboxProvider(id=i, name=n) for i, n in directory.providers.items())
        session.add_all(SandboxLocation(id=i, name=n) for i, n in directory.locations.items())

    def set_practice_settings(self, **switches: bool) -> None:
        """Flip practice-wide switches (``surveys_enabled=True``, …), as staff would."""
        with self.transaction() as session:
            row = session.get_one(PracticeSetting, 1)
            for name, value in switches.items():
                if name not in PracticeSetting.__table__.columns or name == "id":
                    raise ValueError(f"no practice setting {name!r}")
                setattr(row, name, value)

    def set_patient_communications(self, provider_id: str, *, enabled: bool) -> None:
        """Turn a provider's patient communications on or off (default cadence kept)."""
        with self.transaction() as session:
            row = session.get(CommunicationSettings, provider_id)
            if row is None:
                row = CommunicationSettings(
                    provider_id=provider_id,
                    enabled=enabled,
                    reminders={"offsets_minutes": [4320, 1440, 120], "channels": ["email", "sms"]},
                )
                session.add(row)
            row.enabled = enabled

    def add_visit_reason(self, reason_id: int, name: str, duration_minutes: int | None) -> None:
        with self.transaction() as session:
            session.add(
                VisitReason(
                    id=reason_id, name=name, duration_minutes=duration_minutes, color="#8c564b"
                )
            )

    def forget_records(self) -> None:
        """Delete every patient, appointment, time block, change, webhook delivery and
        idempotency key, keeping the practice's set-up (:data:`SETUP_TABLES`): a fresh EHR
        for the next test, without a new database. Change numbers are never reused, so a
        cursor from before is one the feed never gave."""
        with self.transaction() as session:
            for table in reversed(SandboxBase.metadata.sorted_tables):
                if table.name not in SETUP_TABLES:
                    session.execute(delete(table))

    def dispose(self) -> None:
        self.engine.dispose()


def new_sandbox_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6).upper()}"


def now() -> datetime:
    return datetime.now(UTC)
