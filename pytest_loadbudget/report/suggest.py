"""``--loadbudget-suggest``: markers set from this run's figures plus headroom.

The quickest way to adopt the plugin: run once, paste the lines, and the next
regression fails. Headroom follows each figure's noise: times swing between
runs on shared machines, sizes do not move unless the artifact does.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import MIB

HEADROOM = {"ms": 1.5, "warm_ms": 1.5, "mb": 1.1, "peak_mb": 1.25, "leak_mb": 2.0}


def round_up(value: float, digits: int = 2) -> float:
    """Up to ``digits`` significant digits: 613.2 -> 620, 0.0123 -> 0.013."""
    if value <= 0:
        return 0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    rounded = math.ceil(value * scale - 1e-9) / scale
    return int(rounded) if rounded >= 10 else rounded


def figures(record: ModelRecord) -> dict[str, float]:
    found: dict[str, float] = {}
    if record.load_ms:
        found["ms"] = record.load_ms.median
    if record.size_bytes is not None:
        found["mb"] = record.size_bytes / MIB
    if record.warm_ms:
        found["warm_ms"] = record.warm_ms.median
    if record.memory is not None:
        if record.memory.peak_bytes is not None:
            # A loader that allocates nothing measures a peak of 0, and a
            # budget of 0 is no valid marker: at least 1 MiB, the allocator's noise.
            found["peak_mb"] = max(record.memory.peak_bytes / MIB, 1.0)
        if record.memory.leak_bytes is not None:
            # A leak budget of zero fails on a page of noise: at least 1 MiB.
            found["leak_mb"] = max(record.memory.leak_bytes / MIB, 0.5)
    return found


def suggestions(records: list[ModelRecord]) -> list[tuple[str, str]]:
    """(test node id, marker line) for every test that loaded a model."""
    per_test: dict[str, dict[str, float]] = {}
    for record in records:
        if record.error is not None:
            continue
        for use in record.tests:
            wanted = per_test.setdefault(use.nodeid, {})
            for figure, value in figures(record).items():
                wanted[figure] = max(wanted.get(figure, 0.0), value * HEADROOM[figure])
    lines = []
    for nodeid, wanted in per_test.items():
        keywords = ", ".join(f"{figure}={round_up(wanted[figure])}" for figure in HEADROOM if figure in wanted)
        lines.append((nodeid, f"@pytest.mark.load_budget({keywords})"))
    return lines


def write_suggestions(terminal: Any, records: list[ModelRecord]) -> None:
    """The ``--loadbudget-suggest`` section of the terminal summary."""
    terminal.write_sep("=", "loadbudget suggested budgets")
    terminal.write_line("this run's figures plus headroom (times x1.5, size x1.1, peak x1.25, leak x2):")
    for nodeid, marker in suggestions(records):
        terminal.write_line(nodeid)
        terminal.write_line(f"    {marker}")
