"""Summaries of timing samples: median and spread."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Samples:
    """Raw samples of one figure in milliseconds, kept for comparisons."""

    values: list[float] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.values)

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def minimum(self) -> float:
        return min(self.values)

    @property
    def maximum(self) -> float:
        return max(self.values)

    @property
    def iqr(self) -> tuple[float, float]:
        """First and third quartile (equal to the only value for one sample)."""
        if len(self.values) < 2:
            return self.values[0], self.values[0]
        quartiles = statistics.quantiles(self.values, n=4, method="inclusive")
        return quartiles[0], quartiles[2]

    def percentile(self, percent: float) -> float:
        """The ``percent``-th percentile, interpolated between the two nearest samples (the only one for one)."""
        ordered = sorted(self.values)
        position = (len(ordered) - 1) * percent / 100
        below = int(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (ordered[above] - ordered[below]) * (position - below)

    def summary(self) -> dict[str, float | int]:
        q1, q3 = self.iqr
        return {
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
            "q1": q1,
            "q3": q3,
            "rounds": self.count,
        }
