"""The demo's story: three patients book on the widget, and each request becomes a tentative
appointment in the EHR while messages land in a folder.

One patient is new to the practice, one is in the EHR once and one's name and birth date match
two EHR records, so the core's matching policy shows each outcome (new, attached, ambiguous →
new). The demo speaks to the product only as a user would: it starts ``practice-sync migrate``,
the sandbox EHR server and ``practice-sync run`` as processes, books over HTTP, and reads what
happened back from the stores (:mod:`plugins.demo.timeline`).

The practice is the demo's own (:data:`STORY_CONFIG`), or, with ``--config``, the configured
one — its locations, providers, reasons and calendars — but always on a scratch database in
the demo's folder, with the sandbox EHR (given the configuration's provider and location ids)
and the file channel for every practice: a demo never reaches a real EHR, a real patient or
the configured database.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import httpx
from sqlalchemy import select

from integration_core.api import AppointmentRequest, Database, Settings, SyncState
from plugins.demo.processes import Children, free_port, wait_for
from plugins.demo.sandbox import SandboxEHR
from plugins.demo.timeline import message_files, tell_timeline

__all__ = ["PATIENTS", "PRACTICE", "STORY_CONFIG", "Patient", "run_story", "story_settings"]

PRACTICE = "demo_clinic"
WAIT_SECONDS = 60.0
QUIET_SECONDS = 0.5
DAYS_AHEAD = 14

STORY_CONFIG = """\
# The demo's practice (`practice-sync demo` writes this file; its EHR address, API key and
# database are set in the environment of the processes it starts).

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
    document = _read(config)
    practices = sorted(document.get("practices", {}))
    practice = _choose(practices, practice, config)
    directory = _sandbox_directory(document, folder / "sandbox-directory.toml")
    ehr_port, http_port = free_port(), free_port()
    ehr_url, base_url = f"http://127.0.0.1:{ehr_port}", f"http://127.0.0.1:{http_port}"
    api_key, staff_token = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    env = _environment(
        config, practices, folder, http_port=http_port, ehr_url=ehr_url, api_key=api_key
    )
    env[f"PRACTICE_SYNC_PRACTICES__{practice.upper()}__STAFF_TOKENS__DEMO"] = staff_token
    children = Children(folder, env)
    database = Database(f"sqlite:///{folder / 'practice-sync.db'}")
    ehr = SandboxEHR(ehr_url, api_key)
    web = httpx.Client(base_url=base_url, timeout=30)
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
            *directory,
            ready_url=f"{ehr_url}/healthz",
        )
        children.start("run", "run", ready_url=f"{base_url}/readyz")
        say(f"practice-sync runs at {base_url} (API docs: {base_url}/docs), the EHR at {ehr_url}")
        before = _on_file(ehr, say)
        booked = _book(web, practice, say)
        _wait_until_done(database, folder, booked)
        tell_timeline(
            database,
            ehr,
            web,
            practice=practice,
            staff_token=staff_token,
            before=before,
            folder=folder,
            say=say,
        )
    except BaseException:
        with contextlib.suppress(click.ClickException):
            children.stop()
        raise
    finally:
        web.close()
        ehr.close()
        database.dispose()
    children.stop()
    say(f"\neach process's log is in {folder}: migrate.log, sandbox-ehr.log, run.log")


