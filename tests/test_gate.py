"""The regression gate judges own time, confirms a time regression before failing, and gates every figure.

Unit tests on hand-built records, and plugin runs against hand-edited saved
runs: no test here depends on how fast this machine is. Sleeps only lengthen
a load, so a slow round is slow however busy the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.baseline.compare import compare
from pytest_loadbudget.baseline.confirm import confirm
from pytest_loadbudget.baseline.creep import crept
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.budget.thresholds import default_thresholds, merge_thresholds, parse_compare_fail
from pytest_loadbudget.figures import COMPARED
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB

DEFAULTS = default_thresholds()
BASE = [100.0, 101.0, 102.0, 103.0, 104.0]
SLOWER = [150.0, 151.0, 152.0, 153.0, 154.0]


def record(
    load: list[float] | None = None, own: list[float] | None = None, runtime: str = "python", **fields: Any,
) -> ModelRecord:
    return ModelRecord(key="callable:m", name="m", format="callable", runtime=runtime,
                       load_ms=Samples(list(load or [])), load_own_ms=Samples(list(own or [])), **fields)


def judged(old: ModelRecord, new: ModelRecord, clock: str = "own", thresholds: str = "") -> dict[str, Comparison]:
    chosen = merge_thresholds(DEFAULTS, parse_compare_fail(thresholds))
    return {comparison.figure: comparison for comparison in compare(old, new, chosen, clock=clock)}


# Own time --------------------------------------------------------------------------------------------


def test_own_time_is_judged_wall_time_that_grew_while_waiting_for_a_cpu_is_not() -> None:
    # The new rounds took 50% longer on the wall, all of it waiting for a CPU.
    old, new = record(BASE, own=BASE), record(SLOWER, own=[value + 0.7 for value in BASE])
    load = judged(old, new)["ms"]
    assert not load.regression and load.note == ""
    assert load.line == "m load 103 ms vs baseline 102 ms (+1%, p=0.345, n=5/5, own time)"
    # The same figures judged on the wall, as --loadbudget-clock=wall asks.
    wall = judged(old, new, clock="wall")["ms"]
    assert wall.regression and wall.line.endswith("n=5/5, wall time)")


def test_own_time_that_grew_is_a_regression_whatever_the_wall_says() -> None:
    old, new = record(BASE, own=BASE), record(SLOWER, own=SLOWER)
    assert judged(old, new)["ms"].regression


def test_a_baseline_without_own_time_is_compared_wall_with_wall_and_says_so() -> None:
    # A schema 1 run, or one saved where schedstat is missing: wall samples only.
    old, new = record(BASE), record(SLOWER, own=BASE)
    load = judged(old, new)["ms"]
    assert load.regression, "wall against wall: the new own time is not set against old wall time"
    assert load.line.endswith("n=5/5, wall time)")
    assert load.note.startswith("wall time compared: the baseline has no own time")


def test_a_run_without_own_time_is_compared_wall_with_wall_and_says_so() -> None:
    load = judged(record(BASE, own=SLOWER), record(BASE))["ms"]
    assert not load.regression, "the old own time is not set against the new wall time"
    assert load.note == "wall time compared: this run has no own time (measured without /proc/thread-self/schedstat)"
    # Neither side has own time (no schedstat on either system): the line says which clock, no note needed.
    both_wall = judged(record(BASE), record(SLOWER))["ms"]
    assert both_wall.regression and both_wall.note == "" and both_wall.line.endswith("n=5/5, wall time)")


def rounds(values: list[float]) -> ModelRecord:
    """A record whose rounds waited for no CPU: own time and wall time alike."""
    return record(values, own=values)


def around(median: float) -> list[float]:
    """Five rounds around ``median``, 1 ms apart."""
    return [median + offset for offset in (-2.0, -1.0, 0.0, 1.0, 2.0)]


BASE10 = [100.0 + index for index in range(10)]


def test_the_fastest_rounds_guard_and_the_u_test_hold_on_own_time() -> None:
    old = rounds(BASE10)
    # Significant (p=0.0086), past the threshold, but the fastest fifth of the rounds overlap the baseline.
    overlapping = judged(old, rounds([103.0, 103.5, 104.0] + [150.0 + index for index in range(7)]))["ms"]
    assert not overlapping.regression and "p=0.00" in overlapping.line
    assert overlapping.note == "the fastest new rounds are within the baseline's spread: noise"
    assert judged(old, rounds([103.0, 106.0, 107.0] + [150.0 + index for index in range(7)]))["ms"].regression
    old = rounds(BASE)
    not_significant = judged(old, rounds([99.0, 100.5, 148.0, 150.0, 152.0]))["ms"]
    assert not_significant.note == "not significant (p=0.274 >= 0.05): noise"


# The machine's noise ----------------------------------------------------------------------------------


def judged_with(history: list[list[float]], chosen: int, new: ModelRecord) -> Comparison:
    """The load of ``new`` judged against saved runs of ``history`` rounds, the ``chosen`` one as baseline."""
    runs = tuple(rounds(values) for values in history)
    (load,) = [comparison for comparison in compare(runs[chosen], new, DEFAULTS, history=runs)
               if comparison.figure == "ms"]
    return load


#: Three saved runs of an unchanged model whose medians read 102, 112 and 127 ms.
SPREAD = [BASE, [110.0, 111.0, 112.0, 113.0, 114.0], [125.0, 126.0, 127.0, 128.0, 129.0]]


def test_a_run_within_the_spread_of_the_saved_runs_is_noise() -> None:
    # +11% over the median run, every round above it: past the threshold and the U test,
    # yet no slower than the slowest saved run of the unchanged model.
    load = judged_with(SPREAD, 1, rounds([123.0, 124.0, 125.0, 126.0, 127.0]))
    assert load.grown and not load.regression
    assert load.note == "within the spread of the 3 saved runs (102 ms-127 ms): noise"
    assert judged_with(SPREAD, 1, rounds([130.0, 131.0, 132.0, 133.0, 134.0])).regression


def test_with_the_spread_of_saved_runs_one_fast_round_does_not_hide_a_regression() -> None:
    # A machine whose speed wanders from round to round: one round as fast as the
    # baseline's median, the run's median above every saved run.
    wandering = rounds([111.0, 140.0, 142.0, 145.0, 150.0])
    assert judged_with(SPREAD, 1, wandering).regression
    # Without saved runs to learn the spread from, two rounds that fast keep it noise.
    alone = judged(rounds([110.0, 110.5, 111.0, 112.0, 113.0, 114.0]),
                   rounds([110.8, 111.5, 145.0, 150.0, 152.0, 153.0]))["ms"]
    assert not alone.regression and alone.note == "the fastest new rounds are within the baseline's spread: noise"


def saved_at_speeds(runs: tuple[tuple[float, float], ...]) -> tuple[ModelRecord, ...]:
    """Saved runs of five rounds around each (median, speed workload reading)."""
    return tuple(probed([value + offset for offset in (-2.0, -1.0, 0.0, 1.0, 2.0)], [probe] * 5)
                 for value, probe in runs)


def load_against(history: tuple[ModelRecord, ...], median: float, new: ModelRecord) -> Comparison:
    """The load of ``new`` judged against ``history``, the run with ``median`` as baseline."""
    (chosen,) = [run for run in history if run.load_ms.median == median]
    (comparison,) = [c for c in compare(chosen, new, DEFAULTS, history=history) if c.figure == "ms"]
    return comparison


def test_the_spread_of_the_saved_runs_is_also_judged_at_the_speed_the_machine_ran() -> None:
    # Medians 110, 112 and 118 ms, taken while the speed workload read 3.0, 3.3 and 3.45 ms: too
    # little spread to learn how far the load follows the machine, so it is taken to follow it fully:
    # per ms of that workload the runs read 36.7, 33.9 and 34.2.
    history = saved_at_speeds(((110.0, 3.0), (112.0, 3.3), (118.0, 3.45)))
    # 124 ms, above every saved run, at a speed of 3.4 ms: 36.5 per ms, within the runs' 33.9-36.7.
    noise = load_against(history, 112.0, probed([122.0, 123.0, 124.0, 125.0, 126.0], [3.4] * 5))
    assert noise.grown and not noise.regression
    assert noise.note.endswith("within the spread of the 3 saved runs at the speed the machine ran (a fixed "
                               "workload after each round: 3.40 ms now, 3.00 ms-3.45 ms then): noise")
    # 130 ms at the same speed is 38.2 per ms: slower than every run in both units.
    assert load_against(history, 112.0, probed([128.0, 129.0, 130.0, 131.0, 132.0], [3.4] * 5)).regression
    # Without the speed gauged on every side, the raw spread alone decides.
    assert load_against(history, 112.0, rounds([122.0, 123.0, 124.0, 125.0, 126.0])).regression


def test_a_slower_machine_excuses_a_load_only_as_far_as_its_saved_runs_followed_the_machine() -> None:
    # The first run was saved with the speed workload at 2.5 ms, the others at 3.0 and 3.1: the load read
    # 100-102 ms at each, so it follows the machine's speed hardly at all (an exponent near 0).
    history = saved_at_speeds(((100.0, 2.5), (101.0, 3.0), (102.0, 3.1)))
    # 115 ms at 3.0 ms is 38.3 per ms of the workload, below the first run's 40: taken as fully following
    # the machine, that run would excuse it. At the load's own following it is slower than every run.
    slower = load_against(history, 101.0, probed([113.0, 114.0, 115.0, 116.0, 117.0], [3.0] * 5))
    assert slower.regression, slower.note
    # A load that follows the machine more (85 ms at 2.3, 101 and 103 at 3.0 and 3.1: an exponent of 0.64)
    # is measured in those units from its runs as measured: the fast run brought to the baseline's speed
    # first would count the machine's speed twice and excuse 118 ms.
    following = saved_at_speeds(((85.0, 2.3), (101.0, 3.0), (103.0, 3.1)))
    slower = load_against(following, 101.0, probed([116.0, 117.0, 118.0, 119.0, 120.0], [3.0] * 5))
    assert slower.regression, slower.note


def test_each_timed_figure_is_judged_against_the_run_with_its_own_median() -> None:
    # The run with the median load (110 ms) had the fastest warm-up of the three (40 ms).
    def saved(load: float, warm: float) -> ModelRecord:
        run = rounds([load - 1.0, load - 0.5, load, load + 0.5, load + 1.0])
        run.warm_ms = run.warm_own_ms = Samples([warm - 1.0, warm - 0.5, warm, warm + 0.5, warm + 1.0])
        return run

    history = (saved(100.0, 50.0), saved(110.0, 40.0), saved(120.0, 45.0))
    new = saved(110.0, 47.0)
    judged_figures = {c.figure: c for c in compare(history[1], new, DEFAULTS, history=history)}
    assert judged_figures["ms"].line.startswith("m load 110 ms vs baseline 110 ms")
    warm = judged_figures["warm_ms"]
    assert warm.line.startswith("m warm-up 47.0 ms vs baseline 45.0 ms (+4%") and not warm.grown


def test_a_saved_run_slower_than_twice_the_threshold_is_a_burst_not_the_spread() -> None:
    # 102, 112 and 160 ms: the third was saved while something slowed the machine.
    burst = [BASE, SPREAD[1], [158.0, 159.0, 160.0, 161.0, 162.0]]
    load = judged_with(burst, 1, rounds([140.0, 141.0, 142.0, 143.0, 144.0]))
    assert load.regression, load.note


def test_every_one_of_five_saved_runs_is_in_the_spread_bar_a_burst() -> None:
    # Medians 100, 102, 104, 106 and 118 ms: the last saved in a slow spell, not slow enough to be a burst
    # (twice the 10% threshold above the median run). 116 ms (+12%) is above four of the five: noise. Leaving
    # the slowest out failed an unchanged 6 ms warm-up in 6 of 20 idle trust benchmark runs, whose five
    # saved runs had read 5.5-6.9 ms in a fast spell of the machine.
    five = [around(100.0), around(102.0), around(104.0), around(106.0), around(118.0)]
    load = judged_with(five, 2, rounds(around(116.0)))
    assert load.grown and not load.regression
    assert load.note == "within the spread of the 5 saved runs (100 ms-118 ms): noise"
    assert judged_with(five, 2, rounds(around(120.0))).regression


def test_a_burst_among_five_saved_runs_is_left_out_of_the_spread_and_the_note_says_so() -> None:
    # 126 ms is a burst (above 1.2 x 104); 116 ms stays in the spread.
    five = [around(100.0), around(101.0), around(104.0), around(116.0), around(126.0)]
    load = judged_with(five, 2, rounds(around(115.0)))
    assert load.grown and not load.regression
    assert load.note == "within the spread of the 5 saved runs bar the slowest (100 ms-116 ms): noise"


def paused(own: list[float], cpu: list[float], speed: float, refill: float, copy: float) -> ModelRecord:
    """Rounds that waited for no CPU, ``own - cpu`` of each spent off the CPU (asleep, on I/O), with the
    machine's gauges at the given readings."""
    timed = rounds(own)
    timed.load_cpu_ms = Samples(list(cpu))
    timed.warm_own_ms, timed.warm_cpu_ms = Samples([20.0] * 5), Samples([20.0] * 5)
    timed.speed_ms, timed.refill_ms = Samples([speed] * 5), Samples([refill] * 5)
    timed.stream_ms = Samples([copy] * 6)
    return timed


