"""Verdicts of a run against its baseline: what regresses, what is noise, and how it reads."""

from __future__ import annotations

import argparse
import json
import textwrap

import pytest

from pytest_loadbudget.baseline.compare import (
    LEAK_FLOOR_BYTES,
    MIN_SAMPLES,
    PEAK_FLOOR_BYTES,
    TIME_FLOOR_MS,
    compare,
)
from pytest_loadbudget.budget.thresholds import Threshold, default_thresholds, merge_thresholds, parse_compare_fail
from pytest_loadbudget.report.terminal import baseline_cell
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.record import ModelRecord, merge_records
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB

THRESHOLDS = parse_compare_fail("ms:30%,warm_ms:30%,mb:0,peak_mb:10%,leak_mb:100%")
BASE = [100.0, 101.0, 102.0, 103.0, 104.0]


def record(
    load: list[float] | None = None, size: int | None = None, memory: MemoryFigures | None = None,
    name: str = "model", digest: str | None = None,
) -> ModelRecord:
    return ModelRecord(key="callable:m", name=name, format="callable", load_ms=Samples(list(load or [])),
                       size_bytes=size, memory=memory, artifact_sha256=digest)


def by_figure(old: ModelRecord, new: ModelRecord, same_machine: bool = True) -> dict[str, Comparison]:
    return {c.figure: c for c in compare(old, new, THRESHOLDS, same_machine=same_machine)}


def test_a_slower_load_in_every_round_is_a_regression() -> None:
    slower = [150.0, 151.0, 152.0, 153.0, 154.0]
    result = by_figure(record(BASE), record(slower))["ms"]
    assert result.regression and result.note == ""
    assert result.change == "+49%"
    # Every new round above every old one: p = 1/252.
    assert result.line == "model load 152 ms vs baseline 102 ms (+49%, p=0.00397, n=5/5, wall time)"
    assert result.verdict_line() == f"REGRESSION {result.line}"


def test_an_unchanged_load_is_ok() -> None:
    result = by_figure(record(BASE), record([101.0, 100.5, 103.0, 102.0, 104.5]))["ms"]
    assert not result.regression and result.note == ""
    assert result.verdict_line() == "ok         model load 102 ms vs baseline 102 ms (+0%, p=0.458, n=5/5, wall time)"


def test_growth_that_is_not_significant_is_not_flagged() -> None:
    # The median grew 45%, but two new rounds are among the fastest: U = 16, p = 69/252.
    result = by_figure(record(BASE), record([99.0, 100.5, 148.0, 150.0, 152.0]))["ms"]
    assert not result.regression
    assert result.note == "not significant (p=0.274 >= 0.05): noise"


def test_too_few_samples_are_never_a_regression() -> None:
    result = by_figure(record(BASE[: MIN_SAMPLES - 1]), record([200.0] * (MIN_SAMPLES - 1)))["ms"]
    assert not result.regression
    assert result.note == f"too few samples to call a regression (need {MIN_SAMPLES} a side)"


def test_fast_rounds_within_the_baseline_keep_a_significant_growth_from_failing() -> None:
    # 45% up and significant, but the fastest fifth of the new rounds is below the baseline's median.
    base = [100.0 + index for index in range(10)]
    result = by_figure(record(base), record([103.0, 103.5, 104.0] + [150.0 + index for index in range(7)]))["ms"]
    assert "p=0.00859" in result.line
    assert not result.regression
    assert result.note == "the fastest new rounds are within the baseline's spread: noise"
    # One fast round among five no longer keeps a run whose other rounds all grew from failing.
    assert by_figure(record(BASE), record([101.5, 148.0, 150.0, 152.0, 154.0]))["ms"].regression


