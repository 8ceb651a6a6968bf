"""What counts as a regression: a threshold per figure, and the list that sets them.

``--loadbudget-compare-fail``, the ini key and a marker's ``compare_fail``
each change the figures they name and keep the others: ``ms:15%`` loosens
the load's threshold and leaves sizes and memory gated; ``FIGURE:off``
keeps a figure in the report but never fails on it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

#: The figures a run is compared on (the keys of ``compare_fail``), and the
#: words the lines and the table use for each.
FIGURE_LABELS = {
    "ms": "load", "warm_ms": "warm-up", "mb": "size", "peak_mb": "peak", "leak_mb": "leak",
    "gpu_mb": "GPU memory", "leak_tensors": "leaked tensors", "cold_ms": "cold start", "import_ms": "import",
    "first_load_ms": "first load", "cached_load_ms": "cached load",
    "predict_leak_tensors": "tensors left by predictions",
    "fleet_ms": "fleet start",
    "block_ms": "main-thread block",
}
#: The figures a run is compared on, in the order the report lists them.
FIGURES = tuple(FIGURE_LABELS)

#: What counts as a regression unless --loadbudget-compare-fail says otherwise.
#: 10% on load and warm-up: judged on own time and confirmed by a second
#: measurement, unchanged runs stayed quiet with two or four busy processes,
#: and failed on a few figures in a few of 20 idle runs where the machine
#: drifted from the speed it had when the baseline was saved
#: (docs/evidence.md, for the counts). 20% on the figures of a few fresh
#: processes or browser loads (cold_ms, import_ms, fleet_ms, first_load_ms,
#: cached_load_ms): a process's start-up, imports and page cache move more
#: than rounds within one process, and 3 runs (1 first load) give no test of
#: significance; every new run must also be slower than every old one.
#: Size: 1% and 4 KiB (baseline/compare.py), so that a model re-saved with
#: other metadata passes and one that gained a layer fails.
#: Memory is exact but for the page floors; a tensor leak (after dispose, or over
#: the same number of predictions) is any increase.
DEFAULT_COMPARE_FAIL = ("ms:10%,warm_ms:10%,mb:1%,peak_mb:10%,leak_mb:100%,gpu_mb:10%,leak_tensors:0,"
                        "cold_ms:20%,import_ms:20%,first_load_ms:20%,cached_load_ms:20%,predict_leak_tensors:0,"
                        "fleet_ms:20%,block_ms:20%")


@dataclass(frozen=True)
class Threshold:
    """Growth allowed before a figure regresses: a fraction, or an absolute amount (ms, MiB or tensors)."""

    figure: str
    amount: float
    relative: bool

    def exceeded(self, old: float, new: float, unit: float) -> bool:
        growth = new - old
        if self.relative and old <= 0:
            return growth > 0
        return growth > self.allowed(old, unit)

    def allowed(self, old: float, unit: float = 1.0) -> float:
        """The growth from ``old`` this threshold lets pass (``unit``: ms, MiB or tensors per absolute amount)."""
        return self.amount * old if self.relative else self.amount * unit

    def __str__(self) -> str:
        return f"{self.figure}:{self.amount * 100:g}%" if self.relative else f"{self.figure}:{self.amount:g}"

    def widened(self, share: float, old: float) -> Threshold:
        """This threshold with ``share`` of the baseline ``old`` more growth allowed."""
        return Threshold(self.figure, self.amount + share if self.relative else self.amount + share * old,
                         self.relative)


#: The amount that leaves a figure unjudged: compared and shown, never failing.
OFF = "off"


def parse_compare_fail(text: str) -> dict[str, Threshold | None]:
    """``ms:15%,peak_mb:5%,mb:0,leak_mb:off`` into the thresholds it names (None for ``off``);
    ArgumentTypeError says what is wrong. ``merge_thresholds`` lays them over the defaults."""
    thresholds: dict[str, Threshold | None] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        figure, separator, amount = part.partition(":")
        if not separator or figure not in FIGURES:
            raise argparse.ArgumentTypeError(
                f"{part!r}: expected FIGURE:AMOUNT with FIGURE one of {', '.join(FIGURES)} (e.g. ms:10%)"
            )
        if amount.strip() == OFF:
            thresholds[figure] = None
            continue
        relative = amount.endswith("%")
        try:
            value = float(amount[:-1] if relative else amount)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r}: {amount!r} is not a number, a percentage or {OFF!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: a threshold cannot be negative")
        thresholds[figure] = Threshold(figure, value / 100 if relative else value, relative)
    return thresholds


def merge_thresholds(base: Mapping[str, Threshold], changes: Mapping[str, Threshold | None]) -> dict[str, Threshold]:
    """``base`` with each figure ``changes`` names set to its threshold, or unjudged where it says ``off``.

    A list given to change one figure (``ms:15%``) keeps every other figure
    gated: replacing the whole list would silently stop judging sizes and
    memory for a user who only wanted a looser time threshold.
    """
    merged = {**base, **changes}
    return {figure: threshold for figure, threshold in merged.items() if threshold is not None}


def default_thresholds() -> dict[str, Threshold]:
    """What counts as a regression when nothing says otherwise (``DEFAULT_COMPARE_FAIL``)."""
    return merge_thresholds({}, parse_compare_fail(DEFAULT_COMPARE_FAIL))
