"""The booking widget's public API, as a patient's browser calls it: what the practice offers
and which times are open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
import httpx

__all__ = ["DAYS_AHEAD", "Slot", "first_reason", "ok", "open_slots"]

DAYS_AHEAD = 14


@dataclass(frozen=True)
class Slot:
    provider: str
    location: str
    start: datetime
    end: datetime
    zone: ZoneInfo
    """The location's time zone."""


def first_reason(web: httpx.Client, practice: str) -> str:
    """The practice's first reason for visit, which the story books."""
    reasons = ok(web.get(f"/v1/practices/{practice}/widget/options"))["reasons"]
    if not reasons:
        raise click.ClickException(f"practice {practice} offers no reason for visit to book")
    return str(reasons[0]["id"])


def open_slots(web: httpx.Client, practice: str, reason: str) -> list[Slot]:
    """Every time the widget offers for ``reason`` in the next :data:`DAYS_AHEAD` days."""
    today = date.today()
    params = {
        "start": today.isoformat(),
        "end": (today + timedelta(days=DAYS_AHEAD - 1)).isoformat(),
        "reason": reason,
    }
    found = ok(web.get(f"/v1/practices/{practice}/widget/slots", params=params))["slots"]
    return [
        Slot(
            provider=slot["provider"],
            location=slot["location"],
            start=datetime.fromisoformat(slot["start"]),
            end=datetime.fromisoformat(slot["end"]),
            zone=ZoneInfo(slot["time_zone"]),
        )
        for slot in found
    ]


def ok(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise click.ClickException(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}"
        )
    return response.json()