def test_growth_below_the_time_floor_is_noise_whatever_its_percentage() -> None:
    tiny = [0.10, 0.11, 0.12, 0.13, 0.14]
    doubled = [t + TIME_FLOOR_MS * 0.9 for t in tiny]
    result = by_figure(record(tiny), record(doubled))["ms"]
    # +375% and significant (every new round above every old one), but 0.45 ms: below the floor.
    assert result.line == "model load 0.57 ms vs baseline 0.12 ms (+375%, p=0.00397, n=5/5, wall time)"
    assert not result.grown and not result.regression and result.note == ""
    # An absolute threshold below the floor is the user's own floor.
    for amount, regresses in ((TIME_FLOOR_MS * 0.5, True), (TIME_FLOOR_MS * 0.95, False)):
        (load,) = [c for c in compare(record(tiny), record(doubled), parse_compare_fail(f"ms:{amount}"))
                   if c.figure == "ms"]
        assert load.regression is regresses and load.note == ""


def test_size_is_exact_one_byte_more_regresses() -> None:
    assert by_figure(record(size=1000), record(size=1001))["mb"].regression
    same = by_figure(record(size=1000), record(size=1000))["mb"]
    assert not same.regression and same.change == "+0%"
    assert not by_figure(record(size=1000), record(size=900))["mb"].regression


def test_size_line_says_whether_the_artifact_changed() -> None:
    result = by_figure(record(size=MIB, digest="a"), record(size=2 * MIB, digest="b"))["mb"]
    assert result.line == "model size 2.00 MiB vs baseline 1.00 MiB (+100%, artifact changed)"


def peak(num_bytes: int) -> MemoryFigures:
    return MemoryFigures(peak_bytes=num_bytes, method="vmhwm", where="fresh process", cycles=1)


