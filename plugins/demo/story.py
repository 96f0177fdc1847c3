"""The demo's story: three patients book on the widget, and each request becomes a tentative
appointment in the EHR while messages land in a folder; then the practice's staff decide in
the EHR, and its webhooks bring each decision back.

One patient is new to the practice, one is in the EHR once and one's name and birth date match
two EHR records, so the core's matching policy shows each outcome (new, attached, ambiguous →
new). The demo speaks to the product only as a user would: it starts ``practice-sync migrate``,
the sandbox EHR server (subscribed to the practice's webhook route) and ``practice-sync run``
as processes, books over HTTP, acts as staff through the EHR's staff API, and reads what
happened back from the stores (:mod:`plugins.demo.timeline`, :mod:`plugins.demo.decisions`).

The practice is the demo's own (:data:`STORY_CONFIG`), or, with ``--config``, the configured
one — its locations, providers, reasons and calendars — but always on a scratch database in
the demo's folder, with the sandbox EHR (given the configuration's provider and location ids)
and the file channel for every practice: a demo never reaches a real EHR, a real patient or
the configured database.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click
import httpx
from sqlalchemy import select

from integration_core.api import AppointmentRequest, Database, Settings, SyncState
from plugins.demo.configuration import (
    Secrets,
    choose_practice,
    ehr_ids,
    environment,
    read_config,
    sandbox_directory,
)
from plugins.demo.decisions import FAMILY, Stage, tell_decisions
from plugins.demo.messages import MessageFolder
from plugins.demo.processes import Children, free_port, wait_for
from plugins.demo.progress import Progress
from plugins.demo.sandbox import SandboxEHR
from plugins.demo.timeline import tell_timeline
from plugins.demo.widget import DAYS_AHEAD, Slot, first_reason, open_slots
from plugins.ehr_kareo_like.sandbox.staff_client import StaffClient

__all__ = ["PATIENTS", "PRACTICE", "STORY_CONFIG", "Patient", "run_story", "story_settings"]

PRACTICE = "demo_clinic"
WAIT_SECONDS = 60.0
WEBHOOK_MAX_BACKOFF_SECONDS = 1
"""A webhook refused (practice-sync not up yet, or busy) is tried again within a second."""

STORY_CONFIG = """\
# The demo's practice (`practice-sync demo` writes this file; its EHR address, API key, webhook
# secret and database are set in the environment of the processes it starts).

[practices.demo_clinic]
name = "Demo Family Clinic"
ehr_adapter = "kareo_like"

[practices.demo_clinic.locations.main]
name = "Main Street"
time_zone = "America/New_York"

[practices.demo_clinic.providers.dr_lee]
name = "Dr. Lee"
ehr_id = "1001"
locations = ["main"]

[plugins.config.growth_platform.practices.demo_clinic.reasons.checkup]
name = "Checkup"
providers = ["dr_lee"]
locations = ["main"]

[plugins.config.growth_platform.practices.demo_clinic.calendars.dr_lee.main]
min_notice_minutes = 60
days.mon = { enabled = true, ranges = [["09:00", "12:00"], ["13:00", "17:00"]] }
days.tue = { enabled = true, ranges = [["09:00", "12:00"], ["13:00", "17:00"]] }
days.wed = { enabled = true, ranges = [["09:00", "12:00"], ["13:00", "17:00"]] }
days.thu = { enabled = true, ranges = [["09:00", "12:00"], ["13:00", "17:00"]] }
days.fri = { enabled = true, ranges = [["09:00", "12:00"], ["13:00", "17:00"]] }

[plugins.config.notifications.practices.demo_clinic]
alert_emails = ["frontdesk@demo-clinic.example"]
alert_phones = ["+16175550100"]
"""
"""The demo's own practice: one doctor, weekday calendars, email and text alerts."""


def story_settings() -> Settings:
    """The demo's practice as settings (what its EHR must know: ``practice(PRACTICE)``)."""
    return Settings(**tomllib.loads(STORY_CONFIG))


@dataclass(frozen=True)
class Patient:
    first_name: str
    last_name: str
    born: date
    story: str
    on_file: int
    """How many records the EHR holds for this name and birth date before the booking."""

    @property
    def initials(self) -> str:
        return f"{self.first_name[0]}.{self.last_name[0]}."

    @property
    def email(self) -> str:
        return f"{self.first_name.lower()}@example.com"


PATIENTS = (
    Patient("Olivia", "Bennett", date(1990, 4, 12), "new to the practice", on_file=0),
    Patient("Maria", "Garcia", date(1975, 9, 3), "in the EHR once", on_file=1),
    Patient("Sam", "Lee", date(1988, 1, 20), "in the EHR twice", on_file=2),
)


