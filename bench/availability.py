"""Availability benchmark: the widget's slot reads against a same-size control route.

Builds a practice with 10 providers over 2 locations, 30 days of calendars, 300 appointments
and 50 time blocks, then measures in-process (httpx over ASGITransport, no network):

* the widget's week view — one reason, one location, every provider there, 7 days;
* a control route on the same app returning a precomputed response of the same size through
  the same response model (what serialisation and the framework cost on their own);
* the 10-provider week view and the 30-day view.

Between measured reads it books a slot or adds a time block, so nothing could be served from
a cache. Reads of the week view and the control alternate, so both see the same machine.

    python -m bench.availability                  # SQLite, full size
    python -m bench.availability --postgres-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.availability --small          # a quick run (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter
from sqlalchemy import event

from bench.figures import percentile
from integration_core import hookimpl
from integration_core.clock import ManualClock
from integration_core.http.app import create_app
from integration_core.records import Appointment, AppointmentStatus, Origin
from integration_core.runtime import Runtime
from integration_core.settings import Settings
from integration_core.store import new_id
from plugins.growth_platform.tables import TimeBlock
from plugins.growth_platform.widget import SlotList

NOW = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)  # Monday 06:00 in New York
STAFF = {"Authorization": "Bearer bench-token"}
WEEKDAYS = {
    day: {"enabled": True, "ranges": [["08:00", "12:00"], ["13:00", "17:00"]]}
    for day in ("mon", "tue", "wed", "thu", "fri")
}
PROVIDERS = [f"p{i:02d}" for i in range(1, 11)]
NORTH = PROVIDERS[:6]
SOUTH = PROVIDERS[4:]


@dataclass
class Size:
    iterations: int
    appointments: int = 300
    blocks: int = 50


def bench_settings(database_url: str) -> Settings:
    providers = {
        slug: {
            "name": f"Provider {slug}",
            "ehr_id": slug,
            "locations": [
                loc for loc, group in (("north", NORTH), ("south", SOUTH)) if slug in group
            ],
        }
        for slug in PROVIDERS
    }
    calendars: dict[str, dict[str, Any]] = {}
    for slug, provider in providers.items():
        calendars[slug] = {
            loc: {
                "slot_minutes": 30,
                "min_notice_minutes": 60,
                "horizon_days": 30,
                "days": WEEKDAYS,
            }
            for loc in provider["locations"]
        }
    return Settings(
        database_url=database_url,
        rate_limits={"per_client": "10000000/minute", "per_practice": "10000000/minute"},
        practices={
            "bench": {
                "name": "Benchmark Clinic",
                "locations": {
                    "north": {"name": "North", "time_zone": "America/New_York"},
                    "south": {"name": "South", "time_zone": "America/Chicago"},
                },
                "providers": providers,
                "staff_tokens": {"bench": "bench-token"},
            }
        },
        plugins={
            "config": {
                "growth_platform": {
                    "practices": {
                        "bench": {
                            "reasons": {
                                "visit": {
                                    "name": "Visit",
                                    "providers": PROVIDERS,
                                    "locations": ["north", "south"],
                                }
                            },
                            "calendars": calendars,
                        }
                    }
                }
            }
        },
    )


class Control:
    """Adds ``/bench/control``: a precomputed answer through the slots' response model."""

    def __init__(self) -> None:
        self.answer = SlotList(slots=[])

    @hookimpl
    def register_routes(self, routes: Any) -> None:
        router = APIRouter()

        @router.get("/bench/control", response_model=SlotList)
        def control() -> SlotList:
            return self.answer

        routes.add(router)


def populate(runtime: Runtime, size: Size, rng: random.Random) -> None:
    """Appointments (any origin, both locations) and time blocks, on the half-hour grid."""
    taken: set[tuple[str, datetime]] = set()

    def free_start(provider: str) -> datetime:
        while True:
            day = NOW + timedelta(days=rng.randrange(1, 30))
            start = day.replace(hour=14, minute=0) + timedelta(minutes=30 * rng.randrange(0, 16))
            if (provider, start) not in taken:
                taken.add((provider, start))
                return start

    with runtime.db.transaction() as session:
        for i in range(size.appointments):
            provider = rng.choice(PROVIDERS)
            start = free_start(provider)
            location = "north" if provider in NORTH else "south"
            session.add(
                Appointment(
                    id=new_id("apt_"),
                    practice_id="bench",
                    provider_id=provider,
                    location_id=location,
                    reason_id="visit",
                    start_at=start,
                    end_at=start + timedelta(minutes=30),
                    status=AppointmentStatus.BOOKED,
                    origin=Origin.EHR if i % 2 else Origin.WIDGET,
                    virtual=False,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        for _ in range(size.blocks):
            provider = rng.choice(PROVIDERS)
            start = free_start(provider)
            session.add(
                TimeBlock(
                    id=new_id("blk_"),
                    practice_id="bench",
                    provider_id=provider,
                    location_id="north" if provider in NORTH else "south",
                    start_at=start,
                    end_at=start + timedelta(minutes=30),
                    created_at=NOW,
                    created_by="bench",
                )
            )


@contextmanager
def counting_statements(runtime: Runtime) -> Iterator[list[int]]:
    counter = [0]

    def count(*_: Any) -> None:
        counter[0] += 1

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)


def describe(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 50):7.2f} ms   p95 {percentile(samples, 95):7.2f} ms"


