"""The practice the pipeline and EHR change benchmarks book into, and its patients.

Twenty providers at one location, each with a 15-minute slot every quarter hour of every day,
so a run of any size books distinct slots without clashes; the sandbox EHR's directory names
the same providers (each ``ehr_id`` is its slug). Built through the same settings models a
practice's configuration file is.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from integration_core.settings import Settings
from plugins.ehr_kareo_like.plugin import inprocess_sandbox
from plugins.ehr_kareo_like.sandbox.directory import Directory

__all__ = [
    "DIRECTORY",
    "PRACTICE",
    "PROVIDERS",
    "SANDBOX_KEY",
    "SLOT_MINUTES",
    "Placement",
    "bodies",
    "settings",
]

PRACTICE = "bench"
SANDBOX_KEY = "sandbox-key"
"""The sandbox EHR's API key when it runs as its own server (its default)."""
SLOT_MINUTES = 15
PROVIDERS = [f"p{i:02d}" for i in range(1, 21)]
DIRECTORY = Directory(providers={p: f"Provider {p}" for p in PROVIDERS}, locations={"main": "Main"})
"""The sandbox EHR's providers and location: the bench's own (each ``ehr_id`` is its slug)."""
EVERY_DAY = {
    d: {"enabled": True, "ranges": [["00:00", "24:00"]]}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


class Placement(NamedTuple):
    """Where a deployment's parts live when they are not all in this process: its database,
    its broker and the EHR server it talks to."""

    database_url: str
    broker_url: str
    ehr_url: str


def settings(folder: Path, label: str, placed: Placement | None = None) -> Settings:
    """The bench practice, its files under ``folder`` named after ``label``. Unless
    ``placed``, everything is in this process: SQLite, the in-process broker, and a sandbox
    EHR (made here) that knows the practice's providers."""
    database_url = placed.database_url if placed else f"sqlite:///{folder / f'{label}.db'}"
    ehr = {"base_url": placed.ehr_url, "api_key": SANDBOX_KEY} if placed else {"sandbox": True}
    if placed is None:
        store, _ = inprocess_sandbox(f"sqlite:///{folder / f'{label}-ehr.db'}", SANDBOX_KEY)
        store.set_directory(DIRECTORY)
    return Settings(
        database_url=database_url,
        broker={
            "url": placed.broker_url if placed else "stub://",
            "queue": f"bench_{label}_{os.getpid()}",
        },
        rate_limits={"per_client": "10000000/minute", "per_practice": "10000000/minute"},
        logging={"level": "WARNING"},
        practices={
            PRACTICE: {
                "name": "Bench Clinic",
                "ehr_adapter": "kareo_like",
                "locations": {"main": {"name": "Main", "time_zone": "UTC"}},
                "providers": {
                    p: {"name": p, "ehr_id": p, "locations": ["main"]} for p in PROVIDERS
                },
            }
        },
        plugins={
            "config": {
                "growth_platform": {
                    "practices": {
                        PRACTICE: {
                            "reasons": {
                                "visit": {
                                    "name": "Visit",
                                    "providers": PROVIDERS,
                                    "locations": ["main"],
                                }
                            },
                            "calendars": {
                                p: {
                                    "main": {
                                        "slot_minutes": SLOT_MINUTES,
                                        "min_notice_minutes": 0,
                                        "horizon_days": 365,
                                        "day_start": "00:00",
                                        "day_end": "24:00",
                                        "days": EVERY_DAY,
                                    }
                                }
                                for p in PROVIDERS
                            },
                        }
                    }
                },
                "ehr_kareo_like": {
                    "sandbox": {"database_url": f"sqlite:///{folder / f'{label}-ehr.db'}"},
                    "practices": {PRACTICE: ehr},
                },
                "notifications": {
                    "file_folder": str(folder / f"{label}-messages"),
                    "practices": {
                        PRACTICE: {
                            "alert_emails": ["desk@bench.example"],
                            "alert_phones": ["+16175550100"],
                            "email_channel": "file",
                            "sms_channel": "file",
                        }
                    },
                },
            }
        },
    )


def bodies(count: int) -> list[dict[str, Any]]:
    """Widget booking requests of distinct patients (each their own date of birth, as in a
    real practice's stream), in distinct slots from the day after tomorrow on."""
    base = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    out = []
    for i in range(count):
        start = base + timedelta(minutes=SLOT_MINUTES * (i // len(PROVIDERS)))
        out.append(
            {
                "provider": PROVIDERS[i % len(PROVIDERS)],
                "location": "main",
                "reason": "visit",
                "start": start.isoformat(),
                "first_name": f"Bench{i}",
                "last_name": "Patient",
                "email": f"bench{i}@example.com",
                "phone": "+16175550142",
                "date_of_birth": (date(1950, 1, 1) + timedelta(days=i)).isoformat(),
                "sex": "other",
                "privacy_consent": True,
                "sms_consent": True,
            }
        )
    return out
