"""How the benchmarks turn timings into figures, the same way in each of them.

Throughput is only ever reported as a ratio of two figures measured side by side in one run
(:func:`alternating`), since a shared machine's speed drifts by more than the effects measured;
latencies are percentiles (:func:`percentile`) printed beside the run's conditions
(:func:`conditions`).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable

__all__ = ["alternating", "conditions", "percentile", "ratios"]


def percentile(samples: list[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method: never outside the samples)."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def alternating(rounds: int, **sides: Callable[[], float]) -> dict[str, list[float]]:
    """Each side's figure once per round, the order reversed every other round.

    Alternating spreads the machine's drift over every side, so the median of the per-round
    ratios measures the sides, not a noisy minute. Each callable brings its own fresh stores.
    """
    names = list(sides)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):
            figures[name].append(sides[name]())
    return figures


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Per-round ratios of two sides measured in the same rounds."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def conditions() -> str:
    """The machine a figure was measured on, as it stood: CPUs and load average."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min) / {five:.1f} (5 min)"
