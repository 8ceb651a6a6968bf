"""The second measurement: a suspected time regression fails only when it happens twice.

A neighbour's burst, a CPU frequency step or a page cache miss slows one set
of rounds, or one set of fresh processes; a slower model is slower in both.
Only suspects are measured again, once per model and session, so an
unchanged suite pays nothing and a regressed model one more measurement.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_loadbudget.baseline.compare import Threshold, judge
from pytest_loadbudget.baseline.times import COLD, REMEASURED
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ModelRecord


#: A second measurement of the model: ``remeasure(rounds, cold)`` gives a
#: copy of its record with fresh timed rounds (when ``rounds``) and fresh cold
#: runs (when ``cold``), its ``error`` set when the measurement failed; None
#: where none can be taken.
Remeasure = Callable[[bool, bool], "ModelRecord | None"]


def confirm(
    comparisons: list[Comparison], old: ModelRecord, thresholds: dict[str, Threshold], remeasure: Remeasure,
    clock: str = "own",
) -> None:
    """Judge each suspected time regression again on a second measurement, taken once for all of them.

    A suspect stays a regression only when the second measurement regresses
    too; the note says what the second measurement found. Where none can be
    taken it stays one, and the note says it rests on one measurement.
    """
    suspects = [comparison for comparison in comparisons if comparison.regression and comparison.figure in REMEASURED]
    if not suspects:
        return
    cold = any(comparison.figure in COLD for comparison in suspects)
    again = remeasure(any(comparison.figure not in COLD for comparison in suspects), cold)
    problem = "no second measurement could be taken" if again is None else \
        f"the second measurement failed ({again.error})" if again.error is not None else ""
    for comparison in suspects:
        second = judge(comparison.figure, old, again, thresholds.get(comparison.figure), clock) \
            if again is not None and not problem else None
        if second is None:
            comparison.confirmation = "not re-measured"
            comparison.add_note(f"on one measurement: {problem or 'the second measurement lacks this figure'}")
            continue
        said = f"{second.label} {second.measured}, {second.change}"
        if second.regression:
            comparison.confirmation = "confirmed"
            comparison.add_note(f"confirmed by a second measurement ({said})")
            continue
        comparison.regression = False
        comparison.confirmation = "not confirmed"
        if second.grown:
            comparison.add_note(f"not confirmed: a second measurement was noise ({said}: {second.note})")
        else:
            comparison.add_note(f"not confirmed: a second measurement was within the threshold ({said})")