def _fresh(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    messages = folder / "messages"
    for leftover in [*folder.glob("*.db*"), *folder.glob("*.log"), *messages.glob("*.txt")]:
        leftover.unlink()


def _read(config: Path) -> dict[str, Any]:
    """The configuration file as written (the processes read it with the environment; the
    demo only needs the practices' slugs and their EHR ids)."""
    try:
        return tomllib.loads(config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"{config}: cannot be read as TOML ({exc})") from None


def _sandbox_directory(document: dict[str, Any], path: Path) -> list[str]:
    """``--directory FILE`` for the sandbox EHR: the providers and locations of every
    configured practice by their EHR ids (a location without one is sent by its slug), so the
    sandbox knows whatever ids the configuration uses."""
    providers: dict[str, str] = {}
    locations: dict[str, str] = {}
    for practice in document.get("practices", {}).values():
        for slug, provider in practice.get("providers", {}).items():
            providers[str(provider.get("ehr_id", slug))] = provider.get("name", slug)
        for slug, location in practice.get("locations", {}).items():
            locations[str(location.get("ehr_id", slug))] = location.get("name", slug)
    if not providers or not locations:
        return []  # the sandbox's own directory
    lines = ["[providers]"]
    lines += [f"{json.dumps(key)} = {json.dumps(name)}" for key, name in providers.items()]
    lines += ["", "[locations]"]
    lines += [f"{json.dumps(key)} = {json.dumps(name)}" for key, name in locations.items()]
    path.write_text("\n".join(lines) + "\n")
    return ["--directory", str(path)]


def _choose(practices: list[str], practice: str | None, config: Path) -> str:
    if practice is not None and practice not in practices:
        raise click.ClickException(
            f"--practice {practice}: {config} has no such practice ({', '.join(practices)})"
        )
    if practice is None and len(practices) != 1:
        raise click.ClickException(
            f"{config} has {len(practices)} practices: choose one with --practice "
            f"({', '.join(practices) or 'none configured'})"
        )
    return practice or practices[0]


def _environment(
    config: Path,
    practices: list[str],
    folder: Path,
    *,
    http_port: int,
    ehr_url: str,
    api_key: str,
) -> dict[str, str]:
    """The configuration's structure, with everything that could reach the outside world
    replaced: a scratch database, the in-process broker, the sandbox EHR server for every
    practice, every message to the demo's folder."""
    env = {
        **os.environ,
        "PRACTICE_SYNC_CONFIG": str(config),
        "PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{folder / 'practice-sync.db'}",
        "PRACTICE_SYNC_BROKER__URL": "stub://",
        "PRACTICE_SYNC_HTTP__HOST": "127.0.0.1",
        "PRACTICE_SYNC_HTTP__PORT": str(http_port),
        "PRACTICE_SYNC_HTTP__PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}",
        "PRACTICE_SYNC_RATE_LIMITS__STORAGE_URL": "memory://",
        "PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__FILE_FOLDER": str(folder / "messages"),
        "PRACTICE_SYNC_SANDBOX_EHR_API_KEY": api_key,
    }
    for slug in practices:
        ehr = f"PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__{slug.upper()}__"
        channels = f"PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__PRACTICES__{slug.upper()}__"
        env |= {
            f"PRACTICE_SYNC_PRACTICES__{slug.upper()}__EHR_ADAPTER": "kareo_like",
            f"{ehr}SANDBOX": "false",
            f"{ehr}BASE_URL": ehr_url,
            f"{ehr}API_KEY": api_key,
            f"{channels}EMAIL_CHANNEL": "file",
            f"{channels}SMS_CHANNEL": "file",
        }
    return env


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
    options = _ok(web.get(f"/v1/practices/{practice}/widget/options"))
    if not options["reasons"]:
        raise click.ClickException(f"practice {practice} offers no reason for visit to book")
    reason = options["reasons"][0]["id"]
    today = date.today()
    slots = _ok(
        web.get(
            f"/v1/practices/{practice}/widget/slots",
            params={
                "start": today.isoformat(),
                "end": (today + timedelta(days=DAYS_AHEAD - 1)).isoformat(),
                "reason": reason,
            },
        )
    )["slots"][::3]
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
            f"{patient.initials} ({patient.story}) books {slot['start']}: HTTP {answer.status_code}"
        )
        if answer.status_code == 201:
            booked.append(answer.json()["request_id"])
    return booked


def _booking(patient: Patient, reason: str, slot: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": slot["provider"],
        "location": slot["location"],
        "reason": reason,
        "start": slot["start"],
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


def _ok(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise click.ClickException(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}"
        )
    return response.json()


def _wait_until_done(database: Database, folder: Path, booked: list[str]) -> None:
    """Until every request is synced (or failed) and its patient's message is written, then
    until no message has been written for a moment (the practice's alerts)."""

    def synced_and_told() -> bool:
        with database.read() as session:
            rows = session.execute(
                select(AppointmentRequest.sync_state, AppointmentRequest.email).where(
                    AppointmentRequest.id.in_(booked)
                )
            ).all()
        told = {to for to, _ in message_files(folder)}
        return len(rows) == len(booked) and all(
            state is SyncState.SYNC_FAILED or (state is SyncState.SYNCED and email in told)
            for state, email in rows
        )

    started = time.monotonic()
    wait_for(synced_and_told, WAIT_SECONDS, "each request's EHR sync and the patient's message")
    written = [len(message_files(folder))]

    def quiet() -> bool:
        time.sleep(QUIET_SECONDS)
        written.append(len(message_files(folder)))
        return written[-1] == written[-2]

    wait_for(quiet, max(WAIT_SECONDS - (time.monotonic() - started), 1), "the last messages")
