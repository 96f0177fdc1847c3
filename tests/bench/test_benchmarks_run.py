"""The benchmarks run in CI at a small size, so they cannot rot (their figures are not judged
here: timing targets live in the benchmarks' own output)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from integration_core.testing.services import postgres_url, redis_url
from tests.support.commands import ROOT


def run_small(module: str, *args: str) -> str:
    """``python -m <module> --small …`` from the repository root; its output."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--small", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.postgres
def test_availability_benchmark_runs_small_on_sqlite_and_postgresql():
    out = run_small("bench.availability", "--postgres-url", postgres_url())
    for label in ("SQLite", "PostgreSQL"):
        assert f"== {label}: 10 providers, 2 locations" in out
    assert len(re.findall(r"p95 ratio endpoint/control: \d+\.\d\d", out)) == 2
    statements = [int(n) for n in re.findall(r"SQL statements per request: (\d+)", out)]
    assert statements == [3, 2]  # SQLite counts its BEGIN; two queries either way
    assert out.count("30-day view (all)") == 2


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_pipeline_benchmark_runs_small_embedded_and_scaled_out():
    out = run_small("bench.pipeline", "--postgres-url", postgres_url(), "--redis-url", redis_url())
    rates = [float(n) for n in re.findall(r"(\d+\.\d) requests/s", out)]
    assert len(rates) == 4 and all(rate > 0 for rate in rates)  # pipeline and inline, twice
    assert "== scaled out (PostgreSQL, Redis, a worker process, the EHR server)" in out
    assert len(re.findall(r"ratio pipeline/inline: \d+\.\d\d", out)) == 2
    assert re.search(r"request → tentative .* p50 \d+\.\d ms   p99 \d+\.\d ms", out)


@pytest.mark.slow
def test_ehr_change_benchmark_runs_small_by_webhook_and_by_polling():
    out = run_small("bench.ehr_changes")
    assert re.search(r"webhook +\d+\.\d changes/s", out)
    assert re.search(r"pipeline +\d+\.\d requests/s", out)
    assert re.search(r"ratio webhook/pipeline: \d+\.\d\d", out)
    for timed in ("staff action → committed", "webhook POST → committed"):
        assert re.search(rf"{timed} .* p50 \d+\.\d ms   p99 \d+\.\d ms", out)
    intervals = re.findall(r"ehr.poll_interval_seconds ([\d.]+): 6 changes   p50", out)
    assert intervals == ["0.5", "1"]
    assert out.count("delay / interval:") == 2
    assert out.count("load average") == 2