def test_rounds_that_paused_longer_are_judged_without_the_machine_gauges_read_after_them() -> None:
    baseline = paused(BASE, BASE, speed=3.0, refill=4.0, copy=8.0)
    # +22%, 22 ms of each round asleep, and every gauge read after the rounds 50% slower: the CPU is slow
    # for a while after a pause, and the gauges read the load's own pause as a slower machine.
    sleeping = paused(around(124.0), BASE, speed=4.5, refill=6.0, copy=12.0)
    sleeping.warm_own_ms = sleeping.warm_cpu_ms = Samples([26.0] * 5)
    verdicts = judged(baseline, sleeping)
    load = verdicts["ms"]
    assert load.regression
    assert load.note == ("the machine's speed gauges left out: these rounds paused 22.0 ms each off the CPU "
                         "(asleep or waiting on I/O; the baseline's 0.00 ms), and after a pause the CPU runs "
                         "slower for a while, which gauges read after the round would take for a slower machine")
    # The warm-up after it paused no longer itself: it ran in the slower aftermath, as the gauges did.
    warm = verdicts["warm_ms"]
    assert not warm.grown and warm.note.startswith("judged at warm_ms:10% + 50%")
    # The same growth on the CPU (no pause) is the slower machine the gauges say it is.
    busy = paused(around(124.0), around(124.0), speed=4.5, refill=6.0, copy=12.0)
    assert not judged(baseline, busy)["ms"].grown
    # A pause the baseline's rounds took as well is no reason to doubt the gauges.
    assert not judged(paused(BASE, [80.0] * 5, speed=3.0, refill=4.0, copy=8.0), sleeping)["ms"].grown
    # Nor is one that grew by no more than half what the threshold allows (5.1 ms of 102): 5 ms here, 6 there.
    assert not judged(baseline, paused(around(124.0), around(119.0), speed=4.5, refill=6.0, copy=12.0))["ms"].grown
    assert judged(baseline, paused(around(124.0), around(118.0), speed=4.5, refill=6.0, copy=12.0))["ms"].regression
    # Rounds that waited for a CPU (6% of their wall time) keep the gauges: a multi-threaded load's main
    # thread sleeps while its helpers wait for a CPU, which reads as a pause where it is contention. +40%
    # is within the gauges' 50%, not within the wait's 6%.
    crowded = paused(around(143.0), BASE, speed=4.5, refill=6.0, copy=12.0)
    crowded.load_ms = Samples([value / 0.94 for value in crowded.load_own_ms.values])
    load = judged(baseline, crowded)["ms"]
    assert not load.grown and "the machine ran 50% slower" in load.note


