"""Absolute thresholds on sizes and memory: ``mb:0.5`` is 0.5 MiB of growth, whatever the baseline.

Each figure is judged just below and just above its threshold, in MiB, so
that an amount read in another unit (KiB, bytes) or as a share fails here.
The plugin test runs ``--loadbudget-compare-fail`` end to end on a file
that grows by 0.4 MiB and then by 0.6 MiB.
"""

from __future__ import annotations

import pytest

from pytest_loadbudget.baseline.compare import LEAK_FLOOR_BYTES, PEAK_FLOOR_BYTES, SIZE_FLOOR_BYTES, compare
from pytest_loadbudget.budget.thresholds import Threshold, parse_compare_fail
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import MIB

#: The baseline's size: large enough that 0.5 MiB is 5%, so a threshold read as a share (50%) passes both.
BASE_BYTES = 10 * MIB


def record(size: int | None = None, memory: MemoryFigures | None = None) -> ModelRecord:
    return ModelRecord(key="callable:m", name="m", format="callable", size_bytes=size, memory=memory)


def judged(figure: str, old: ModelRecord, new: ModelRecord, thresholds: str) -> Comparison:
    (comparison,) = [c for c in compare(old, new, parse_compare_fail(thresholds)) if c.figure == figure]
    return comparison


def test_an_absolute_threshold_allows_its_amount_in_mib() -> None:
    threshold = parse_compare_fail("mb:0.5")["mb"]
    assert threshold == Threshold("mb", 0.5, relative=False)
    assert threshold.allowed(BASE_BYTES, MIB) == MIB // 2
    assert not threshold.exceeded(BASE_BYTES, BASE_BYTES + MIB // 2, MIB)
    assert threshold.exceeded(BASE_BYTES, BASE_BYTES + MIB // 2 + 1, MIB)


@pytest.mark.parametrize(("grown_mib", "regresses"), [(0.4, False), (0.6, True)])
def test_size_growth_is_judged_against_mib(grown_mib: float, regresses: bool) -> None:
    new = BASE_BYTES + int(grown_mib * MIB)
    size = judged("mb", record(size=BASE_BYTES), record(size=new), "mb:0.5")
    assert size.grown is regresses and size.regression is regresses
    assert size.line == f"m size {new / MIB:.1f} MiB vs baseline 10.0 MiB (+{grown_mib * 10:.0f}%)"


def peak(num_bytes: int) -> MemoryFigures:
    return MemoryFigures(peak_bytes=num_bytes, method="vmhwm", where="fresh process", cycles=1)


@pytest.mark.parametrize(("grown_mib", "regresses"), [(1.5, False), (2.5, True)])
def test_peak_growth_is_judged_against_mib(grown_mib: float, regresses: bool) -> None:
    # Both growths are past the 1 MiB page floor: only the threshold decides.
    assert grown_mib * MIB > PEAK_FLOOR_BYTES
    old, new = record(memory=peak(100 * MIB)), record(memory=peak(100 * MIB + int(grown_mib * MIB)))
    assert judged("peak_mb", old, new, "peak_mb:2").regression is regresses


def gpu(num_bytes: int) -> MemoryFigures:
    return MemoryFigures(peak_bytes=None, method="vmhwm", where="fresh process", cycles=1,
                         device_memory=[{"source": "nvml", "peak_bytes": num_bytes}])


@pytest.mark.parametrize(("grown_mib", "regresses"), [(1.5, False), (2.5, True)])
def test_gpu_memory_growth_is_judged_against_mib(grown_mib: float, regresses: bool) -> None:
    old, new = record(memory=gpu(500 * MIB)), record(memory=gpu(500 * MIB + int(grown_mib * MIB)))
    assert judged("gpu_mb", old, new, "gpu_mb:2").regression is regresses


def cycles(step: int) -> MemoryFigures:
    """Five reloads, resident memory growing by ``step`` at every one (a leak, not allocator noise)."""
    rss = [500 * MIB + index * step for index in range(5)]
    return MemoryFigures(peak_bytes=None, method="vmhwm", where="fresh process", cycles=5, rss_after_cycles=rss)


@pytest.mark.parametrize(("grown_mib", "regresses"), [(3.6, False), (4.4, True)])
def test_leak_growth_is_judged_against_mib(grown_mib: float, regresses: bool) -> None:
    # Growth over 4 cycles, past the 2 MiB leak floor either way.
    assert grown_mib * MIB > LEAK_FLOOR_BYTES
    old, new = record(memory=cycles(0)), record(memory=cycles(int(grown_mib * MIB / 4)))
    assert judged("leak_mb", old, new, "leak_mb:4").regression is regresses


SUITE = """
    def tokenizer():
        return dict()

    def test_tokenizer(load_model):
        load_model(tokenizer, files=["vocab.bin"], warmup=None)
    """


@pytest.mark.parametrize(("grown_mib", "outcome"), [(0.4, "passed"), (0.6, "failed")])
def test_compare_fail_option_allows_half_a_mib_of_size(
    pytester: pytest.Pytester, grown_mib: float, outcome: str,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    vocab = pytester.path / "vocab.bin"
    vocab.write_bytes(b"v" * BASE_BYTES)
    options = ("--loadbudget-rounds=1", "-p", "no:randomly", "-p", "no:cacheprovider")
    pytester.runpytest(*options, "--loadbudget-save").assert_outcomes(passed=1)
    vocab.write_bytes(b"v" * (BASE_BYTES + int(grown_mib * MIB)))
    result = pytester.runpytest(*options, "--loadbudget-compare", "--loadbudget-compare-fail=mb:0.5",
                                "--loadbudget-report")
    result.assert_outcomes(**{outcome: 1})
    line = f"tokenizer size {10 + grown_mib:.1f} MiB vs baseline 10.0 MiB (+{grown_mib * 10:.0f}%, artifact changed)"
    if outcome == "failed":
        result.stdout.fnmatch_lines(["*_ test_tokenizer _*", f"loadbudget: {line}"])
    else:
        result.stdout.fnmatch_lines([f"  ok         {line}"])


@pytest.mark.parametrize(("grown_bytes", "regresses"), [(3 * 1024, False), (5 * 1024, True)])
def test_a_relative_size_threshold_needs_the_growth_past_its_floor_too(grown_bytes: int, regresses: bool) -> None:
    # 100 KiB: 1% is 1 KiB, so both growths pass the percentage; only the 4 KiB floor of metadata tells them apart.
    assert SIZE_FLOOR_BYTES == 4 * 1024
    base = 100 * 1024
    size = judged("mb", record(size=base), record(size=base + grown_bytes), "mb:1%")
    assert size.regression is regresses


def test_an_absolute_size_threshold_is_its_own_floor() -> None:
    # mb:0 asks for any growth to fail: the floor for metadata applies to relative thresholds only.
    assert judged("mb", record(size=100 * 1024), record(size=100 * 1024 + 100), "mb:0").regression
