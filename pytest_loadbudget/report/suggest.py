"""``--loadbudget-suggest``: budgets set from this run's figures plus headroom, ready to paste.

The quickest way to adopt the plugin: run once, paste the lines, and the next
regression fails. One rule sets every suggested budget, whether printed as
markers (here) or as configuration entries (``config/suggest.py``). A time
budget must hold on every later run, not on this one: its headroom comes
from what this run saw. The start is the upper decile of the rounds the
budget judges (own time by default), which carries the run's spread; on top
goes a margin of ``BASE_MARGIN`` plus the share of the wall time the loading
thread waited for a CPU. Own time takes those waits out, but not everything a
busy machine costs (caches, memory bandwidth, helper threads): a run that
waited a lot is the one whose figures a quieter or busier machine will move
most. Sizes and memory get a fixed headroom (``Figure.headroom``): they do not
swing with the machine.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.measure.clock import waited_share
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB

#: The margin every suggested time gets over the upper decile, before contention.
BASE_MARGIN = 0.25
#: The quantile of the rounds a time budget starts from.
UPPER_QUANTILE = 0.9


def round_up(value: float, digits: int = 2) -> float:
    """Up to ``digits`` significant digits: 613.2 -> 620, 0.0123 -> 0.013."""
    if value <= 0:
        return 0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    rounded = math.ceil(value * scale - 1e-9) / scale
    return int(rounded) if rounded >= 10 else rounded


def upper_quantile(values: list[float], quantile: float = UPPER_QUANTILE) -> float:
    """The ``quantile`` of ``values`` (linear between the samples; the only value for one)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(quantile * 100) - 1]


def time_limit(judged: Samples, wall: Samples, own: Samples) -> tuple[float, float]:
    """The suggested budget for one time figure, ms, and the share of the wall time spent waiting.

    ``judged``: the rounds a budget would judge (own or wall time);
    ``wall``/``own``: the same rounds on both clocks, for the waiting share
    (0 where own time was not measured).
    """
    share = waited_share(sum(wall.values), sum(own.values)) if own else 0.0
    return upper_quantile(judged.values) * (1 + BASE_MARGIN + share), share


def headroom_words() -> str:
    """The rule in words, for the line above the suggestions."""
    fixed = ", ".join(f"{figure.label} x{figure.headroom:g}" for figure in FIGURES.values()
                      if figure.headroom is not None)
    return f"times: upper decile of the rounds + {BASE_MARGIN:.0%} + the share spent waiting for a CPU; {fixed}"


def _fixed_figures(record: ModelRecord) -> dict[str, float]:
    """The size and memory of ``record`` that a budget with a fixed headroom starts from, MiB."""
    found: dict[str, float] = {}
    if record.size_bytes is not None:
        found["mb"] = record.size_bytes / MIB
    if record.memory is not None:
        if record.memory.peak_bytes is not None:
            # A loader that allocates nothing measures a peak of 0, and a
            # budget of 0 is no valid marker: at least 1 MiB, the allocator's noise.
            found["peak_mb"] = max(record.memory.peak_bytes / MIB, 1.0)
        if record.memory.leak_bytes is not None:
            # A leak budget of zero fails on a page of noise: at least 1 MiB.
            found["leak_mb"] = max(record.memory.leak_bytes / MIB, 0.5)
    return found


def _time_rounds(figure: str, record: ModelRecord, clock: str) -> tuple[Samples, str, Samples, Samples, str] | None:
    """The rounds a budget on the time ``figure`` judges and their clock, the same rounds in wall and own
    time, and what each round is; None for a time this rule sets no budget for."""
    if figure in ("ms", "warm_ms"):
        wall, own, _ = record.rounds(figure)
        return (*record.timing(figure, clock), wall, own, "rounds")
    if figure == "cold_ms" and record.cold is not None:
        cold = record.cold
        return (*cold.timing(None, clock), cold.total, cold.own_total, "fresh processes")
    return None


def suggested_limits(record: ModelRecord, clock: str) -> tuple[dict[str, float], list[str]]:
    """The budget suggested for each figure ``record`` has, by keyword in report order, rounded up to
    two significant digits; and one note per time saying what it was made of.

    ``clock``: "own" or "wall", the clock the budgets will judge times on.
    """
    fixed = _fixed_figures(record)
    limits: dict[str, float] = {}
    notes: list[str] = []
    for figure, described in FIGURES.items():
        if figure in fixed and described.headroom is not None:
            limits[figure] = round_up(fixed[figure] * described.headroom)
            continue
        rounds = _time_rounds(figure, record, clock)
        if rounds is None or not rounds[0]:
            continue
        judged, used, wall, own, counted = rounds
        limit, share = time_limit(judged, wall, own)
        limits[figure] = round_up(limit)
        notes.append(f"{figure}: p{round(UPPER_QUANTILE * 100)} of {judged.count} {counted}, {used} time, "
                     f"+{BASE_MARGIN + share:.0%} ({share:.0%} of the wall waiting for a CPU)")
    return limits, notes


def suggestions(records: list[ModelRecord], clock: str = "own") -> list[tuple[str, str]]:
    """(test node id, marker line) for every test that loaded a model: the largest suggestion of each
    figure over the models it loaded."""
    per_test: dict[str, dict[str, float]] = {}
    for record in records:
        if record.error is not None:
            continue
        limits, _ = suggested_limits(record, clock)
        for use in record.tests:
            wanted = per_test.setdefault(use.nodeid, {})
            for figure, limit in limits.items():
                wanted[figure] = max(wanted.get(figure, 0.0), limit)
    lines = []
    for nodeid, wanted in per_test.items():
        keywords = ", ".join(f"{figure}={wanted[figure]}" for figure in FIGURES if figure in wanted)
        lines.append((nodeid, f"@pytest.mark.load_budget({keywords})"))
    return lines


def write_suggestions(terminal: Any, records: list[ModelRecord], clock: str = "own") -> None:
    """The ``--loadbudget-suggest`` section of the terminal summary."""
    terminal.write_sep("=", "loadbudget suggested budgets")
    terminal.write_line(f"this run's figures plus headroom ({headroom_words()}):")
    for nodeid, marker in suggestions(records, clock):
        terminal.write_line(nodeid)
        terminal.write_line(f"    {marker}")
