"""How far practice-sync has come, so the story waits for it rather than for a while.

Read from practice-sync's ``/metrics`` — the changes it received from the EHR (counted as each
commits), and its deliveries and timers read from its database at each scrape — and from the
EHR's change feed. Practice-sync has caught up when it has received every change the EHR has
made and nothing of the practice's is pending, running or due: each hook the changes caused has
run, each message is written.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from plugins.demo.sandbox import SandboxEHR

__all__ = ["Progress"]

CHANGES = "practice_sync_ehr_changes_total"
DELIVERIES = "practice_sync_deliveries"
TIMERS_DUE = "practice_sync_timers_due"


class Progress:
    def __init__(self, web: httpx.Client, ehr: SandboxEHR, *, practice: str, token: str) -> None:
        self.web = web
        self.ehr = ehr
        self.practice = practice
        self.token = token

    def caught_up(self) -> bool:
        made = self.ehr.change_count()
        samples = self._samples()
        received = sum(
            s.value for s in samples if s.name == CHANGES and s.labels["outcome"] != "duplicate"
        )
        waiting = sum(
            s.value
            for s in samples
            if (s.name == DELIVERIES and s.labels["status"] in ("pending", "running"))
            or s.name == TIMERS_DUE
        )
        return received >= made and waiting == 0

    def report(self) -> str:
        """The EHR's changes practice-sync received, by outcome and how they came, and its
        deliveries that failed for good."""
        samples = self._samples()
        changes = sorted(
            (s.labels["via"], s.labels["outcome"], int(s.value))
            for s in samples
            if s.name == CHANGES and s.value
        )
        dead = sum(
            int(s.value) for s in samples if s.name == DELIVERIES and s.labels["status"] == "dead"
        )
        received = ", ".join(f"{n} {outcome} by {via}" for via, outcome, n in changes)
        return f"EHR changes received: {received or 'none'}; deliveries failed for good: {dead}"

    def _samples(self) -> list[Sample]:
        """The practice's samples of the scrape."""
        answer = self.web.get("/metrics", headers={"Authorization": f"Bearer {self.token}"})
        answer.raise_for_status()
        return [
            sample
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
            if sample.labels.get("practice") == self.practice
        ]
