"""Figures under the tools CI runs: coverage paused around the timed rounds, other tracers named.

A trace function runs Python code at every line of the code it traces, so a
loader in Python reads several times slower under one: the rounds run with
coverage paused (its first load covered), and figures measured under any other
tracer are marked traced and never judged against untraced ones.
"""

from __future__ import annotations

import cProfile
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.measure.tracing import COVERAGE_START_VARIABLES, distortions, untraced

#: A loader in Python: a loop that a trace function slows many times over.
BUSY = textwrap.dedent(
    """
    import os, sys, time

    def busy():
        total = 0
        for step in range(20000):  # the loader's loop
            total += step
        time.sleep(float(os.environ.get("LOAD_DELAY", "0")))
        return {"total": total}

    def test_busy(load_model):
        assert load_model(busy, warmup=None)["total"] > 0
    """
)

#: A tracer of the suite's own, set around each test when TRACE is set, as a tool of the suite's might.
TRACING_CONFTEST = textwrap.dedent(
    """
    import os, sys
    import pytest

    def tracer(frame, event, arg):
        return tracer

    @pytest.fixture(autouse=True)
    def suite_tracer():
        if not os.environ.get("TRACE"):
            yield
            return
        before = sys.gettrace()
        sys.settrace(tracer)
        try:
            yield
        finally:
            sys.settrace(before)
    """
)

SUITE_TRACER = "a trace function (conftest.tracer)"
#: What would slow a fresh Python besides coverage: tox runs this suite under PYTHONDEVMODE=1.
SLOWING_VARIABLES = ("PYTHONDEVMODE", "PYTHONMALLOC", "PYTHONTRACEMALLOC")


@pytest.fixture
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment that starts a Python untraced: none of this run's coverage, dev mode, debug allocator."""
    for name in COVERAGE_START_VARIABLES + SLOWING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _record(pytester: pytest.Pytester, report: str = "loadbudget.json") -> dict[str, Any]:
    (record,) = json.loads((pytester.path / report).read_text())["models"]
    return record


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--loadbudget-rounds=6",
                              "--loadbudget-json=loadbudget.json", *args)


@pytest.mark.parametrize("core", ["ctrace", "pytrace"])
def test_coverage_is_paused_around_the_timed_rounds_and_the_first_load_stays_covered(
    pytester: pytest.Pytester, plain_environment: pytest.MonkeyPatch, core: str,
) -> None:
    """Coverage's C tracer, and its Python one (which keeps a stack of the calls it saw: a pause out of step
    with it sends every later line to the wrong frame)."""
    pytest.importorskip("pytest_cov")
    coverage = pytest.importorskip("coverage")
    plain_environment.setenv("COVERAGE_CORE", core)
    source = textwrap.dedent(
        """
        import sys

        TRACED = []

        def probe():
            TRACED.append(sys.gettrace() is not None)  # the loader's line
            return {}

        def test_probe(load_model):
            load_model(probe, warmup=None)
            assert TRACED[0], "the first load runs covered"
            assert not any(TRACED[1:]), f"the timed rounds run untraced: {TRACED}"
            assert sys.gettrace() is not None, "coverage traces the test again"
            after_the_load = True  # the test's line after the load
        """
    )
    path = pytester.makepyfile(test_probe=source)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "--loadbudget-rounds=3", "--loadbudget-json=loadbudget.json",
        "--loadbudget-report", "--cov=.", "--cov-report=",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "loadbudget: *, coverage paused around timed loads; machine *",
        "coverage paused around timed loads: the rounds ran untraced, each model's first load under it",
    ])
    record = _record(pytester)
    assert record["paused"] == ["coverage"]
    assert record["traced"] == [], "with coverage paused nothing else traced the rounds"
    assert len(record["load_ms"]["samples"]) == 3
    # The coverage data holds the loader's line (run by the first load) and the test's lines after the
    # load: coverage was handed back to the frames on the stack, not restarted without them.
    data = coverage.CoverageData(basename=str(pytester.path / ".coverage"))
    data.read()
    (measured,) = [name for name in data.measured_files() if Path(name).name == "test_probe.py"]
    lines = path.read_text().splitlines()
    loader_line = next(number for number, text in enumerate(lines, 1) if "# the loader's line" in text)
    after_line = next(number for number, text in enumerate(lines, 1) if "# the test's line after" in text)
    covered = set(data.lines(measured) or [])
    assert {loader_line, after_line} <= covered, sorted(covered)