def test_rounds_that_waited_for_a_cpu_are_judged_with_that_wait_per_own_time_added_to_the_threshold() -> None:
    # Own time 124 ms against 102 (+22%): past 10%, within 10% + the wait of these rounds, 20% of their
    # wall time, 25% of their own time.
    waited = record([155.0, 155.0, 155.0, 155.0, 155.0], own=[122.0, 123.0, 124.0, 125.0, 126.0])
    load = judged(rounds(BASE), waited)["ms"]
    assert not load.grown and not load.regression
    assert load.note == ("judged at ms:10% + 25%: these rounds waited 20% of their wall time for a CPU, 25% of "
                         "their own time (the baseline's 0%), and own time keeps some of what contention costs")
    # Past the widened threshold it regresses, and says how it was judged.
    slower = record([180.0] * 5, own=[140.0, 141.0, 142.0, 143.0, 144.0])
    load = judged(rounds(BASE), slower)["ms"]
    assert load.regression and load.note.startswith("judged at ms:10% + 27%")
    # Heavy contention: waiting 40% of the wall time is 66% of the own time, and +55% of own time is within
    # it (a share of the wall time, which never reaches 100%, would have failed it).
    crowded = record([263.0] * 5, own=[156.0, 157.0, 158.0, 159.0, 160.0])
    load = judged(rounds(BASE), crowded)["ms"]
    assert not load.grown and load.note.startswith("judged at ms:10% + 66%: these rounds waited 40%")
    # Waiting 75% of the wall time allows no more than half did (+100%): a 3x regression still fails.
    tripled = record([1224.0] * 5, own=[304.0, 305.0, 306.0, 307.0, 308.0])
    load = judged(rounds(BASE), tripled)["ms"]
    assert load.regression and load.note.startswith("judged at ms:10% + 100%: these rounds waited 75%")
    # The wait the baseline had too is not counted twice.
    assert judged(record([155.0] * 5, own=BASE), waited)["ms"].regression
    # On the wall clock nothing is widened: the wait is what it judges.
    assert judged(rounds(BASE), waited, clock="wall")["ms"].note == ""


def probed(values: list[float], probe: list[float]) -> ModelRecord:
    """Rounds that waited for no CPU, with the speed workload's time after each."""
    timed = rounds(values)
    timed.speed_ms = Samples(list(probe))
    return timed


def test_a_machine_that_ran_slower_is_judged_with_its_slowdown_added_to_the_threshold() -> None:
    # +22% on a machine whose fixed workload took 25% longer than in the baseline's run.
    slower_machine = probed([122.0, 123.0, 124.0, 125.0, 126.0], [3.75] * 5)
    load = judged(probed(BASE, [3.0] * 5), slower_machine)["ms"]
    assert not load.grown and not load.regression
    assert load.note == ("judged at ms:10% + 25%: the machine ran 25% slower than in the baseline's run "
                         "(a fixed workload after each round: 3.75 ms now, 3.00 ms then)")
    # The same rounds on a machine as fast as the baseline's regress.
    assert judged(probed(BASE, [3.0] * 5), probed(slower_machine.load_ms.values, [3.0] * 5))["ms"].regression


def gauged(values: list[float], refill: float = 4.0, copy: float | None = None) -> ModelRecord:
    """Rounds with the warmed speed workload at 3.0 ms after each, its first run at ``refill`` ms, and
    (when given) memory copies at ``copy`` ms before the first load and after the last round."""
    record = probed(values, [3.0] * 5)
    record.refill_ms = Samples([refill] * 5)
    if copy is not None:
        record.stream_ms = Samples([copy] * 6)
    return record


def test_a_slower_cache_refill_after_each_round_is_allowed_for_like_a_slower_machine() -> None:
    # +22% with the warmed workload as fast as in the baseline's run, but its first run after each round
    # (refilling the caches) 30% slower: a neighbour saturating the memory bus slows every load.
    busy_bus = gauged([122.0, 123.0, 124.0, 125.0, 126.0], refill=5.2)
    load = judged(gauged(BASE, refill=4.0), busy_bus)["ms"]
    assert not load.grown and not load.regression
    assert load.note == ("judged at ms:10% + 30%: refilling the caches after each round took 30% longer than in "
                         "the baseline's run (a fixed workload's first run after each round: 5.20 ms now, "
                         "4.00 ms then)")
    # The same rounds with the refill as quick as the baseline's regress.
    assert judged(gauged(BASE, refill=4.0), gauged(busy_bus.load_ms.values, refill=4.0))["ms"].regression


def test_a_slower_memory_bus_is_allowed_for_even_where_the_speed_workload_did_not_move() -> None:
    # +22% with the speed workload and its refill as fast as in the baseline's run, but copies past the
    # last-level cache around the rounds 25% slower: a neighbour streaming memory.
    busy_bus = gauged([122.0, 123.0, 124.0, 125.0, 126.0], copy=10.0)
    load = judged(gauged(BASE, copy=8.0), busy_bus)["ms"]
    assert not load.grown and not load.regression
    assert load.note == ("judged at ms:10% + 25%: the memory bus ran 25% slower than in the baseline's run, as "
                         "when a neighbour streams memory (copies past the last-level cache around the rounds: "
                         "10.0 ms now, 8.00 ms then)")
    # The same rounds with copies as quick as the baseline's regress, and so do they against a baseline
    # saved before the copies were timed: nothing to compare with, nothing allowed.
    assert judged(gauged(BASE, copy=8.0), gauged(busy_bus.load_ms.values, copy=8.0))["ms"].regression
    assert judged(probed(BASE, [3.0] * 5), busy_bus)["ms"].regression


def test_each_gauge_is_compared_with_its_middle_reading_over_the_saved_runs() -> None:
    # Five saved runs of the same load; the baseline run (the median load) read the memory copies at 8.0 ms
    # in a fast spell of the bus, the other four at 9.8-10.2 ms.
    copies = [10.2, 9.8, 8.0, 10.0, 10.1]
    saved = tuple(gauged([value + offset for value in BASE], copy=copy)
                  for offset, copy in zip([-1.0, -0.5, 0.0, 0.5, 1.0], copies))
    baseline = saved[2]
    # +22% with the copies at 10.0 ms, as the saved runs mostly read them: nothing to allow for, a regression.
    slower = gauged([122.0, 123.0, 124.0, 125.0, 126.0], copy=10.0)
    (load,) = [c for c in compare(baseline, slower, DEFAULTS, history=saved) if c.figure == "ms"]
    assert load.regression and load.allowance == 0.0 and load.note == ""
    # Judged against the baseline run's reading alone, the same run would have been allowed 25%.
    assert not judged(baseline, slower)["ms"].regression
    # Copies slower than the saved runs' middle reading are allowed for, and the note says against what.
    crowded_bus = gauged([122.0, 123.0, 124.0, 125.0, 126.0], copy=13.0)
    (load,) = [c for c in compare(baseline, crowded_bus, DEFAULTS, history=saved) if c.figure == "ms"]
    assert not load.regression and load.allowance == pytest.approx(0.3)
    assert load.note.endswith("(copies past the last-level cache around the rounds: 13.0 ms now, 10.0 ms then, "
                              "the 5 saved runs' middle)")


def test_a_faster_machine_does_not_tighten_the_threshold_and_few_probes_say_nothing() -> None:
    # +8% with the workload 30% faster: a tightened threshold would call it a regression.
    faster_machine = probed([108.0, 109.0, 110.0, 111.0, 112.0], [2.1] * 5)
    load = judged(probed(BASE, [3.0] * 5), faster_machine)["ms"]
    assert not load.grown and load.note == ""
    # Two readings are not a machine's speed: the growth is judged at the plain threshold.
    few = probed([122.0, 123.0, 124.0, 125.0, 126.0], [3.75] * 2)
    assert judged(probed(BASE, [3.0] * 2), few)["ms"].regression


# Confirmation ----------------------------------------------------------------------------------------


class Remeasurer:
    """Stands in for ModelCache.remeasure_timings: hands out one second measurement and counts the calls."""

    def __init__(self, again: ModelRecord | None) -> None:
        self.again = again
        self.calls: list[tuple[bool, bool]] = []

    def __call__(self, rounds: bool, cold: bool) -> ModelRecord | None:
        self.calls.append((rounds, cold))
        return self.again


def confirmed(old: ModelRecord, new: ModelRecord, again: ModelRecord | None) -> tuple[Comparison, Remeasurer]:
    comparisons = compare(old, new, DEFAULTS)
    remeasure = Remeasurer(again)
    confirm(comparisons, old, new, DEFAULTS, remeasure)
    (load,) = [comparison for comparison in comparisons if comparison.figure == "ms"]
    return load, remeasure


