"""EHR change benchmark: a staff decision in the EHR until practice-sync has committed it.

Committed means the local appointment in its new state and the events the change causes, which
``apply_change`` writes in one transaction. Every change is a staff confirmation of a widget
request's tentative appointment (``on_confirm`` and ``on_appointment_synced``).

* webhook latency — one confirmation at a time on an idle system, at random moments (so the
  EHR's dispatcher, which sends every 0.2 s, is met at any phase): from the EHR's answer to the
  staff action (the change committed in the EHR) to practice-sync's answer to the webhook (given
  once the change is committed locally); and from the webhook POST to that answer, which is
  practice-sync's own part.
* webhook throughput — a backlog of confirmations made while the EHR's dispatcher is held, then
  released: from its start until the last change is committed. Measured side by side with the
  pipeline benchmark's embedded run (widget requests/s until every delivery is done), the two
  alternating which goes first each round; their ratio is the figure.
* polling alone — no webhook subscription: confirmations at random moments (gaps uniform over
  half an interval), each from the EHR's answer until the local appointment is seen booked
  (practice-sync's database read every 5 ms), for each ``ehr.poll_interval_seconds`` given.

    python -m bench.ehr_changes [--changes 1000] [--rounds 3] [--latency-changes 100]
        [--intervals 1 5] [--poll-changes 60] [--small]

The sandbox EHR is served by this process over loopback, its dispatcher timed; practice-sync
is ``practice-sync run`` (SQLite, the in-process broker) in a process of its own.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.ehr_deployment import CONFIRMED, EHRDeployment, ehr_deployment
from bench.figures import alternating, conditions, percentile, ratios
from bench.pipeline import run_pipeline
from integration_core.settings import SchedulerSettings

__all__ = ["Latencies", "backlog", "one_at_a_time", "polling_delays", "webhook_round"]

POLL_RARELY = 3600.0
"""The feed's interval while webhooks are timed: the largest allowed, so none is polled in."""
LOOK_EVERY = 0.005
"""How often the polling run reads practice-sync's database for the appointments it waits on."""


def setup_timeout(count: int) -> float:
    """Ample for ``count`` bookings or changes on a busy machine, yet a stuck run still ends."""
    return 60 + count / 2


@dataclass
class Latencies:
    """One-at-a-time webhook timings, in ms."""

    staff: list[float] = field(default_factory=list)
    """From the EHR's answer to the staff action to the change committed locally."""
    post: list[float] = field(default_factory=list)
    """From the webhook POST to the change committed locally."""


def one_at_a_time(running: EHRDeployment, ehr_ids: list[str], rng: random.Random) -> Latencies:
    """Confirm each in turn, idle between them for a random part of the dispatcher's pass."""
    found = Latencies()
    for ehr_id in ehr_ids:
        time.sleep(0.05 + rng.uniform(0, running.dispatcher.interval))
        running.confirm(ehr_id)
        acted = time.perf_counter()
        post = running.webhooks.answer(ehr_id, CONFIRMED, timeout=30)
        assert post.answered is not None
        found.staff.append((post.answered - acted) * 1000)
        found.post.append((post.answered - post.sent) * 1000)
    return found


def backlog(running: EHRDeployment, ehr_ids: list[str]) -> float:
    """Changes/s: confirm them all while the EHR holds its webhooks, then time their delivery
    from the dispatcher's start until the last is committed."""
    running.dispatcher.stop()
    for ehr_id in ehr_ids:
        running.confirm(ehr_id)
    expected = running.webhooks.count(CONFIRMED) + len(ehr_ids)
    started = time.perf_counter()
    running.dispatcher.start()
    posts = running.webhooks.answers(CONFIRMED, expected, timeout=setup_timeout(len(ehr_ids)))
    mine = set(ehr_ids)
    last = max(p.answered or 0.0 for p in posts if p.ehr_appointment_id in mine)
    return len(ehr_ids) / (last - started)


def webhook_round(
    folder: Path, count: int, latency_count: int, rng: random.Random
) -> tuple[float, Latencies]:
    """One fresh deployment: ``latency_count`` confirmations one at a time, then a backlog of
    ``count``; its changes/s and the latencies."""
    with ehr_deployment(folder, webhooks=True, poll_seconds=POLL_RARELY) as running:
        ids = running.book(latency_count + count, setup_timeout(latency_count + count))
        ehr_ids = list(ids.values())
        latencies = one_at_a_time(running, ehr_ids[:latency_count], rng)
        rate = backlog(running, ehr_ids[latency_count:])
        running.require_confirmed(list(ids))
    return rate, latencies


