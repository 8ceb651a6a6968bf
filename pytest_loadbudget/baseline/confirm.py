"""The second measurement: a suspected time regression fails only when it happens twice.

A neighbour's burst, a CPU frequency step or a page cache miss slows one set
of rounds, or one set of fresh processes; a slower model is slower in both.
Only suspects are measured again, once per model and session, so an
unchanged suite pays nothing and a regressed model one more measurement.
A timed figure whose rounds grew past the threshold without the rank test
calling it is a suspect too: a 500 ms load times 5 rounds, and 5 a side
left a 1.2x change at p = 0.06-0.36 in 5 of 20 trust benchmark reruns.

Timed rounds (load, warm-up) are judged again on both measurements' rounds
together: twice the rounds give the U test the power to tell a 1.2x change
from a machine whose speed wanders 10-15% from one round to the next; and
the second measurement's median must have grown past the threshold by
itself, so that a burst that slowed the first set alone cannot carry both.
Cold starts and a browser's loads are judged on the second measurement alone.

A timed figure that grew past the threshold with nothing allowed for (the
gauges reading as they did for the baseline, the rounds barely waiting for
a CPU) is judged again with the gauges adding nothing to its threshold: a
gauge that reads the machine slower in the second measurement alone saw a
spell that began after the first, and does not excuse the growth both
measurements show (the second measurement's wait for a CPU, which its
rounds measure themselves, is allowed for all the same). Judged at its own
gauges, a pure-Python loader at 1.2x read +18% in both measurements and
passed, its second measurement's memory copies 14% slower; replayed over
four kept trust benchmark suites, 8 more of 320 loads at 1.2x were caught,
and no load of 220 unchanged reruns failed that did not fail before. Where
the first measurement was judged at an allowance, each measurement keeps
its own: beside a memory hog a TFLite load slows more than the copies, and
judging every suspect at the lower of the two gauge readings failed 4 more
of 80 unchanged reruns there, and 2 more of 80 idle ones.

A timed figure that the machine gauges' allowance alone let pass (``excused``)
is measured again as well, and fails where the second measurement regresses
with the gauges reading the machine as they did for the baseline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pytest_loadbudget.baseline.compare import judge
from pytest_loadbudget.baseline.times import COLD, REMEASURED, TIMED
from pytest_loadbudget.budget.thresholds import Threshold
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ROUND_SERIES, ModelRecord
from pytest_loadbudget.results.samples import Samples


#: A second measurement of the model: ``remeasure(rounds, cold)`` gives a
#: copy of its record with fresh timed rounds (when ``rounds``) and fresh cold
#: runs (when ``cold``), its ``error`` set when the measurement failed; None
#: where none can be taken.
Remeasure = Callable[[bool, bool], "ModelRecord | None"]

#: What the gauges may add to the threshold of a second measurement whose first was judged with them
#: reading as for the baseline (``_calm_suspect``): nothing.
CALM = 0.0


def confirm(
    comparisons: list[Comparison], old: ModelRecord, first: ModelRecord, thresholds: dict[str, Threshold],
    remeasure: Remeasure, clock: str = "own", history: tuple[ModelRecord, ...] = (),
) -> None:
    """Judge each suspected time regression of ``first`` again with a second measurement, taken once for all.

    A suspect stays a regression only when it regresses again: timed rounds
    on both measurements' rounds together, other times on the second
    measurement alone; the note says what was found. Where no second
    measurement can be taken it stays one, and the note says it rests on one
    measurement. Timed rounds that grew past the threshold without the rank
    test calling it (``underpowered``) are measured again too, and become a
    regression where both measurements' rounds together are one.
    """
    suspects = [comparison for comparison in comparisons
                if (comparison.regression and comparison.figure in REMEASURED) or comparison.underpowered
                or comparison.excused]
    if not suspects:
        return
    cold = any(comparison.figure in COLD for comparison in suspects)
    rounds = any(comparison.figure not in COLD for comparison in suspects)
    again = remeasure(rounds, cold)
    problem = "no second measurement could be taken" if again is None else \
        f"the second measurement failed ({again.error})" if again.error is not None else ""
    if rounds and again is not None and not problem:
        first.remeasured = {name: getattr(again, name) for name in ROUND_SERIES if getattr(again, name)}
    for comparison in suspects:
        judged = (joined(first, again) if comparison.figure in TIMED else again) if again is not None else None
        cap = CALM if _calm_suspect(comparison) else None
        second = judge(comparison.figure, old, judged, thresholds.get(comparison.figure), clock, history,
                       gauge_cap=cap) if judged is not None and not problem else None
        if second is None and (comparison.underpowered or comparison.excused):
            continue  # as one measurement said, and its note says
        if second is None:
            comparison.confirmation = "not re-measured"
            comparison.add_note(f"on one measurement: {problem or 'the second measurement lacks this figure'}")
            continue
        assert judged is not None  # judged, so there was a record to judge
        over = f" over both measurements' {_round_count(judged, comparison.figure)} rounds" \
            if comparison.figure in TIMED else ""
        said = f"{second.label} {second.measured}{over}, {second.change}"
        alone = judge(comparison.figure, old, again, thresholds.get(comparison.figure), clock, history,
                      gauge_cap=cap) if comparison.figure in TIMED and again is not None else None
        if comparison.excused and alone is not None:
            _judge_excused(comparison, alone)
            continue
        if second.regression and alone is not None and not alone.grown:
            # Both sets together can be significant on the first set's strength alone: the second
            # measurement must show the growth itself.
            comparison.regression = False
            comparison.confirmation = "not confirmed"
            comparison.add_note(f"not confirmed: a second measurement was within the threshold "
                                f"({alone.label} {alone.measured}, {alone.change}; {said})")
            continue
        calmed = _gauges_not_allowed(comparison, old, judged, again, thresholds, clock, history) \
            if cap is not None and second.regression else ""
        if second.regression and comparison.underpowered:
            # The first measurement's verdict ("not significant") no longer holds: the joined rounds' notes
            # (an allowance, the machine's speed) say how the regression was judged.
            comparison.regression = True
            comparison.confirmation = "confirmed"
            comparison.note = second.note
            comparison.add_note(f"confirmed by a second measurement ({said}): together the rounds are "
                                f"significant where the first measurement's alone were not{calmed}")
            continue
        if second.regression:
            comparison.confirmation = "confirmed"
            comparison.add_note(f"confirmed by a second measurement ({said}){calmed}")
            continue
        comparison.regression = False
        comparison.confirmation = "not confirmed"
        if second.grown:
            comparison.add_note(f"not confirmed: a second measurement was noise ({said}: {second.note})")
        else:
            comparison.add_note(f"not confirmed: a second measurement was within the threshold ({said})")


def _calm_suspect(comparison: Comparison) -> bool:
    """Whether a suspect's second measurement is judged with the gauges adding nothing: a timed figure
    whose first measurement grew past the plain threshold with nothing allowed for (no gauge and no wait
    for a CPU read 5% or more beyond the baseline's)."""
    return comparison.figure in TIMED and comparison.allowance == 0.0


def _gauges_not_allowed(
    comparison: Comparison, old: ModelRecord, judged: ModelRecord, again: ModelRecord | None,
    thresholds: dict[str, Threshold], clock: str, history: tuple[ModelRecord, ...],
) -> str:
    """Where the second measurement's own gauges would have let the regression pass, what they read, for
    the note; "" where they would not have. ``judged``: both measurements' rounds, ``again`` the second's."""
    if again is None:
        return ""
    threshold = thresholds.get(comparison.figure)
    alone = judge(comparison.figure, old, again, threshold, clock, history)
    both = judge(comparison.figure, old, judged, threshold, clock, history)
    if alone is None or both is None or (alone.grown and both.regression):
        return ""
    return (f"; the second measurement's gauges read the machine {alone.allowance:.0%} slower, not allowed "
            f"for: the first measurement regressed with them reading as for the baseline")


def _judge_excused(comparison: Comparison, alone: Comparison) -> None:
    """A growth the gauges' allowance let pass, judged on the second measurement alone: a regression only
    where it regresses with the machine reading as it did for the baseline (no allowance).

    A gauge reads the machine, not this load: a load that slows less than
    its gauge hides its own regression in the allowance. A second
    measurement whose gauges read as the baseline's tests the excuse; one
    whose gauges still read slower does not (beside a memory hog, where a
    TFLite load slows more than the copies that gauge the bus, judging it at
    the second allowance gave unchanged loads a second chance to fail: 2 of
    20 reruns).
    """
    said = f"{alone.label} {alone.measured}, {alone.change}"
    if alone.regression and alone.allowance == 0.0:
        comparison.regression = True
        comparison.confirmation = "confirmed"
        comparison.add_note(f"measured again, as the allowance let it pass: with the machine as fast as for the "
                            f"baseline, a regression ({said}{': ' + alone.note if alone.note else ''})")
    elif alone.allowance > 0.0:
        comparison.add_note(f"measured again, as the allowance let it pass: the machine read slower the second "
                            f"time too ({said}: {alone.note})")
    else:
        comparison.add_note(f"measured again, as the allowance let it pass: within the threshold the second "
                            f"time ({said}{': ' + alone.note if alone.note else ''})")


def joined(first: ModelRecord, second: ModelRecord) -> ModelRecord:
    """``second`` with the rounds of ``first`` before its own, in every timed series it measured again."""
    joined = dataclasses.replace(second)
    for name in ROUND_SERIES:
        if getattr(second, name):
            setattr(joined, name, Samples(getattr(first, name).values + getattr(second, name).values))
    return joined


def _round_count(record: ModelRecord, figure: str) -> int:
    return record.rounds(figure)[0].count
