"""Every figure the plugin measures, described once: what it is called, its unit, and how it is gated.

A figure's key is its name everywhere a user types one: the ``load_budget``
keyword, the name in ``--loadbudget-compare-fail``, the JSON's ``figure``,
``loadbudget trend --figure``. Its label is the one wording every line,
table, chart, history and JSON name uses for it. Each module that reads,
judges or writes figures asks this registry rather than keeping a list of
its own: two lists of the same facts drift apart. How a figure is read from
a record lives with the code that reads it (``budget/check.py`` for budgets,
``baseline/compare.py`` for the gate, ``baseline/history.py`` for a history),
keyed by these keys; ``tests/test_figures_registry.py`` holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: What a figure is counted in: milliseconds, MiB (2**20 bytes) or TF.js tensors.
Unit = Literal["ms", "MiB", "tensors"]
#: What a figure is: a time, memory held (resident or device), a count, or bytes on disk.
Kind = Literal["time", "memory", "count", "bytes"]


@dataclass(frozen=True)
class Figure:
    """One figure: ``key`` as users type it, ``label`` as every report says it, in ``unit``.

    ``default_threshold``: the growth that counts as a regression unless
    ``--loadbudget-compare-fail`` says otherwise, in its syntax ("10%", "0");
    None for a figure the gate does not compare. ``headroom``: what
    ``--loadbudget-suggest`` multiplies this run's figure by (None: not
    suggested that way; a time's headroom comes from its own rounds).
    ``finding``: the diagnosis finding a budget miss of this figure usually
    comes from, whose fix the miss shows ("" where the fix depends on the run:
    a cold start's on its dominant phase, the predictions' on the runtime, a
    fleet's on what its processes fought over).
    """

    key: str
    label: str
    unit: Unit
    kind: Kind
    default_threshold: str | None
    headroom: float | None = None
    finding: str = ""

    @property
    def compared(self) -> bool:
        """Whether the regression gate compares this figure with the baseline's."""
        return self.default_threshold is not None

    @property
    def label_with_unit(self) -> str:
        """``load (ms)``, ``peak (MiB)``: a history's or a table's heading."""
        return f"{self.label} ({self.unit})"


# The default thresholds. 10% on load and warm-up: judged on own time and
# confirmed by a second measurement, unchanged runs stayed quiet with two or
# four busy processes, and failed on a few figures in a few of 20 idle runs
# where the machine drifted from the speed it had when the baseline was saved
# (docs/evidence.md, for the counts). 20% on the figures of a few fresh
# processes or browser loads (cold_ms, import_ms, fleet_ms, first_load_ms,
# cached_load_ms, block_ms): a process's start-up, imports and page cache move
# more than rounds within one process, and 3 runs (1 first load) give no test
# of significance; every new run must also be slower than every old one.
# Size: 1% and 4 KiB (baseline/compare.py), so that a model re-saved with
# other metadata passes and one that gained a layer fails. Memory is exact but
# for the page floors; a tensor leak (after dispose, or over the same number
# of predictions) is any increase.
# Headroom of a suggested budget: sizes do not move unless the artifact does,
# a peak moves by allocator pages, a leak doubles on noise.
_FIGURES = (
    Figure("ms", "load", "ms", "time", "10%", finding="graph"),
    Figure("warm_ms", "warm-up", "ms", "time", "10%", finding="warm-up"),
    Figure("mb", "size", "MiB", "bytes", "1%", headroom=1.1, finding="size"),
    Figure("peak_mb", "peak", "MiB", "memory", "10%", headroom=1.25, finding="peak"),
    Figure("leak_mb", "leak", "MiB", "memory", "100%", headroom=2.0, finding="leak"),
    Figure("gpu_mb", "GPU memory", "MiB", "memory", "10%", finding="gpu"),
    Figure("leak_tensors", "leaked tensors", "tensors", "count", "0", finding="tensors"),
    Figure("cold_ms", "cold start", "ms", "time", "20%"),
    Figure("import_ms", "import", "ms", "time", "20%", finding="import"),
    Figure("first_load_ms", "first load", "ms", "time", "20%"),
    Figure("cached_load_ms", "cached load", "ms", "time", "20%"),
    Figure("predict_leak_tensors", "tensors left by predictions", "tensors", "count", "0"),
    # Budgeted and followed by a history; the gate does not compare it.
    Figure("predict_leak_mb", "memory left by predictions", "MiB", "memory", None),
    Figure("fleet_ms", "fleet start", "ms", "time", "20%"),
    Figure("block_ms", "main-thread block", "ms", "time", "20%", finding="main-thread"),
)

#: Every figure by key, in the order reports list them.
FIGURES: dict[str, Figure] = {figure.key: figure for figure in _FIGURES}
#: The figures the regression gate compares (the names of ``--loadbudget-compare-fail``), in report order.
COMPARED: tuple[str, ...] = tuple(key for key, figure in FIGURES.items() if figure.compared)