def test_a_tracer_of_the_suite_marks_the_figures_traced(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeconftest(TRACING_CONFTEST)
    pytester.makepyfile(test_busy=BUSY)
    monkeypatch.setenv("TRACE", "1")
    result = _run(pytester, "--loadbudget-report")
    result.assert_outcomes(passed=1)
    record = _record(pytester)
    assert SUITE_TRACER in record["traced"]
    result.stdout.fnmatch_lines([
        f"busy load, warm-up traced by *{SUITE_TRACER}*: slower than untraced, and never judged against an "
        "untraced run",
        "busy *callable*python*n=6 traced*",
    ])


def test_a_traced_run_is_not_judged_against_an_untraced_baseline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeconftest(TRACING_CONFTEST)
    pytester.makepyfile(test_busy=BUSY)
    _run(pytester, "--loadbudget-save=plain").assert_outcomes(passed=1)
    monkeypatch.setenv("TRACE", "1")
    result = _run(pytester, "--loadbudget-compare=plain", "--loadbudget-report")
    # Traced, the loop reads several times slower. Under tox both runs are in dev mode too: then the
    # note says what traced each.
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"  ok         busy load * ms vs baseline * ms *not judged: traced *{SUITE_TRACER}* in the baseline's*",
    ])
    (comparison,) = [item for item in _record(pytester)["comparisons"] if item["figure"] == "ms"]
    assert comparison["grown"] and not comparison["regression"], "it grew, and the gate says why it does not fail"


def test_a_traced_saved_run_is_not_the_baseline_of_an_untraced_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeconftest(TRACING_CONFTEST)
    pytester.makepyfile(test_busy=BUSY)
    _run(pytester, "--loadbudget-save=plain").assert_outcomes(passed=1)
    monkeypatch.setenv("TRACE", "1")
    _run(pytester, "--loadbudget-save=traced").assert_outcomes(passed=1)
    assert SUITE_TRACER in _record(pytester)["traced"]
    monkeypatch.delenv("TRACE")
    # Slower than the plain run by far more than the threshold, and faster than the traced one: judged against
    # the plain run it fails, against the traced one it would pass.
    monkeypatch.setenv("LOAD_DELAY", "0.03")
    result = _run(pytester, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  REGRESSION busy load * ms vs baseline * ms (*"])
    result.stdout.no_fnmatch_line("*not judged*")


def test_fresh_processes_start_without_coverage_and_say_what_else_traced_them(
    pytester: pytest.Pytester, plain_environment: pytest.MonkeyPatch,
) -> None:
    pytester.makepyfile(test_cold_traced=textwrap.dedent(
        """
        import pytest

        def model():
            return {}

        @pytest.mark.load_budget(cold_ms=60000, cold_runs=1)
        def test_cold(load_model):
            load_model(model, warmup=None)
        """
    ))
    # Either would start coverage in a fresh Python through coverage's .pth file; dev mode is inherited.
    rcfile = pytester.makefile(".coveragerc", "[run]\nbranch = true\n")
    plain_environment.setenv("COVERAGE_PROCESS_START", str(rcfile))
    plain_environment.setenv("PYTHONDEVMODE", "1")
    result = _run(pytester, "--loadbudget-report")
    result.assert_outcomes(passed=1)
    record = _record(pytester)
    assert record["cold"]["runs"], "the cold start was measured"
    assert record["fresh_traced"] == ["Python's development mode (-X dev or PYTHONDEVMODE)"]
    result.stdout.fnmatch_lines(["model fresh processes traced by Python's development mode *: cold start and memory "
                                 "never judged against an untraced run"])


def test_distortions_name_a_profiler_and_the_debug_allocators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONMALLOC", "malloc_debug")
    profiler = cProfile.Profile()
    before = sys.getprofile()
    profiler.enable()
    try:
        found = distortions()
    finally:
        profiler.disable()
        sys.setprofile(before)
    assert "a profile function (cProfile.Profile)" in found
    if not sys.flags.dev_mode:  # dev mode installs the debug hooks itself, and says so instead
        assert "a debug memory allocator (PYTHONMALLOC=malloc_debug)" in found


def test_untraced_leaves_a_tracer_it_cannot_pause_and_names_it() -> None:
    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return tracer

    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        inside, seen = untraced(sys.gettrace)
        after = sys.gettrace()
    finally:
        sys.settrace(before)
    assert inside is tracer and after is tracer
    assert seen.paused == []
    assert any("test_untraced_leaves_a_tracer_it_cannot_pause_and_names_it.<locals>.tracer" in what
               for what in seen.traced)
