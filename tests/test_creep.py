"""A baseline that crept is said only where the newest saved runs grew past the figure's threshold.

Every series here has its 5 newest runs all slower than its 5 oldest (the
separation a creep needs), so the threshold alone decides: growth within it
says nothing, growth past it is said. Unit tests on ``crept`` with
hand-built records, and one plugin run against hand-edited saved runs.
"""

from __future__ import annotations

import pytest

from pytest_loadbudget.baseline.compare import TIME_FLOOR_MS
from pytest_loadbudget.baseline.creep import CREEP_RUNS, crept
from pytest_loadbudget.budget.thresholds import default_thresholds, parse_compare_fail
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
# The plugin run reuses the gate's project (a model whose saved runs are edited by hand).
from test_gate import load_comparison, project, run, saved_history  # noqa: F401 - project is a fixture

#: The oldest five runs' medians, ms: 100.0-101.0, median 100.5.
OLDEST = [100.0, 100.3, 100.5, 100.8, 101.0]


def history(newest: list[float], oldest: list[float] = OLDEST) -> list[tuple[ModelRecord, str]]:
    """Saved runs, newest first, each five rounds around its median in own and wall time alike."""
    medians = list(reversed(oldest + newest))
    runs = []
    for index, median in enumerate(medians):
        rounds = Samples([median + offset for offset in (-0.2, -0.1, 0.0, 0.1, 0.2)])
        record = ModelRecord(key="callable:m", name="m", format="callable", load_ms=rounds, load_own_ms=rounds)
        runs.append((record, f"run{len(medians) - index}"))
    return runs


def above(median: float) -> list[float]:
    """Five medians from ``median`` up, 0.5 ms apart: every one slower than every one of ``OLDEST``."""
    assert median > max(OLDEST)
    return [median + step * 0.5 for step in range(CREEP_RUNS)]


def test_growth_within_a_relative_threshold_is_not_said() -> None:
    # +5%: far past the 0.5 ms time floor, and the newest all slower than the oldest, but within ms:10%.
    newest = above(105.0)
    assert 106.0 - 100.5 > TIME_FLOOR_MS and min(newest) > max(OLDEST)
    assert crept("ms", history(newest), default_thresholds()["ms"], "own") == ""
    # The same runs past a 4% threshold are said.
    assert crept("ms", history(newest), parse_compare_fail("ms:4%")["ms"], "own").startswith(
        "the baseline crept: the 5 newest saved runs (105 ms-107 ms) are all slower than the 5 oldest of the 10")


def test_growth_past_a_relative_threshold_is_said_with_the_runs_it_rests_on() -> None:
    said = crept("ms", history(above(112.0)), default_thresholds()["ms"], "own")
    assert said == ("the baseline crept: the 5 newest saved runs (112 ms-114 ms) are all slower than the 5 oldest "
                    "of the 10 read since its last change of artifact, device or software (100 ms-101 ms, the oldest "
                    "saved as run1), +12%, own time: slowdowns within the threshold that were saved, or a machine "
                    "that slowed")


@pytest.mark.parametrize(("newest_median", "said"), [(114.0, False), (116.0, True)])
def test_an_absolute_threshold_is_growth_in_ms(newest_median: float, said: bool) -> None:
    # ms:15 is 15 ms over the oldest runs' median of 100.5: +14.5 ms stays quiet, +16.5 ms is said.
    newest = above(newest_median)
    assert bool(crept("ms", history(newest), parse_compare_fail("ms:15")["ms"], "own")) is said


def test_a_figure_left_unjudged_never_creeps() -> None:
    assert crept("ms", history(above(150.0)), None, "own") == ""


def test_the_gate_judges_a_creep_against_the_compare_fail_threshold(project):  # noqa: F811 - the fixture
    # The saved runs grew 24% (20 ms, then 25 ms), each step within the default ms:10% when it was saved.
    saved_history(project, [20.0, 20.5, 21.0, 20.2, 20.8, 24.0, 25.0, 26.0, 25.5, 26.5])
    result = run(project, "--loadbudget-compare", "--loadbudget-compare-fail=ms:30%")
    result.assert_outcomes(passed=3)
    assert "crept" not in result.stdout.str() and load_comparison(project)["crept"] == ""
    result = run(project, "--loadbudget-compare", "--loadbudget-compare-fail=ms:20%")
    result.assert_outcomes(passed=3)
    assert load_comparison(project)["crept"].startswith("the baseline crept: the 5 newest saved runs (24.0 ms-26.5 ms)")
