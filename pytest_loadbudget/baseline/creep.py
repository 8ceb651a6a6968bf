"""A baseline that crept: the newest saved runs all slower than the oldest of the same model, software and device.

Each run is judged against the median of the newest saved runs, so a
slowdown that passed (within the threshold, or missed on a noisy day) and
was saved becomes the baseline once three of five saved runs hold it; a
load that grows 5% a week never fails. Nothing the gate keeps remembers
where the model started: this does, over the saved runs since the last
change of artifact, device or software (a change that was saved is the
new start). Where the ``CREEP_RUNS`` newest of them are all slower than
every one of the ``CREEP_RUNS`` oldest (by chance, with nothing changed,
one time in 252) and their median grew past the figure's threshold, the
report says so. It fails nothing: the runs were judged on their day, and
a machine that slowed for good reads the same.
"""

from __future__ import annotations

import statistics

from pytest_loadbudget.baseline.compare import time_floor
from pytest_loadbudget.budget.thresholds import Threshold
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import format_ms

#: Saved runs at each end: the newest and the oldest of the model's history since its last change.
CREEP_RUNS = 5
#: How far back the history is read for the oldest runs: a bound on the files a lookup reads.
CREEP_LOOKBACK = 30


def crept(
    figure: str, history: list[tuple[ModelRecord, str]], threshold: Threshold | None, clock: str,
) -> str:
    """Why the baseline of ``figure`` crept, in words; "" where it did not.

    ``history``: the model's saved records since its last change, newest
    first, each with the name of its run (the short commit of an autosave).
    """
    if threshold is None or not history:
        return ""
    # The newest run's clock for all (own time where it has it, else wall time, as the gate falls back):
    # a machine without schedstat keeps wall times only.
    _, used = history[0][0].timing(figure, clock)
    timed = [(samples.median, name) for record, name in history
             for samples, clock_used in [record.timing(figure, used)] if samples and clock_used == used]
    if len(timed) < 2 * CREEP_RUNS:
        return ""
    newest, oldest = timed[:CREEP_RUNS], timed[-CREEP_RUNS:]
    new_medians, old_medians = [median for median, _ in newest], [median for median, _ in oldest]
    if min(new_medians) <= max(old_medians):
        return ""
    then, now = statistics.median(old_medians), statistics.median(new_medians)
    if now - then <= time_floor(threshold) or not threshold.exceeded(then, now, 1.0):
        return ""
    return (f"the baseline crept: the {CREEP_RUNS} newest saved runs ({format_ms(min(new_medians))}-"
            f"{format_ms(max(new_medians))}) are all slower than the {CREEP_RUNS} oldest of the {len(timed)} "
            f"read since its last change of artifact, device or software ({format_ms(min(old_medians))}-"
            f"{format_ms(max(old_medians))}, the oldest saved as {oldest[-1][1]}), {(now - then) / then * 100:+.0f}%"
            f", {used} time: slowdowns within the threshold that were saved, or a machine that slowed")