def test_a_regression_the_second_measurement_does_not_show_is_not_confirmed() -> None:
    load, remeasure = confirmed(rounds(BASE), rounds(SLOWER), rounds(BASE))
    assert not load.regression and load.confirmation == "not confirmed"
    # Both measurements' rounds together: half of them as fast as the baseline.
    assert load.note == ("not confirmed: a second measurement was noise (load 127 ms over both measurements' "
                         "10 rounds, +25%: not significant (p=0.0699 >= 0.05): noise)")
    assert remeasure.calls == [(True, False)]
    load, _ = confirmed(rounds(BASE), rounds(SLOWER), rounds([90.0, 91.0, 92.0, 93.0, 94.0]))
    assert load.note == ("not confirmed: a second measurement was within the threshold (load 122 ms over both "
                         "measurements' 10 rounds, +19%)") or not load.regression


def test_a_regression_the_second_measurement_shows_too_is_confirmed() -> None:
    load, _ = confirmed(rounds(BASE), rounds(SLOWER), rounds(SLOWER))
    assert load.regression and load.confirmation == "confirmed"
    note = "confirmed by a second measurement (load 152 ms over both measurements' 10 rounds, +49%)"
    assert load.note == note
    assert load.text == f"{load.line} [{note}]"


def test_the_second_measurement_is_judged_with_the_first_ones_rounds() -> None:
    # A 20% slower model on a machine whose rounds wander: the second set alone
    # has a round as fast as the baseline's median (noise, on its own); both
    # sets together are slower in 9 rounds of 10.
    first = rounds([118.0, 121.0, 122.0, 123.0, 126.0])
    second = rounds([101.5, 102.0, 122.0, 124.0, 127.0])
    alone = judged(rounds(BASE), second)["ms"]
    assert not alone.regression
    load, _ = confirmed(rounds(BASE), first, second)
    assert load.regression and load.confirmation == "confirmed"
    assert "over both measurements' 10 rounds" in load.note


def test_the_second_measurement_must_show_the_growth_by_itself() -> None:
    # A burst slowed the first set by 50%; the second reads +8%. Together the
    # ten rounds are significant and 28% up, carried by the first set alone.
    load, _ = confirmed(rounds(BASE), rounds(SLOWER), rounds([108.0, 109.0, 110.0, 111.0, 112.0]))
    assert not load.regression and load.confirmation == "not confirmed"
    assert load.note == ("not confirmed: a second measurement was within the threshold (load 110 ms, +8%; "
                         "load 131 ms over both measurements' 10 rounds, +28%)")


def test_a_second_measurement_that_is_noise_does_not_confirm() -> None:
    noisy = rounds([99.0, 100.5, 101.0, 150.0, 152.0])
    load, _ = confirmed(rounds(BASE), rounds(SLOWER), noisy)
    assert not load.regression and load.confirmation == "not confirmed"
    assert load.note.startswith("not confirmed: a second measurement was noise (load ")


def test_a_growth_too_few_rounds_could_call_is_measured_again_only_where_the_gate_can_fail() -> None:
    # +20% with two rounds as fast as the baseline's: not significant (p=0.274), and measured again.
    scattered = [99.0, 100.5, 122.0, 123.0, 140.0]
    load, remeasure = confirmed(rounds(BASE), rounds(scattered), rounds(SLOWER))
    assert load.regression and load.confirmation == "confirmed" and remeasure.calls == [(True, False)]
    # Without a second measurement it stays what one measurement said.
    load, _ = confirmed(rounds(BASE), rounds(scattered), None)
    assert not load.regression and load.confirmation == ""
    assert load.note == "not significant (p=0.274 >= 0.05): noise"
    # Against another machine's baseline nothing can fail: nothing is measured again.
    comparisons = compare(rounds(BASE), rounds(scattered), DEFAULTS, same_machine=False)
    remeasure = Remeasurer(rounds(SLOWER))
    confirm(comparisons, rounds(BASE), rounds(scattered), DEFAULTS, remeasure)
    assert remeasure.calls == [] and not any(comparison.regression for comparison in comparisons)


def test_a_growth_the_gauges_let_pass_is_judged_again_on_a_second_measurement() -> None:
    # +22% with the memory copies 25% slower: let pass by the allowance, and measured again.
    grown = [122.0, 123.0, 124.0, 125.0, 126.0]
    baseline = gauged(BASE, copy=8.0)
    first = gauged(grown, copy=10.0)
    assert compare(baseline, first, DEFAULTS)[0].excused
    load, remeasure = confirmed(baseline, first, gauged(grown, copy=8.0))
    assert remeasure.calls == [(True, False)]
    # The bus read as it was the second time, and the load stayed slow: the allowance did not explain it.
    assert load.regression and load.confirmation == "confirmed"
    assert load.note.endswith("; measured again, as the allowance let it pass: with the machine as fast as for "
                              "the baseline, a regression (load 124 ms, +22%)")
    # The bus still slow: the allowance holds again, and the load passes saying so ...
    load, _ = confirmed(baseline, first, gauged(grown, copy=10.0))
    assert not load.regression
    assert load.note.endswith("; measured again, as the allowance let it pass: the machine read slower the second "
                              "time too (load 124 ms, +22%: judged at ms:10% + 25%: the memory bus ran 25% slower "
                              "than in the baseline's run, as when a neighbour streams memory (copies past the "
                              "last-level cache around the rounds: 10.0 ms now, 8.00 ms then))")
    # ... even past that allowance: a load can slow more than its gauge, and an unchanged one gets no second
    # chance to fail.
    load, _ = confirmed(baseline, first, gauged(SLOWER, copy=10.0))
    assert not load.regression and "the machine read slower the second time too (load 152 ms, +49%" in load.note
    # Back to the baseline's speed the second time: the first was the machine.
    load, _ = confirmed(baseline, first, gauged(BASE, copy=8.0))
    assert not load.regression
    assert load.note.endswith("within the threshold the second time (load 102 ms, +0%)")
    # Without a second measurement it passes as the first measurement said.
    load, _ = confirmed(baseline, first, None)
    assert not load.regression and load.confirmation == ""


def test_a_regression_measured_with_calm_gauges_is_confirmed_at_them_whatever_the_second_gauges_read() -> None:
    # +22% with every gauge reading as for the baseline: a regression, measured again.
    grown = [122.0, 123.0, 124.0, 125.0, 126.0]
    baseline, first = gauged(BASE, copy=8.0), gauged(grown, copy=8.0)
    assert compare(baseline, first, DEFAULTS)[0].regression
    # The second measurement's copies read the bus 25% slower: judged at its own gauges it would pass,
    # a spell that began after the first measurement's rounds excusing the growth both show.
    alone = compare(baseline, gauged(grown, copy=10.0), DEFAULTS)[0]
    assert not alone.regression and alone.allowance == pytest.approx(0.25)
    load, _ = confirmed(baseline, first, gauged(grown, copy=10.0))
    assert load.regression and load.confirmation == "confirmed"
    assert load.note == ("confirmed by a second measurement (load 124 ms over both measurements' 10 rounds, +22%); "
                         "the second measurement's gauges read the machine 25% slower, not allowed for: the first "
                         "measurement regressed with them reading as for the baseline")
    # Where the second measurement's gauges would not have changed the verdict, nothing more is said.
    load, _ = confirmed(baseline, first, gauged(grown, copy=8.0))
    assert load.note == "confirmed by a second measurement (load 124 ms over both measurements' 10 rounds, +22%)"
    # Back to the baseline's time the second time: still not confirmed, calm gauges or not.
    load, _ = confirmed(baseline, first, gauged(BASE, copy=10.0))
    assert not load.regression and load.confirmation == "not confirmed"
    # A growth the rank test did not call is judged so too, and the note says so where it mattered.
    scattered = gauged([100.5, 103.5, 122.0, 124.0, 126.0], copy=8.0)
    assert compare(baseline, scattered, DEFAULTS)[0].underpowered
    load, _ = confirmed(baseline, scattered, gauged([121.0, 122.0, 123.0, 124.0, 125.0], copy=10.0))
    assert load.regression and load.note.endswith(
        "where the first measurement's alone were not; the second measurement's gauges read the machine 25% "
        "slower, not allowed for: the first measurement regressed with them reading as for the baseline")
    # A first measurement already judged at an allowance keeps each measurement's own gauges: beside a
    # memory hog both read slower, and a load may slow more than its gauge.
    hogged = gauged([132.0, 133.0, 134.0, 135.0, 136.0], copy=9.0)
    suspect = compare(baseline, hogged, DEFAULTS)[0]
    assert suspect.regression and suspect.allowance == pytest.approx(0.125)
    load, _ = confirmed(baseline, hogged, gauged(grown, copy=10.0))
    assert not load.regression
    assert load.note.endswith("not confirmed: a second measurement was within the threshold (load 129 ms over both "
                              "measurements' 10 rounds, +26%)")


