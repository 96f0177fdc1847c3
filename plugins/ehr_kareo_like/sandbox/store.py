"""The sandbox EHR's own database (any SQLAlchemy URL; SQLite by default).

It is a separate system from practice-sync's store on purpose: nothing here is reachable
except through the sandbox's REST API, as with a real EHR. A new sandbox is seeded with visit
reasons, go-live-ready practice settings and a directory of providers and locations
(:mod:`plugins.ehr_kareo_like.sandbox.directory`); the ``set_*`` methods change what an EHR's
staff would change in its screens (tests use them to stage each go-live problem).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from integration_core.api import UTCDateTime
from plugins.ehr_kareo_like.sandbox.directory import DEFAULT_DIRECTORY, Directory

__all__ = [
    "CommunicationSettings",
    "IdempotencyEntry",
    "OfficeHours",
    "PracticeSetting",
    "SandboxAppointment",
    "SandboxLocation",
    "SandboxPatient",
    "SandboxProvider",
    "SandboxStore",
    "VisitReason",
]

STATUSES = ("Tentative", "Confirmed", "Checked In", "Checked Out", "Cancelled")


class SandboxBase(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, date: Date}


class SandboxPatient(SandboxBase):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(index=True)
    sex: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class SandboxAppointment(SandboxBase):
    __tablename__ = "appointments"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(24), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    appointment_type: Mapped[str] = mapped_column(String(16))
    """"In Person" or "Telehealth"."""
    visit_reason_id: Mapped[int | None] = mapped_column(Integer)
    patient_note: Mapped[str] = mapped_column(Text)
    insurance_carrier: Mapped[str | None] = mapped_column(String(120))
    insurance_member_id: Mapped[str | None] = mapped_column(String(64))
    insurance_group: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


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

        SandboxBase.metadata.create_all(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._seed()
        if directory is not None:
            self.set_directory(directory)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
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
        """Delete every patient, appointment and idempotency key, keeping the practice's
        settings: a fresh EHR for the next test, without a new database."""
        with self.transaction() as session:
            for table in (IdempotencyEntry, SandboxAppointment, SandboxPatient):
                session.execute(delete(table))

    def dispose(self) -> None:
        self.engine.dispose()


def new_sandbox_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6).upper()}"


def now() -> datetime:
    return datetime.now(UTC)