def test_peak_growth_below_a_page_floor_is_not_a_regression() -> None:
    small = 2 * PEAK_FLOOR_BYTES
    # +25% of a small peak, but less than the floor in bytes.
    assert not by_figure(record(memory=peak(small)), record(memory=peak(small + PEAK_FLOOR_BYTES // 2)))["peak_mb"].regression
    big = 100 * MIB
    assert by_figure(record(memory=peak(big)), record(memory=peak(big * 12 // 10)))["peak_mb"].regression


def cycles(steps: list[int]) -> MemoryFigures:
    rss = [500 * MIB]
    for step in steps:
        rss.append(rss[-1] + step)
    return MemoryFigures(peak_bytes=None, method="vmhwm", where="fresh process", cycles=len(rss), rss_after_cycles=rss)


def test_a_leak_regresses_only_when_rss_grew_in_every_cycle() -> None:
    old = record(memory=cycles([0, 0, 0, 0]))
    steady = by_figure(old, record(memory=cycles([3 * MIB] * 4)))["leak_mb"]
    assert steady.regression
    # The same median growth, but RSS fell back once: allocator noise.
    noisy = by_figure(old, record(memory=cycles([3 * MIB, 3 * MIB, -2 * MIB, 3 * MIB])))["leak_mb"]
    assert not noisy.regression
    assert noisy.note == "RSS did not grow in every cycle: allocator noise, not a leak"
    below_floor = by_figure(old, record(memory=cycles([LEAK_FLOOR_BYTES // 8] * 4)))["leak_mb"]
    assert not below_floor.regression


def test_a_baseline_from_another_machine_never_fails() -> None:
    result = by_figure(record(size=1000), record(size=2000), same_machine=False)["mb"]
    assert not result.regression
    assert result.grown
    assert result.note == "baseline from another machine: not failing (--loadbudget-compare-any-machine to fail)"


def test_only_the_figures_both_runs_have_are_compared() -> None:
    assert set(by_figure(record(BASE), record(BASE, size=10))) == {"ms"}


def test_thresholds_parse_and_say_what_is_wrong() -> None:
    assert parse_compare_fail("ms:10%, mb:0.5, leak_mb:off") == {
        "ms": Threshold("ms", 0.10, relative=True), "mb": Threshold("mb", 0.5, relative=False), "leak_mb": None,
    }
    for text, problem in [
        ("speed:10%", "'speed:10%': expected FIGURE:AMOUNT with FIGURE one of ms, warm_ms, mb, peak_mb, leak_mb, "
                      "gpu_mb, leak_tensors, cold_ms, import_ms, first_load_ms, cached_load_ms, "
                      "predict_leak_tensors, fleet_ms, block_ms (e.g. ms:10%)"),
        ("ms:fast", "'ms:fast': 'fast' is not a number, a percentage or 'off'"),
        ("ms:-5%", "'ms:-5%': a threshold cannot be negative"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError) as raised:
            parse_compare_fail(text)
        assert str(raised.value) == problem


def test_a_list_changes_the_figures_it_names_and_off_removes_one() -> None:
    defaults = default_thresholds()
    merged = merge_thresholds(defaults, parse_compare_fail("ms:15%,leak_mb:off"))
    assert merged["ms"] == Threshold("ms", 0.15, relative=True)
    assert "leak_mb" not in merged
    assert {figure: merged[figure] for figure in merged if figure != "ms"} == {
        figure: threshold for figure, threshold in defaults.items() if figure not in ("ms", "leak_mb")}


def test_comparisons_travel_typed_through_json() -> None:
    new = record(BASE, size=10)
    new.comparisons = compare(record([50.0] * 5, size=5), new, THRESHOLDS)
    again = ModelRecord.from_dict(new.to_dict())
    assert again.comparisons == new.comparisons
    assert all(isinstance(c, Comparison) for c in again.comparisons)
    # So do the second measurement's rounds, as samples; a report without them reads as none taken.
    new.remeasured = {"load_ms": Samples([120.0, 121.0, 122.0])}
    assert ModelRecord.from_dict(json.loads(json.dumps(new.to_dict()))).remeasured == new.remeasured
    assert again.remeasured == {}
    # A report written before ``change`` existed still loads.
    old_style = {"figure": "ms", "line": "m load 1 ms vs baseline 1 ms (+0%)", "regression": False, "note": ""}
    assert Comparison.from_dict(old_style).change == ""


def test_baseline_column_of_a_model_whose_name_has_a_space() -> None:
    old, new = record(BASE, size=1000, name="my model"), record(BASE, size=1200, name="my model")
    new.comparisons = compare(old, new, THRESHOLDS)
    assert baseline_cell(new) == "REGRESSION size +20%"
    unchanged = record(BASE, name="my model")
    unchanged.comparisons = compare(old, unchanged, THRESHOLDS)
    assert baseline_cell(unchanged) == "ok load +0%"


def test_baseline_column_in_the_report_for_a_model_named_with_a_space(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent(
        """
        class Model:
            pass

        def loader():
            return Model()

        def test_it(load_model):
            load_model(loader, name="my model", warmup=None)
        """
    ))
    options = ["--loadbudget-rounds=3", "-p", "no:randomly", "-p", "no:cacheprovider"]
    pytester.runpytest(*options, "--loadbudget-save").assert_outcomes(passed=1)
    result = pytester.runpytest(*options, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=1)
    (row,) = [line for line in result.outlines if line.startswith("my model ")]
    # A function's load grows by far less than the time floor: never a regression.
    assert row.split("  ")[-1].split(" ")[:2] == ["ok", "load"], row


def test_merged_worker_records_keep_the_verdicts_with_the_second_measurement_they_rest_on() -> None:
    unjudged, judged_one = record(BASE), record(BASE)
    judged_one.comparisons = compare(record(BASE), record([150.0] * 5), THRESHOLDS)
    judged_one.remeasured = {"load_ms": Samples([151.0] * 5)}
    (merged,) = merge_records([unjudged, judged_one])
    assert merged.comparisons == judged_one.comparisons and merged.remeasured == judged_one.remeasured


def test_off_leaves_the_figures_named_after_it_in_the_list() -> None:
    assert parse_compare_fail("leak_mb:off,ms:15%") == {"leak_mb": None, "ms": Threshold("ms", 0.15, True)}


def test_an_absolute_time_threshold_widens_by_a_share_of_the_baseline_in_ms() -> None:
    # ms:5 on a 100 ms load, 20% allowed for a measurably slower machine: 5 + 20 ms.
    widened = Threshold("ms", 5.0, False).widened(0.2, 100.0)
    assert widened == Threshold("ms", 25.0, False)
    assert widened.allowed(100.0) == 25.0
    assert Threshold("ms", 0.1, True).widened(0.2, 100.0) == Threshold("ms", pytest.approx(0.3), True)