def test_a_growth_within_the_wait_for_a_cpu_is_not_measured_again() -> None:
    # The wait for a CPU is this process's own reading, not a gauge's: what it allows stands.
    waited = record([155.0] * 5, own=[122.0, 123.0, 124.0, 125.0, 126.0])
    load, remeasure = confirmed(rounds(BASE), waited, rounds(SLOWER))
    assert not load.regression and not load.excused and remeasure.calls == []
    # Nor is a growth within the plain threshold, whatever the gauges read.
    load, remeasure = confirmed(gauged(BASE, copy=8.0), gauged([106.0, 107.0, 108.0, 109.0, 110.0], copy=10.0),
                                gauged(SLOWER, copy=8.0))
    assert not load.excused and remeasure.calls == []


def test_without_a_second_measurement_the_regression_stands_and_says_so() -> None:
    first = record(SLOWER, own=SLOWER)
    load, _ = confirmed(record(BASE, own=BASE), first, None)
    assert first.remeasured == {}
    assert load.regression and load.confirmation == "not re-measured"
    assert load.note == "on one measurement: no second measurement could be taken"
    failed = record(error="RuntimeError: the disk went away")
    load, _ = confirmed(record(BASE, own=BASE), record(SLOWER, own=SLOWER), failed)
    assert load.regression
    assert load.note == "on one measurement: the second measurement failed (RuntimeError: the disk went away)"


def test_only_suspects_are_measured_again() -> None:
    load, remeasure = confirmed(record(BASE, own=BASE), record(BASE, own=BASE), record(SLOWER, own=SLOWER))
    assert not load.regression and load.confirmation == "" and remeasure.calls == []
    # A size regression is exact: nothing to measure again.
    comparisons = compare(record(size_bytes=100_000), record(size_bytes=200_000), DEFAULTS)
    remeasure = Remeasurer(None)
    confirm(comparisons, record(size_bytes=100_000), record(size_bytes=200_000), DEFAULTS, remeasure)
    assert comparisons[0].regression and remeasure.calls == []


# Every figure gated ----------------------------------------------------------------------------------


def test_every_figure_has_a_default_threshold_and_times_are_at_10_percent() -> None:
    assert set(DEFAULTS) == set(COMPARED)
    assert str(DEFAULTS["ms"]) == "ms:10%" and str(DEFAULTS["warm_ms"]) == "warm_ms:10%"
    assert str(DEFAULTS["leak_tensors"]) == "leak_tensors:0"


def test_the_new_figures_are_accepted_by_the_marker_and_the_option() -> None:
    text = "cold_ms:20%,import_ms:5,gpu_mb:1,leak_tensors:0,first_load_ms:20%,cached_load_ms:20%"
    assert set(parse_compare_fail(text)) == {"cold_ms", "import_ms", "gpu_mb", "leak_tensors", "first_load_ms",
                                             "cached_load_ms"}
    assert Budget(compare_fail="cold_ms:20%").compare_fail == "cold_ms:20%"
    with pytest.raises(argparse.ArgumentTypeError, match="FIGURE one of ms, warm_ms, .*cold_ms"):
        parse_compare_fail("cold:20%")


def cold(totals: list[float], imports: list[float] | None = None) -> ColdProfile:
    """Fresh-process runs whose cold time adds up to ``totals`` (ms), ``imports`` of it importing."""
    runs = []
    for total, imported in zip(totals, imports or [10.0] * len(totals)):
        runs.append(ColdRun(startup_ms=10.0, import_ms=imported, read_ms=1.0, load_ms=total - imported - 11.0,
                            first_call_ms=None, steady_ms=[], reload_ms=[], wall_ms=total, harness_ms=0.0,
                            read_bytes=0, peak_bytes=None, import_rss_bytes=None))
    return ColdProfile(name="m", format="callable", size_bytes=0, files=0, evict=False, runs=runs)


def test_cold_start_with_three_runs_regresses_when_every_new_run_is_slower() -> None:
    old = record(cold=cold([100.0, 110.0, 120.0]))
    slower = judged(old, record(cold=cold([150.0, 160.0, 170.0])))["cold_ms"]
    assert slower.regression
    assert slower.line == "m cold start 160 ms vs baseline 110 ms (+45%, runs 3/3, wall time)"
    # The median grew as much, but one new run is as fast as a baseline run: noise.
    overlapping = judged(old, record(cold=cold([115.0, 160.0, 170.0])))["cold_ms"]
    assert not overlapping.regression
    assert overlapping.note == "the fastest new run is within the baseline's runs: noise"
    assert not judged(old, record(cold=cold([105.0, 112.0, 118.0])))["cold_ms"].regression
    # The marker's threshold counts: a lenient one lets the slower runs pass.
    assert not judged(old, record(cold=cold([150.0, 160.0, 170.0])), thresholds="cold_ms:50%")["cold_ms"].regression


def test_cold_start_is_judged_on_own_time_where_the_child_measured_its_waits() -> None:
    old, new = cold([100.0, 110.0, 120.0]), cold([150.0, 160.0, 170.0])
    for profile in (old, new):
        for run in profile.runs:
            # Whatever exceeds 100 ms of a run was spent waiting for a CPU in its load.
            run.wait_ms = {"startup": 0.0, "import": 0.0, "read": 0.0, "load": run.wall_ms - 100.0}
    result = judged(record(cold=old), record(cold=new))["cold_ms"]
    assert not result.regression and result.line.endswith("(+0%, runs 3/3, own time)")


def test_import_regresses_on_its_own() -> None:
    old = record(cold=cold([300.0] * 3, imports=[100.0, 104.0, 108.0]))
    new = record(cold=cold([300.0] * 3, imports=[130.0, 131.0, 133.0]))
    result = judged(old, new)
    assert result["import_ms"].regression and not result["cold_ms"].regression
    assert judged(old, old)["import_ms"].verdict == "ok"


def gpu(num_bytes: int, source: str = "nvml") -> MemoryFigures:
    return MemoryFigures(peak_bytes=None, method="vmhwm", where="fresh process", cycles=1,
                         device_memory=[{"source": source, "peak_bytes": num_bytes}])


