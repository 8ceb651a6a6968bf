"""Comparing a run with a saved one: what counts as a regression.

Sizes are exact: any growth past the tolerance is a regression. Times regress
only when the median grew past the threshold *and* a one-sided Mann-Whitney U
test on the raw samples agrees (p below ``alpha``, with at least
``MIN_SAMPLES`` on each side) *and* even the fastest new round is slower than
the baseline's median: a noisy round, or a process that ran slow, cannot fail
a build by itself.
Memory peaks are a single reading from a fresh process, which repeats to
within a few pages, so they are judged on the threshold alone. A leak
regresses only when RSS also grew at every one of the cycles, as a leak does
and allocator noise does not. Growth below a floor (1 ms, 1 MiB of peak,
2 MiB of leak) is noise whatever its percentage.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pytest_loadbudget.baseline.significance import mann_whitney_greater
from pytest_loadbudget.results.comparison import FIGURE_LABELS, Comparison
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB, format_mib, format_ms

#: 0.05, not lower: the threshold and the fastest-round condition already keep
#: noise out, and a slow load gets only 5 rounds, where one overlapping round
#: gives p = 0.016.
ALPHA = 0.05
#: With 5 samples a side the smallest one-sided p is 1/252 = 0.004, below ALPHA.
MIN_SAMPLES = 5
FIGURES = tuple(FIGURE_LABELS)
#: Changes of a peak below this are allocator page granularity, not the model.
PEAK_FLOOR_BYTES = MIB
#: Changes of a median time below this are timer and scheduler noise, whatever their percentage.
TIME_FLOOR_MS = 1.0
#: A leak's growth per cycle must reach this at every cycle: RSS moves by pages and arenas.
LEAK_STEP_FLOOR_BYTES = MIB // 4
#: Leak changes below this are noise: a model that leaks 0.7 MiB per reload
#: (Keras 3 loading .h5, measured here) reads anywhere from 2.8 to 5.5 MiB over 5 cycles.
LEAK_FLOOR_BYTES = 2 * MIB


@dataclass(frozen=True)
class Threshold:
    """Growth allowed before a figure regresses: a fraction, or an absolute amount (ms or MiB)."""

    figure: str
    amount: float
    relative: bool

    def exceeded(self, old: float, new: float, unit: float) -> bool:
        growth = new - old
        if self.relative:
            return growth > self.amount * old if old > 0 else growth > 0
        return growth > self.amount * unit

    def __str__(self) -> str:
        return f"{self.figure}:{self.amount * 100:g}%" if self.relative else f"{self.figure}:{self.amount:g}"


def parse_compare_fail(text: str) -> dict[str, Threshold]:
    """``ms:10%,peak_mb:5%,mb:0`` into thresholds; ArgumentTypeError says what is wrong."""
    thresholds: dict[str, Threshold] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        figure, separator, amount = part.partition(":")
        if not separator or figure not in FIGURES:
            raise argparse.ArgumentTypeError(
                f"{part!r}: expected FIGURE:AMOUNT with FIGURE one of {', '.join(FIGURES)} (e.g. ms:10%)"
            )
        relative = amount.endswith("%")
        try:
            value = float(amount[:-1] if relative else amount)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: {amount!r} is not a number or a percentage") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: a threshold cannot be negative")
        thresholds[figure] = Threshold(figure, value / 100 if relative else value, relative)
    return thresholds


def compare(
    old: ModelRecord, new: ModelRecord, thresholds: dict[str, Threshold], same_machine: bool = True
) -> list[Comparison]:
    """Each figure both records have, judged against its threshold."""
    artifact = ""
    if old.artifact_sha256 and new.artifact_sha256:
        artifact = "same artifact" if old.artifact_sha256 == new.artifact_sha256 else "artifact changed"
    results = []
    for figure, old_samples, new_samples in (("ms", old.load_ms, new.load_ms), ("warm_ms", old.warm_ms, new.warm_ms)):
        if old_samples and new_samples:
            results.append(_compare_times(figure, old, old_samples, new_samples, thresholds.get(figure), artifact))
    if old.size_bytes is not None and new.size_bytes is not None:
        results.append(_compare_bytes("mb", new.name, old.size_bytes, new.size_bytes, thresholds.get("mb"), artifact))
    if old.memory is not None and new.memory is not None:
        if old.memory.peak_bytes is not None and new.memory.peak_bytes is not None:
            results.append(_compare_bytes("peak_mb", new.name, old.memory.peak_bytes, new.memory.peak_bytes,
                                          thresholds.get("peak_mb"), artifact, floor=PEAK_FLOOR_BYTES))
        old_leak, new_leak = old.memory.leak_bytes, new.memory.leak_bytes
        if old_leak is not None and new_leak is not None:
            leak = _compare_bytes("leak_mb", new.name, old_leak, new_leak, thresholds.get("leak_mb"), artifact,
                                  floor=LEAK_FLOOR_BYTES)
            if leak.regression and not _grows_every_cycle(new.memory.rss_after_cycles):
                leak.regression = False
                leak.note = "RSS did not grow in every cycle: allocator noise, not a leak"
            results.append(leak)
    if not same_machine:
        for result in results:
            if result.regression:
                result.regression = False
                result.note = "baseline from another machine: not failing (--loadbudget-compare-any-machine to fail)"
    return results


def _compare_times(
    figure: str, old: ModelRecord, old_samples: Samples, new_samples: Samples,
    threshold: Threshold | None, artifact: str,
) -> Comparison:
    old_median, new_median = old_samples.median, new_samples.median
    p_value = mann_whitney_greater(old_samples.values, new_samples.values)
    n_old, n_new = old_samples.count, new_samples.count
    change = _change(old_median, new_median)
    details = [change, f"p={p_value:.3g}", f"n={n_new}/{n_old}"] + ([artifact] if artifact else [])
    line = (f"{old.name} {FIGURE_LABELS[figure]} {format_ms(new_median)} vs baseline {format_ms(old_median)} "
            f"({', '.join(details)})")
    grown = (
        threshold is not None
        and new_median - old_median > TIME_FLOOR_MS
        and threshold.exceeded(old_median, new_median, 1.0)
    )
    note = _why_noise(p_value, min(n_old, n_new), new_samples.minimum, old_median) if grown else ""
    return Comparison(figure, line, regression=grown and not note, note=note, change=change)


def _why_noise(p_value: float, fewest: int, fastest_new: float, old_median: float) -> str:
    """Why a median that grew past its threshold is still noise; "" for a regression."""
    if fewest < MIN_SAMPLES:
        return f"too few samples to call a regression (need {MIN_SAMPLES} a side)"
    if p_value >= ALPHA:
        return f"not significant (p={p_value:.3g} >= {ALPHA:g}): noise"
    if fastest_new <= old_median:
        # Rounds within one process agree more with each other than processes
        # do, so a test on them alone flags a process that happened to run
        # slow. A slower model is slower in every round: its fastest round is
        # above the baseline's median.
        return "the fastest new round is within the baseline's spread: noise"
    return ""


def _compare_bytes(
    figure: str, name: str, old: int, new: int, threshold: Threshold | None, artifact: str, floor: int = 0,
) -> Comparison:
    change = _change(old, new)
    details = [change] + ([artifact] if artifact else [])
    line = f"{name} {FIGURE_LABELS[figure]} {format_mib(new)} vs baseline {format_mib(old)} ({', '.join(details)})"
    regression = threshold is not None and new - old > floor and threshold.exceeded(old, new, MIB)
    return Comparison(figure, line, regression, change=change)


def _grows_every_cycle(rss_after_cycles: list[int]) -> bool:
    """A leak adds memory at every reload; allocator noise goes up and down."""
    steps = [after - before for before, after in zip(rss_after_cycles, rss_after_cycles[1:])]
    return bool(steps) and min(steps) >= LEAK_STEP_FLOOR_BYTES


def _change(old: float, new: float) -> str:
    if old == 0:
        return "new" if new else "+0%"
    return f"{(new - old) / old * 100:+.0f}%"
