"""A practice-sync deployment talking to the sandbox EHR as its own server, as the end-to-end
tests run one: its configuration and environment, bookings over the widget API, and the EHR
syncs to wait for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from integration_core.ehr.sync import PLUGIN as EHR_SYNC
from integration_core.store import Database, Delivery, DeliveryStatus
from integration_core.testing.processes import free_port
from tests.support.examples import environment

LEASE_SECONDS = 3.0
"""A short claim lease, so that recovery is quick to see."""
TICK_SECONDS = 0.25
API_KEY = "e2e-ehr-key"
UNUSED_EHR = "http://127.0.0.1:9"
"""The EHR's address where a command never calls it (``migrate``), before the sandbox is up."""

CONFIG = """
[rate_limits]
per_client = "100000/minute"
per_practice = "100000/minute"

[practices.acme]
name = "Acme Family Medicine"
ehr_adapter = "kareo_like"

[practices.acme.locations.main]
name = "Main Street"
time_zone = "America/New_York"
ehr_id = "main"

[practices.acme.providers.dr_lee]
name = "Dr. Lee"
ehr_id = "1001"
locations = ["main"]

[plugins.config.growth_platform.practices.acme]
policy_version = "2027-01"

[plugins.config.growth_platform.practices.acme.reasons.checkup]
name = "Annual checkup"
providers = ["dr_lee"]
locations = ["main"]
ehr_visit_reason = "3"

[plugins.config.growth_platform.practices.acme.calendars.dr_lee.main]
slot_minutes = 30
days.mon = { enabled = true }
days.tue = { enabled = true }
days.wed = { enabled = true }
days.thu = { enabled = true }
days.fri = { enabled = true }
days.sat = { enabled = true }
days.sun = { enabled = true }

[plugins.config.notifications.practices.acme]
email_channel = "file"
"""
"""One practice whose EHR is the sandbox server (its address and key from the environment),
a provider open every day, patients' emails written to a folder."""

EHR_URL = "PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__BASE_URL"


def settings(folder: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of every process of one deployment: the configuration above, a short
    lease, hand-off grace and sweep interval, JSON logs."""
    config = folder / "practice-sync.toml"
    config.write_text(CONFIG)
    return environment(
        PRACTICE_SYNC_CONFIG=str(config),
        PRACTICE_SYNC_DATABASE_URL=database_url,
        PRACTICE_SYNC_HTTP__PORT=str(free_port()),
        PRACTICE_SYNC_BROKER__CLAIM_LEASE_SECONDS=str(LEASE_SECONDS),
        PRACTICE_SYNC_BROKER__HANDOFF_GRACE_SECONDS=str(LEASE_SECONDS),
        PRACTICE_SYNC_SCHEDULER__TICK_SECONDS=str(TICK_SECONDS),
        PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__ACME__API_KEY=API_KEY,
        PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__FILE_FOLDER=str(folder / "messages"),
        PRACTICE_SYNC_LOGGING__FORMAT="json",
        **{EHR_URL: UNUSED_EHR},
        **extra,
    )


def patient(number: int) -> dict[str, Any]:
    return {
        "first_name": "Robin",
        "last_name": f"Recovery{chr(ord('a') + number)}",
        "email": f"robin.{number}@example.com",
        "phone": f"(617) 555-01{number:02d}",
        "date_of_birth": "1980-02-03",
        "sex": "female",
        "privacy_consent": True,
    }


def book(base: str, count: int = 1) -> list[dict[str, Any]]:
    """Request ``count`` open slots over the widget API, each for a different new patient;
    the widget's answers."""
    widget = f"{base}/v1/practices/acme/widget"
    today = date.today()
    with httpx.Client(timeout=10) as client:
        found = client.get(
            f"{widget}/slots",
            params={
                "start": today.isoformat(),
                "end": (today + timedelta(days=13)).isoformat(),
                "reason": "checkup",
            },
        )
        assert found.status_code == 200, found.text
        slots = found.json()["slots"][:count]
        assert len(slots) == count
        accepted = []
        for number, slot in enumerate(slots):
            body = {
                "provider": slot["provider"],
                "location": slot["location"],
                "reason": "checkup",
                "start": slot["start"],
                **patient(number),
            }
            answer = client.post(f"{widget}/requests", json=body)
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json())
    return accepted


def syncs(db: Database) -> dict[str, Delivery]:
    """The ``ehr_sync`` deliveries of booking requests, by id."""
    with db.read() as session:
        found = session.scalars(
            select(Delivery).where(Delivery.plugin == EHR_SYNC, Delivery.hook == "on_request")
        )
        return {row.id: row for row in found}


def done(db: Database, count: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = syncs(db).values()
        return len(rows) == count and all(row.status is DeliveryStatus.DONE for row in rows)

    return check