def test_gpu_memory_regresses_past_its_threshold_and_a_page_floor() -> None:
    old = record(memory=gpu(100 * MIB))
    grown = judged(old, record(memory=gpu(120 * MIB)))["gpu_mb"]
    assert grown.regression and grown.line == "m GPU memory 120 MiB vs baseline 100 MiB (+20%)"
    assert not judged(old, record(memory=gpu(105 * MIB)))["gpu_mb"].regression
    small = record(memory=gpu(2 * MIB))
    assert not judged(small, record(memory=gpu(2 * MIB + MIB // 2)))["gpu_mb"].regression, "+25%, under 1 MiB"
    other = judged(old, record(memory=gpu(120 * MIB, source="tensorflow")))["gpu_mb"]
    assert not other.regression and other.note == "measured by tensorflow, the baseline by nvml: not comparable"


def runtime_record(runtime: str, load: list[float] | None = None, **figures: Any) -> ModelRecord:
    return record(load, runtime=runtime, runtime_figures={"load_ms": load or [], **figures})


def test_any_leaked_tensor_more_than_the_baseline_regresses() -> None:
    old = runtime_record("node cpu", leak_tensors=0)
    leaked = judged(old, runtime_record("node cpu", leak_tensors=2))["leak_tensors"]
    assert leaked.regression and leaked.line == "m leaked tensors 2 vs baseline 0 (+2)"
    assert not judged(old, runtime_record("node cpu", leak_tensors=0))["leak_tensors"].regression
    assert not judged(runtime_record("node cpu", leak_tensors=3),
                      runtime_record("node cpu", leak_tensors=1))["leak_tensors"].regression


def test_a_browsers_first_and_cached_loads_regress() -> None:
    old = runtime_record("browser webgl cache", first_load_ms=100.0, reload_ms=[20.0, 22.0], cached_load_ms=21.0)
    slower = runtime_record("browser webgl cache", first_load_ms=150.0, reload_ms=[30.0, 32.0], cached_load_ms=31.0)
    result = judged(old, slower)
    assert result["first_load_ms"].regression
    assert result["first_load_ms"].line == "m first load 150 ms vs baseline 100 ms (+50%, loads 1/1, wall time)"
    assert result["cached_load_ms"].regression and result["cached_load_ms"].line.endswith("wall time)")
    unchanged = runtime_record("browser webgl cache", first_load_ms=105.0, reload_ms=[21.0, 22.0],
                               cached_load_ms=21.5)
    assert not any(comparison.regression for comparison in judged(old, unchanged).values())
    # One reload as fast as before: the cached median grew, but not every load did.
    mixed = runtime_record("browser webgl cache", first_load_ms=100.0, reload_ms=[21.0, 41.0], cached_load_ms=31.0)
    assert not judged(old, mixed)["cached_load_ms"].regression


def test_no_store_has_no_cached_load_to_compare() -> None:
    old = runtime_record("browser cpu no-store", first_load_ms=100.0, reload_ms=[90.0, 95.0], cached_load_ms=None)
    assert "cached_load_ms" not in judged(old, old) and "first_load_ms" in judged(old, old)


def test_node_loads_are_compared_on_own_time_where_node_read_its_waits() -> None:
    old = runtime_record("node wasm", BASE)
    old.load_own_ms = Samples(list(BASE))
    slower = runtime_record("node wasm", SLOWER)
    slower.load_own_ms = Samples(list(SLOWER))
    assert judged(old, slower)["ms"].regression
    busy = runtime_record("node wasm", SLOWER)
    busy.load_own_ms = Samples(list(BASE))
    assert not judged(old, busy)["ms"].regression
    # Node's first load is among its rounds: it is not judged apart as a browser's is.
    assert "first_load_ms" not in judged(runtime_record("node wasm", BASE, first_load_ms=100.0),
                                         runtime_record("node wasm", BASE, first_load_ms=500.0))


# Through the plugin ----------------------------------------------------------------------------------

SUITE = textwrap.dedent(
    """
    import os, time
    import pytest

    CALLS = []
    WAITED = [0]

    def model():
        CALLS.append(1)
        # The first SLOW_CALLS loads of the session sleep: a first measurement
        # that something slowed, as a busy moment would. SLOW_PATTERN picks
        # the loads that sleep one by one ("1"), for rounds that scatter.
        pattern = os.environ.get("SLOW_PATTERN", "")
        if len(CALLS) <= len(pattern):
            slow = pattern[len(CALLS) - 1] == "1"
        else:
            slow = len(CALLS) <= int(os.environ.get("SLOW_CALLS", "0"))
        if slow:
            time.sleep(0.05)
            # Counted as time waiting for a CPU where the test injects contention.
            WAITED[0] += 50_000_000
        return dict()

    @pytest.fixture
    def contention(monkeypatch):
        if os.environ.get("CONTENTION"):
            from pytest_loadbudget.measure import clock

            real = clock.thread_wait_ns
            # The machine's own waits still count: only the sleep is added to them.
            monkeypatch.setattr(clock, "thread_wait_ns", lambda: (real() or 0) + WAITED[0])

    def test_model(load_model, contention):
        load_model(model, warmup=None)

    def test_again(load_model, contention):
        load_model(model, warmup=None)

    def test_loads():
        # Printed for the outer test: how many loads the session ran.
        print(f"loads: {len(CALLS)}")
    """
)


def set_saved(pytester: pytest.Pytester, name: str, change: Any) -> None:
    """Let ``change`` rewrite one model's entry of the one saved run (hand-built baselines)."""
    (saved,) = (pytester.path / ".loadbudget").glob("*/*.json")
    set_model(saved, change, name)


def set_model(path: Path, change: Any, name: str = "model") -> None:
    """Let ``change`` rewrite the entry of the model called ``name`` in the saved run at ``path``."""
    document = json.loads(path.read_text())
    (model,) = [model for model in document["models"] if model["name"] == name]
    change(model)
    path.write_text(json.dumps(document))


def fast_baseline(model: dict[str, Any]) -> None:
    # 10-12 ms on the wall and in own time: the 50 ms sleeps are far above, an unslept load far below.
    samples = {"samples": [10.0, 10.5, 11.0, 11.5, 12.0]}
    model["load_ms"] = model["load_own_ms"] = samples
    steady_machine(model)


def steady_machine(model: dict[str, Any]) -> None:
    # The speed workload as slow as it gets: however busy the machine running
    # these tests, the run is never judged as on a slower machine.
    model["speed_ms"] = {"samples": [1e6] * 5}


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    for name in ("SLOW_CALLS", "SLOW_PATTERN", "CONTENTION"):
        monkeypatch.delenv(name, raising=False)
    run(pytester, "--loadbudget-save=base").assert_outcomes(passed=3)
    set_saved(pytester, "model", fast_baseline)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--loadbudget-rounds=5", "-p", "no:randomly", "-p", "no:cacheprovider", "-s",
                              "--loadbudget-json=out.json", *args)


def reported_model(pytester: pytest.Pytester) -> dict[str, Any]:
    """The one model of the run's JSON report."""
    (model,) = json.loads((pytester.path / "out.json").read_text())["models"]
    return dict(model)


def load_comparison(pytester: pytest.Pytester) -> dict[str, Any]:
    (load,) = [comparison for comparison in reported_model(pytester)["comparisons"] if comparison["figure"] == "ms"]
    return dict(load)


def test_a_slow_first_measurement_is_measured_again_and_not_confirmed(project, monkeypatch):
    # The first load and the 5 rounds sleep; the second measurement's do not.
    monkeypatch.setenv("SLOW_CALLS", "6")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    # One second measurement (a first load and 5 rounds) for both tests that use the model.
    result.stdout.fnmatch_lines(["*loads: 12"])
    load = load_comparison(project)
    assert load["regression"] is False and load["confirmation"] == "not confirmed"
    assert "+" in load["change"] and load["grown"] is True
    assert "not confirmed: a second measurement was " in load["note"]
    # The report keeps the second measurement's rounds, the ones that cleared it: none of them slept.
    model = reported_model(project)
    second = model["remeasured"]["load_ms"]["samples"]
    assert len(second) == 5 and max(second) < min(model["load_ms"]["samples"])
    assert len(model["remeasured"]["speed_ms"]["samples"]) == 5


def test_a_persistent_regression_fails_confirmed_by_a_second_measurement(project, monkeypatch):
    monkeypatch.setenv("SLOW_CALLS", "1000")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*loads: 12",
        # A busy machine running these tests may add its allowance's note before the confirmation.
        "*loadbudget: model load * ms vs baseline 11.0 ms (+*%, p=0.00397, n=5/5, * time*)"
        " [[]*confirmed by a second measurement (load * ms over both measurements' 10 rounds, +*%)[]]",
    ])
    assert load_comparison(project)["confirmation"] == "confirmed"


def test_a_growth_too_few_rounds_could_call_fails_when_a_second_measurement_makes_it_significant(
    project, monkeypatch,
):
    # The first load and three of the five rounds sleep: the median is past the threshold, but two
    # rounds as fast as ever leave the rank test at p=0.345. The second measurement's loads all sleep.
    monkeypatch.setenv("SLOW_PATTERN", "111100" + "111111")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*loads: 12"])
    load = load_comparison(project)
    assert load["regression"] is True and load["confirmation"] == "confirmed" and load["underpowered"] is True
    # The first measurement's "not significant" no longer stands; the joined rounds' verdict does.
    assert "not significant" not in load["note"] and "p=0.345" in load["line"]
    assert "together the rounds are significant where the first measurement's alone were not" in load["note"]