def run_story(
    folder: Path,
    say: Callable[[str], None],
    *,
    config: Path | None = None,
    practice: str | None = None,
) -> None:
    """Tell the story in ``folder`` (emptied of an earlier run's files first)."""
    folder = folder.resolve()
    _fresh(folder)
    if config is None:
        config = folder / "demo-story.toml"
        config.write_text(STORY_CONFIG)
    config = config.resolve()
    document = read_config(config)
    practices = sorted(document.get("practices", {}))
    practice = choose_practice(practices, practice, config)
    directory = sandbox_directory(document, folder / "sandbox-directory.toml")
    ehr_port, http_port = free_port(), free_port()
    ehr_url, base_url = f"http://127.0.0.1:{ehr_port}", f"http://127.0.0.1:{http_port}"
    keys = Secrets.fresh()
    env = environment(
        config, practices, practice, folder, http_port=http_port, ehr_url=ehr_url, keys=keys
    )
    children = Children(folder, env)
    database = Database(f"sqlite:///{folder / 'practice-sync.db'}")
    ehr = SandboxEHR(ehr_url, keys.api_key)
    staff = StaffClient(ehr_url, keys.api_key)
    web = httpx.Client(base_url=base_url, timeout=30)
    progress = Progress(web, ehr, practice=practice, token=keys.metrics_token)
    messages = MessageFolder(folder, _names())
    try:
        say(f"practice {practice} from {config}; databases, messages and logs in {folder}")
        children.run("migrate", "migrate")
        children.start(
            "sandbox-ehr",
            "sandbox-ehr",
            "--port",
            str(ehr_port),
            "--database-url",
            f"sqlite:///{folder / 'sandbox-ehr.db'}",
            "--webhook",
            f"{base_url}/v1/practices/{practice}/ehr/changes",
            "--webhook-max-backoff",
            str(WEBHOOK_MAX_BACKOFF_SECONDS),
            *directory,
            ready_url=f"{ehr_url}/healthz",
        )
        children.start("run", "run", ready_url=f"{base_url}/readyz")
        say(f"practice-sync runs at {base_url} (API docs: {base_url}/docs), the EHR at {ehr_url}")
        before = _on_file(ehr, say)
        booked = _book(web, practice, say)
        _wait_until_done(database, progress, booked)
        tell_timeline(
            database,
            ehr,
            web,
            practice=practice,
            staff_token=keys.staff_token,
            before=before,
            messages=messages,
            say=say,
        )
        tell_decisions(
            Stage(database, web, ehr, staff, progress, messages, practice, say),
            booked,
            providers=ehr_ids(document["practices"][practice], "providers"),
            locations=ehr_ids(document["practices"][practice], "locations"),
        )
        say(progress.report())
    except BaseException:
        with contextlib.suppress(click.ClickException):
            children.stop()
        raise
    finally:
        web.close()
        staff.close()
        ehr.close()
        database.dispose()
    children.stop()
    say(f"\neach process's log is in {folder}: migrate.log, sandbox-ehr.log, run.log")


def _fresh(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    messages = folder / "messages"
    for leftover in [*folder.glob("*.db*"), *folder.glob("*.log"), *messages.glob("*.txt")]:
        leftover.unlink()


def _names() -> list[str]:
    """Every name of the story's patients, for the messages to hide."""
    people = [(p.first_name, p.last_name) for p in PATIENTS]
    people += [(first, last) for first, last, _born in FAMILY]
    return [name for pair in people for name in pair]


def _on_file(ehr: SandboxEHR, say: Callable[[str], None]) -> dict[str, list[Any]]:
    """Enter the patients the EHR already knows, then read back whom it holds for each."""
    for patient in PATIENTS:
        for copy in range(patient.on_file):
            ehr.enter_patient(
                patient.first_name,
                patient.last_name,
                patient.born,
                key=f"demo-on-file-{patient.last_name}-{copy}",
            )
    before = {p.initials: ehr.patients(p.first_name, p.last_name, p.born) for p in PATIENTS}
    known = [f"{initials} {len(found)}×" for initials, found in before.items() if found]
    say(f"the EHR already holds records for {', '.join(known)}")
    return before


def _book(web: httpx.Client, practice: str, say: Callable[[str], None]) -> list[str]:
    """Book each patient in an open slot of the practice's first reason for visit."""
    reason = first_reason(web, practice)
    slots = open_slots(web, practice, reason)[::3]
    if len(slots) < len(PATIENTS):
        raise click.ClickException(
            f"practice {practice} has too few open slots for {reason!r} in the next "
            f"{DAYS_AHEAD} days to book {len(PATIENTS)} patients"
        )
    booked = []
    for patient, slot in zip(PATIENTS, slots, strict=False):
        answer = web.post(
            f"/v1/practices/{practice}/widget/requests", json=_booking(patient, reason, slot)
        )
        say(
            f"{patient.initials} ({patient.story}) books {slot.start.isoformat()}: "
            f"HTTP {answer.status_code}"
        )
        if answer.status_code == 201:
            booked.append(answer.json()["request_id"])
    return booked


def _booking(patient: Patient, reason: str, slot: Slot) -> dict[str, Any]:
    return {
        "provider": slot.provider,
        "location": slot.location,
        "reason": reason,
        "start": slot.start.isoformat(),
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "phone": "+16175550142",
        "date_of_birth": patient.born.isoformat(),
        "sex": "unknown",
        "privacy_consent": True,
        "sms_consent": True,
        "new_patient": patient.on_file == 0,
        "notes": "Booked by the demo",
    }


def _wait_until_done(database: Database, progress: Progress, booked: list[str]) -> None:
    """Until every request is synced (or failed) and practice-sync has caught up: every hook
    its events caused has run, so every message of the bookings is written."""

    def synced() -> bool:
        with database.read() as session:
            states = session.scalars(
                select(AppointmentRequest.sync_state).where(AppointmentRequest.id.in_(booked))
            ).all()
        return len(states) == len(booked) and all(
            state in (SyncState.SYNCED, SyncState.SYNC_FAILED) for state in states
        )

    wait_for(
        lambda: synced() and progress.caught_up(),
        WAIT_SECONDS,
        "each request's EHR sync and the messages it causes",
    )
