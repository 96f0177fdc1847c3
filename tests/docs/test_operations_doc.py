"""docs/operations.md names every metric a scrape can show, and no metric that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from integration_core.metrics import DatabaseState, exposition

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"


def test_the_metrics_tables_are_the_metrics(ps_runtime_factory, ps_clock):
    runtime = ps_runtime_factory()
    scraped = exposition(DatabaseState(runtime.db, ps_clock, runtime.settings.practices))
    exposed = set(re.findall(r"^# TYPE (\S+) ", scraped.decode(), re.MULTILINE))
    assert len(exposed) >= 13  # the process's counters and the database's gauges
    documented = set(
        re.findall(r"^\| `(practice_sync_\w+)` \|", OPERATIONS.read_text(), re.MULTILINE)
    )
    assert documented == exposed