def test_a_growth_the_gauges_let_pass_is_measured_again_and_passes_while_they_still_read_slower(project, monkeypatch):
    # Memory copies 1000x quicker in the baseline's run than any real bus: every measurement here reads the
    # bus as slower, and its allowance lets the slept loads pass. (Without the baseline's CPU times the
    # pause of sleeping rounds is unknown, and the gauges are kept.)
    set_saved(project, "model", lambda model: model.update(stream_ms={"samples": [0.003] * 6},
                                                           load_cpu_ms={"samples": []}))
    monkeypatch.setenv("SLOW_CALLS", "1000")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*loads: 12"])  # a second measurement was taken
    load = load_comparison(project)
    assert load["regression"] is False and load["excused"] is True and load["allowance"] > 1.0
    assert "measured again, as the allowance let it pass: the machine read slower the second time too" \
        in load["note"]
    assert len(reported_model(project)["remeasured"]["stream_ms"]["samples"]) == 6


def test_a_growth_too_few_rounds_could_call_stays_noise_when_the_second_measurement_is_quick(project, monkeypatch):
    monkeypatch.setenv("SLOW_PATTERN", "111100")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*loads: 12"])
    load = load_comparison(project)
    assert load["regression"] is False and load["grown"] is True and load["confirmation"] == "not confirmed"
    assert "not significant (p=0.345 >= 0.05): noise" in load["note"]
    assert "not confirmed: a second measurement was within the threshold" in load["note"]


def test_the_speed_workload_runs_after_every_round_and_is_saved(project):
    result = run(project, "--loadbudget-compare", "--loadbudget-save=again")
    result.assert_outcomes(passed=3)
    model = reported_model(project)
    probes = model["speed_ms"]["samples"]
    assert len(probes) == len(model["load_ms"]["samples"]) == 5 and min(probes) > 0
    assert len(model["refill_ms"]["samples"]) == 5 and min(model["refill_ms"]["samples"]) > 0
    # The memory bus is gauged before the first load and after the last round, not between them.
    assert len(model["stream_ms"]["samples"]) == 6 and min(model["stream_ms"]["samples"]) > 0
    saved = max((project.path / ".loadbudget").glob("*/*again.json"))
    (stored,) = [entry for entry in json.loads(saved.read_text())["models"] if entry["name"] == "model"]
    assert stored["speed_ms"]["samples"] == probes


def saved_history(pytester: pytest.Pytester, loads: list[float]) -> None:
    """Replace the saved runs with one run per ``loads`` (oldest first), the model's rounds around each."""
    runs = sorted((pytester.path / ".loadbudget").glob("*/*.json"))
    saved, document = runs[0], json.loads(runs[0].read_text())
    for path in runs:
        path.unlink()
    for number, load in enumerate(loads, start=1):
        (model,) = [model for model in document["models"] if model["name"] == "model"]
        model["load_ms"] = model["load_own_ms"] = {"samples": around(load)}
        steady_machine(model)
        document["name"], document["created"] = f"run{number}", f"2026-01-{number:02d}T12:00:00+00:00"
        (saved.parent / f"{number:04d}_run{number}.json").write_text(json.dumps(document))


def test_a_baseline_that_crept_is_said_and_fails_nothing(project):
    # Ten saved runs of the same artifact and software, each step within the threshold: 20 ms, then 26 ms.
    saved_history(project, [20.0, 20.5, 21.0, 20.2, 20.8, 24.0, 25.0, 26.0, 25.5, 26.5])
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)  # this run's load, far below either, is judged against the newest runs
    said = ("model [callable, cpu] load: the baseline crept: the 5 newest saved runs (24.0 ms-26.5 ms) are all "
            "slower than the 5 oldest of the 10 read since its last change of artifact, device or software "
            "(20.0 ms-21.0 ms, the oldest saved as run1), +24%, own time: slowdowns within the threshold that "
            "were saved, or a machine that slowed")
    result.stdout.fnmatch_lines([f"loadbudget: crept: {said}"])
    assert load_comparison(project)["crept"] == said.split(" load: ", 1)[1]
    report = json.loads((project.path / "out.json").read_text())
    assert report["baseline_summary"]["crept"] == [said]
    # Once in the report's own lines, in the terminal and the Markdown alike; and from xdist's workers too.
    result = run(project, "--loadbudget-compare", "--loadbudget-report", "--loadbudget-markdown=report.md",
                 "-n", "2")
    assert result.stdout.str().count(said) == 1
    assert f"- crept: {said}" in (project.path / "report.md").read_text()


def test_a_creep_is_told_on_the_clock_the_saved_runs_have() -> None:
    loads = [26.5, 25.5, 26.0, 25.0, 24.0, 20.8, 20.2, 21.0, 20.5, 20.0]  # newest first
    # Saved where own time could not be measured (no schedstat): wall times only, judged as such.
    wall_only = [(record(around(load)), f"run{10 - index}") for index, load in enumerate(loads)]
    said = crept("ms", wall_only, DEFAULTS["ms"], "own")
    assert said.startswith("the baseline crept: the 5 newest saved runs (24.0 ms-26.5 ms)")
    assert "(20.0 ms-21.0 ms, the oldest saved as run1), +24%, wall time:" in said
    # An absolute threshold is its own floor: 0.4 ms past ms:0.3 is said, the 0.5 ms floor of a relative
    # threshold would not.
    small = [(rounds(around(load)), "run") for load in [10.4, 10.45, 10.5, 10.42, 10.48, 10.0, 10.02, 10.05,
                                                        10.01, 10.03]]
    assert crept("ms", small, parse_compare_fail("ms:0.3")["ms"], "own")
    assert not crept("ms", small, DEFAULTS["ms"], "own")


def test_saved_runs_that_overlap_or_changed_software_did_not_creep(project):
    # One of the newest five as fast as one of the oldest: the machine's spread, not a creep.
    saved_history(project, [20.0, 20.5, 21.0, 20.2, 20.8, 24.0, 25.0, 20.9, 25.5, 26.5])
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    assert "crept" not in result.stdout.str() and load_comparison(project)["crept"] == ""
    # The oldest runs in other software: the history starts after the change, too short to tell.
    saved_history(project, [20.0, 20.5, 21.0, 20.2, 20.8, 24.0, 25.0, 26.0, 25.5, 26.5])
    for path in sorted((project.path / ".loadbudget").glob("*/*.json"))[:3]:
        document = json.loads(path.read_text())
        document["software"]["python"] = "3.10.0"
        path.write_text(json.dumps(document))
    result = run(project, "--loadbudget-compare")
    assert "crept" not in result.stdout.str()


def test_reading_a_history_back_does_not_add_to_the_models_not_measured(project):
    # A model saved in the oldest runs only: the lookup of this run's model stops at the newest run, and
    # the runs read further back for its history are not the baseline.
    saved_history(project, [20.0, 20.5, 21.0, 20.2, 20.8, 24.0, 25.0, 26.0, 25.5, 26.5])
    for path in sorted((project.path / ".loadbudget").glob("*/*.json"))[:3]:
        document = json.loads(path.read_text())
        document["models"].append({**document["models"][0], "name": "gone", "identity": "callable:gone",
                                   "key": "callable:gone"})
        path.write_text(json.dumps(document))
    result = run(project, "--loadbudget-compare")
    assert "crept" in result.stdout.str() and "gone" not in result.stdout.str()


def test_a_baselines_older_single_run_speed_readings_do_not_excuse_a_regression(project, monkeypatch):
    # Saved by an earlier version: one cold run of the workload per round
    # (`probe_ms`), here as if the machine had been 1000x faster then. Read as
    # the machine's speed, it would allow any slowdown.
    def earlier_version(model: dict[str, Any]) -> None:
        model.pop("speed_ms")
        model["probe_ms"] = {"samples": [0.001] * 5}

    set_saved(project, "model", earlier_version)
    monkeypatch.setenv("SLOW_CALLS", "1000")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=2)
    load = load_comparison(project)
    assert load["regression"] is True
    # Nothing read as the machine's speed (a busy machine running these tests may still have the memory
    # copies' allowance noted).
    assert "the machine ran" not in load["line"] + load["note"] and "machine speed" not in load["note"]


def test_an_unchanged_model_is_not_measured_again(project):
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*loads: 6"])
    assert load_comparison(project)["confirmation"] == ""