async def measure(
    client: httpx.AsyncClient, url: str, params: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.get(url, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response


async def disturb(
    client: httpx.AsyncClient, i: int, slots: list[dict[str, Any]], rng: random.Random
) -> None:
    """Book one open slot or block one, so the next read must see a change."""
    slot = rng.choice(slots)
    if i % 2:
        body = {
            "provider": slot["provider"],
            "location": slot["location"],
            "reason": "visit",
            "start": slot["start"],
            "first_name": "Bench",
            "last_name": f"Patient{i}",
            "email": f"bench{i}@example.com",
            "phone": "+16175550100",
            "date_of_birth": "1980-01-01",
            "sex": "other",
            "privacy_consent": True,
        }
        response = await client.post("/v1/practices/bench/widget/requests", json=body)
    else:
        response = await client.post(
            f"/v1/practices/bench/calendars/{slot['provider']}/{slot['location']}/blocks",
            json={"start": slot["start"]},
            headers=STAFF,
        )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"could not change availability: {response.status_code} {response.text}")


async def run(database_url: str, size: Size, label: str) -> dict[str, float]:
    control = Control()
    runtime = Runtime(
        bench_settings(database_url),
        clock=ManualClock(NOW),
        extra_plugins={"bench_control": control},
    )
    rng = random.Random(7)
    try:
        runtime.migrate()
        populate(runtime, size, rng)
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            week = {
                "start": "2027-01-11",
                "end": "2027-01-17",
                "reason": "visit",
                "location": "north",
            }
            everyone_week = {"start": "2027-01-11", "end": "2027-01-17"}
            month = {"start": "2027-01-05", "end": "2027-02-03"}
            _, first = await measure(client, "/v1/practices/bench/widget/slots", week)
            control.answer = SlotList.model_validate(first.json())
            week_ms, control_ms, statements, sizes = [], [], [], []
            for i in range(size.iterations):
                with counting_statements(runtime) as counter:
                    elapsed, response = await measure(
                        client, "/v1/practices/bench/widget/slots", week
                    )
                statements.append(counter[0])
                week_ms.append(elapsed)
                found = response.json()["slots"]
                sizes.append(len(found))
                control.answer = SlotList.model_validate(response.json())
                control_ms.append((await measure(client, "/bench/control"))[0])
                await disturb(client, i, found, rng)
            everyone_ms = [
                (await measure(client, "/v1/practices/bench/widget/slots", everyone_week))[0]
                for _ in range(max(5, size.iterations // 4))
            ]
            month_ms = [
                (await measure(client, "/v1/practices/bench/widget/slots", month))[0]
                for _ in range(max(5, size.iterations // 4))
            ]
    finally:
        runtime.close()
    ratio = percentile(week_ms, 95) / percentile(control_ms, 95)
    print(
        f"\n== {label}: 10 providers, 2 locations, {size.appointments} appointments, "
        f"{size.blocks} blocks, {size.iterations} reads"
    )
    print(
        f"week view (1 reason, 1 location: {len(NORTH)} providers, 7 days, "
        f"~{statistics.mean(sizes):.0f} slots)"
    )
    print(f"  endpoint  {describe(week_ms)}   SQL statements per request: {max(statements)}")
    print(f"  control   {describe(control_ms)}   (precomputed, same size, same response model)")
    print(f"  p95 ratio endpoint/control: {ratio:.2f}   (target ≤ 2)")
    print(f"10-provider week view   {describe(everyone_ms)}")
    print(f"30-day view (all)       {describe(month_ms)}")
    return {"ratio": ratio, "statements": max(statements)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run (as CI does)")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument(
        "--postgres-url", default=None, help="also run on PostgreSQL (a fresh schema)"
    )
    args = parser.parse_args()
    size = Size(iterations=args.iterations or (20 if args.small else 300))
    if args.small:
        size.appointments, size.blocks = 60, 10
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(f"sqlite:///{Path(folder) / 'bench.db'}", size, "SQLite"))
    if args.postgres_url:
        from integration_core.testing.services import fresh_schema_url

        with fresh_schema_url(args.postgres_url) as url:
            asyncio.run(run(url, size, "PostgreSQL"))


if __name__ == "__main__":
    main()