def polling_delays(folder: Path, interval: float, count: int, rng: random.Random) -> list[float]:
    """Seconds from each staff confirmation to its appointment seen booked locally, with no
    webhook: the feed poller alone brings them, every ``interval`` seconds."""
    with ehr_deployment(folder, webhooks=False, poll_seconds=interval) as running:
        ids = running.book(count, setup_timeout(count))
        to_confirm = list(ids.items())
        waiting: dict[str, float] = {}
        delays: list[float] = []
        next_action = time.perf_counter() + rng.uniform(0, interval / 2)
        while to_confirm or waiting:
            if to_confirm and time.perf_counter() >= next_action:
                local, ehr_id = to_confirm.pop()
                running.confirm(ehr_id)
                waiting[local] = time.perf_counter()
                next_action = waiting[local] + rng.uniform(0, interval / 2)
                continue
            looked = time.perf_counter()
            for local in running.booked(list(waiting)):
                delays.append(looked - waiting.pop(local))
            if waiting and looked - min(waiting.values()) > 3 * interval + 30:
                raise TimeoutError("a confirmation never reached practice-sync by the feed")
            time.sleep(LOOK_EVERY)
        running.require_confirmed(list(ids))
    return delays


def report_webhooks(
    count: int, webhook: list[float], pipeline: list[float], latencies: Latencies
) -> None:
    per_round = ratios(webhook, pipeline)
    print(
        "== EHR changes by webhook: the sandbox EHR over loopback → practice-sync run "
        f"(SQLite, in-process broker), {count} changes, median of {len(per_round)} round(s)"
    )
    print(
        f"  webhook   {statistics.median(webhook):8.1f} changes/s    "
        "(a backlog of staff confirmations: the EHR's first POST until the last is committed)"
    )
    print(
        f"  pipeline  {statistics.median(pipeline):8.1f} requests/s   "
        "(the pipeline benchmark's embedded run: POST until every delivery is done)"
    )
    print(
        f"  ratio webhook/pipeline: {statistics.median(per_round):.2f}   (per round: "
        + ", ".join(f"{r:.2f}" for r in per_round)
        + ")"
    )
    described = {
        "staff action → committed": (latencies.staff, "with the EHR's wait for its 0.2 s pass"),
        "webhook POST → committed": (latencies.post, "practice-sync's own part"),
    }
    for name, (samples, note) in described.items():
        print(
            f"  {name} (one at a time, idle, {len(samples)}): "
            f"p50 {percentile(samples, 50):.1f} ms   p99 {percentile(samples, 99):.1f} ms   "
            f"({note})"
        )


def report_polling(interval: float, delays: list[float]) -> None:
    late = sum(d > interval for d in delays)
    print(
        f"  ehr.poll_interval_seconds {interval:g}: {len(delays)} changes   "
        f"p50 {percentile(delays, 50):.2f} s   p90 {percentile(delays, 90):.2f} s   "
        f"p99 {percentile(delays, 99):.2f} s   max {max(delays):.2f} s   "
        f"over the interval: {late}/{len(delays)}"
    )
    quarters = [0] * 5
    for delay in delays:
        quarters[min(int(4 * delay / interval), 4)] += 1
    labels = ["0–¼", "¼–½", "½–¾", "¾–1", ">1"]
    print(
        "    delay / interval:  "
        + "   ".join(f"{label} {n}" for label, n in zip(labels, quarters, strict=True))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000, help="the backlog of each round")
    parser.add_argument("--rounds", type=int, default=3, help="webhook/pipeline pairs to run")
    parser.add_argument("--latency-changes", type=int, default=100)
    parser.add_argument("--intervals", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--poll-changes", type=int, default=60, help="per interval")
    parser.add_argument("--small", action="store_true", help="a quick run (as CI does)")
    args = parser.parse_args()
    if args.small:
        args.changes, args.rounds, args.latency_changes = 30, 1, 5
        args.intervals, args.poll_changes = [0.5, 1.0], 6
    rng = random.Random(7)
    print(f"conditions at start: {conditions()}")

    latencies: list[Latencies] = []

    def webhook() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            first = 0 if latencies else args.latency_changes
            rate, found = webhook_round(Path(tmp), args.changes, first, rng)
        latencies.append(found)
        return rate

    def pipeline() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            return run_pipeline(Path(tmp), args.changes)

    figures = alternating(args.rounds, webhook=webhook, pipeline=pipeline)
    report_webhooks(args.changes, figures["webhook"], figures["pipeline"], latencies[0])

    tick = SchedulerSettings().tick_seconds
    print(
        f"== EHR changes by polling alone (no webhook; scheduler.tick_seconds {tick:g}): "
        "staff action → seen committed"
    )
    for interval in args.intervals:
        with tempfile.TemporaryDirectory() as tmp:
            report_polling(interval, polling_delays(Path(tmp), interval, args.poll_changes, rng))
    print(f"conditions at end: {conditions()}")


if __name__ == "__main__":
    main()
