"""Memory that grows: across load/release cycles (a leak) and across predictions on a warm model.

Two rules of the diagnosis (``diagnose.rules``), each with the floor below
which a growth is the allocator's noise and not the model's.
"""

from __future__ import annotations

from pytest_loadbudget.diagnose.advice import FIXES, Advice, prediction_fix
from pytest_loadbudget.diagnose.figures import Figures
from pytest_loadbudget.results.predictions import byte_text
from pytest_loadbudget.units import MIB, format_mib

#: Between load/release cycles RSS moves by allocator noise of a few hundred
#: KiB even without a leak; growth above this per cycle is the model's.
LEAK_MIN_BYTES_PER_CYCLE = 1 * MIB
#: Resident memory moves by a few hundred KiB over many calls without a leak;
#: growth above this over the predictions is the model's (TF.js counts
#: tensors and their bytes exactly: any growth there counts).
PREDICTION_MIN_RSS_GROWTH = 1 * MIB


def leak_advice(figures: Figures) -> Advice | None:
    per_cycle = figures.leak_per_cycle_bytes
    if per_cycle is None or per_cycle < LEAK_MIN_BYTES_PER_CYCLE:
        return None
    total = per_cycle * max(figures.cycles - 1, 1)
    return Advice(
        "leak",
        f"Memory grows by {format_mib(per_cycle)} with every reload: reuse the model",
        f"+{format_mib(per_cycle)} RSS per load/release cycle over {figures.cycles} cycles "
        f"({format_mib(total)} in all)",
        FIXES["leak"],
    )


def prediction_advice(figures: Figures) -> Advice | None:
    growth = figures.predictions
    if growth is None or growth.note:
        return None
    tensors, memory = growth.tensor_growth or 0, growth.memory_growth or 0
    exact = growth.memory_source == "numBytes"
    if tensors <= 0 and memory <= (0 if exact else PREDICTION_MIN_RSS_GROWTH):
        return None
    if tensors > 0:
        title = f"{tensors} tensors left alive by {growth.count} predictions: memory grows until the page dies"
    else:
        title = f"Memory grows by {byte_text(memory / growth.count)} with every prediction"
    return Advice("predictions", title, growth.describe(), prediction_fix(figures.runtime != "python"))