def test_own_time_is_gated_in_a_run_whose_wall_time_grew_waiting_for_a_cpu(project, monkeypatch):
    # Every load sleeps 50 ms, all of it reported as run-queue wait: wall time
    # grows 4x against the baseline, own time does not.
    monkeypatch.setenv("SLOW_CALLS", "1000")
    monkeypatch.setenv("CONTENTION", "1")
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    load = load_comparison(project)
    assert load["regression"] is False and load["grown"] is False and load["confirmation"] == ""
    assert "own time" in load["line"]
    # Judged on the wall, as --loadbudget-clock=wall asks, the same run fails.
    result = run(project, "--loadbudget-compare", "--loadbudget-clock=wall")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*loadbudget: model load * ms vs baseline 11.0 ms (*wall time*) [[]confirmed *"])


def test_compare_fail_on_the_new_figures_is_accepted_by_the_option_the_ini_key_and_the_marker(pytester):
    pytester.makepyfile(test_it=textwrap.dedent(
        """
        import pytest

        @pytest.mark.load_budget(compare_fail="cold_ms:20%,leak_tensors:0")
        def test_it(load_model):
            load_model(dict, warmup=None)
        """
    ))
    pytester.runpytest("--loadbudget-compare-fail=cold_ms:20%,import_ms:20%,gpu_mb:1").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nloadbudget_compare_fail = first_load_ms:20%,cached_load_ms:20%\n")
    pytester.runpytest().assert_outcomes(passed=1)


COLD_SUITE = textwrap.dedent(
    """
    import pytest

    def model():
        return dict()

    @pytest.mark.load_budget(cold_runs=3)
    def test_model(load_model):
        load_model(model, warmup=None)
    """
)


def scale_cold(factor: float) -> Any:
    """Multiply every phase (and wait) of the saved cold runs by ``factor``."""
    def change(model: dict[str, Any]) -> None:
        for cold_run in model["cold"]["runs"]:
            for key in ("startup_ms", "import_ms", "read_ms", "load_ms", "wall_ms"):
                cold_run[key] *= factor
            cold_run["wait_ms"] = {phase: wait * factor for phase, wait in cold_run.get("wait_ms", {}).items()}
    return change


def test_a_cold_start_regression_with_three_runs_fails_confirmed(pytester):
    pytester.makepyfile(test_suite=COLD_SUITE)
    args = ("-p", "no:randomly", "-p", "no:cacheprovider", "--loadbudget-rounds=1")
    pytester.runpytest(*args, "--loadbudget-save").assert_outcomes(passed=1)
    # A baseline whose fresh processes took a hundredth of the time: every new run is slower.
    set_saved(pytester, "model", scale_cold(0.01))
    result = pytester.runpytest(*args, "--loadbudget-compare")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*loadbudget: model cold start * ms vs baseline * ms (+*%, runs 3/3, *)"
                                 " [[]confirmed by a second measurement (cold start * ms, +*%)[]]"])
    # Against a baseline 100 times slower than it was, the same runs are fine.
    set_saved(pytester, "model", scale_cold(1e4))
    pytester.runpytest(*args, "--loadbudget-compare").assert_outcomes(passed=1)


def test_gpu_memory_regresses_against_a_saved_run_with_less(pytester, monkeypatch):
    from test_devices import FAKE_TORCH, FRAMEWORK_SUITE, NO_NVML

    pytester.makepyfile(pynvml=NO_NVML, torch=FAKE_TORCH)
    pytester.makepyfile(test_gpu=FRAMEWORK_SUITE.format(framework="torch").replace("gpu_mb=100", "gpu_mb=1000"))
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    args = ("--loadbudget-rounds=1", "-p", "no:randomly")
    pytester.runpytest_subprocess(*args, "--loadbudget-save").assert_outcomes(passed=2)

    def set_gpu(mib: int) -> Any:
        def change(model: dict[str, Any]) -> None:
            model["memory"]["device_memory"] = [{"source": "torch", "peak_bytes": mib * 2**20}]
        return change

    set_saved(pytester, "gpu_model", set_gpu(300))
    pytester.runpytest_subprocess(*args, "--loadbudget-compare").assert_outcomes(passed=2)
    # The saved run needed 200 MiB: 300 MiB now is +50%.
    set_saved(pytester, "gpu_model", set_gpu(200))
    result = pytester.runpytest_subprocess(*args, "--loadbudget-compare")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*loadbudget: gpu_model GPU memory 300 MiB vs baseline 200 MiB (+50%*"])


def test_saved_runs_travel_the_new_verdict_fields(tmp_path: Path) -> None:
    comparison = Comparison("cold_ms", "m cold start ...", regression=True, note="confirmed by ...", change="+45%",
                            grown=True, measured="160 ms", confirmation="confirmed")
    assert Comparison.from_dict(json.loads(json.dumps(comparison.to_dict()))) == comparison
    # A report written before these fields existed.
    old = Comparison.from_dict({"figure": "ms", "line": "m", "regression": True, "note": ""})
    assert old.grown is True and old.confirmation == "" and old.measured == ""


# A baseline of several runs ---------------------------------------------------------------------------


def saved_runs(pytester: pytest.Pytester, count: int) -> list[Path]:
    """Save ``count`` runs of the suite (oldest first) and give their files."""
    for number in range(count):
        run(pytester, f"--loadbudget-save=run{number}").assert_outcomes(passed=3)
    return sorted((pytester.path / ".loadbudget").glob("*/*.json"))


def slow_baseline(model: dict[str, Any]) -> None:
    # 60-62 ms: slower than the 50 ms the regressed model now sleeps, as a
    # baseline saved in a run that a busy moment slowed would read.
    samples = {"samples": [60.0, 60.5, 61.0, 61.5, 62.0]}
    model["load_ms"] = model["load_own_ms"] = samples
    steady_machine(model)


@pytest.fixture
def history(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[pytest.Pytester, list[Path]]:
    """Three saved runs: two at 10-12 ms, the newest read slow at 60-62 ms."""
    pytester.makepyfile(test_suite=SUITE)
    for name in ("SLOW_CALLS", "SLOW_PATTERN", "CONTENTION"):
        monkeypatch.delenv(name, raising=False)
    paths = saved_runs(pytester, 3)
    for path in paths[:2]:
        set_model(path, fast_baseline)
    set_model(paths[2], slow_baseline)
    monkeypatch.setenv("SLOW_CALLS", "1000")  # the model regressed: every load sleeps 50 ms
    return pytester, paths


def test_a_regression_hidden_by_one_slow_baseline_run_is_caught_by_the_runs_before_it(history):
    pytester, _ = history
    result = run(pytester, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*loadbudget: model load * ms vs baseline 11.0 ms (+*%, p=0.00397, n=5/5, * time*"
                                 "; baseline: the median of 3 saved runs)*confirmed*"])
    # The newest run alone hides it: 50 ms is faster than its 61 ms.
    run(pytester, "--loadbudget-compare", "--loadbudget-baseline-runs=1").assert_outcomes(passed=3)


def test_the_baseline_is_the_median_of_five_saved_runs_by_default(history):
    pytester, paths = history
    # Five runs, newest last: fast, fast, slow, fast, slow. The newest three have a slow median and hide the
    # regression; the newest five have a fast one.
    paths += saved_runs(pytester, 2)[3:]
    set_model(paths[3], fast_baseline)
    set_model(paths[4], slow_baseline)
    result = run(pytester, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*loadbudget: model load * ms vs baseline 11.0 ms (*; baseline: the median of 5 saved "
                                 "runs)*confirmed*"])
    run(pytester, "--loadbudget-compare", "--loadbudget-baseline-runs=3").assert_outcomes(passed=3)


def test_the_history_of_baseline_runs_stops_where_the_artifact_changed(history):
    pytester, paths = history

    def other_artifact(model: dict[str, Any]) -> None:
        model["artifact_sha256"] = "0" * 64

    # The run before the newest measured another artifact: the two fast runs
    # behind it are not this model's history, only the newest run is.
    set_model(paths[1], other_artifact)
    result = run(pytester, "--loadbudget-compare")
    result.assert_outcomes(passed=3)
    assert "baseline: the median of" not in load_comparison(pytester)["line"]


def test_a_named_baseline_run_is_judged_alone(history):
    pytester, paths = history
    run(pytester, f"--loadbudget-compare={paths[2].stem}").assert_outcomes(passed=3)
