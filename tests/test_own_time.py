"""Own time: wall time less the loading thread's wait for a CPU, recorded, reported and judged.

No test here depends on how busy the machine is: contention is injected by
replacing the run-queue reader (``measure.clock.thread_wait_ns``) with one
that says 90% of every interval was spent waiting, or taken away (None, as
on macOS and Windows). Real readings are only checked against bounds that
hold on any machine: a sleep is not a wait for a CPU, so a loader that
sleeps 50 ms has at least 50 ms of own time.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.budget.check import check
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.measure import clock
from pytest_loadbudget.report.files import markdown
from pytest_loadbudget.report.terminal import contention_line, table_rows
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun
# Aliased: a module-level name starting with Test is taken for a test class.
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.record import TestUse as BudgetUse
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures

needs_schedstat = pytest.mark.skipif(clock.thread_schedstat() is None, reason="no /proc/thread-self/schedstat here")

#: A loader that sleeps: its wall time is at least SLEEP_MS, and so is its own time.
SLEEP_MS = 50
SLEEPY_SUITE = f"""
import time
import pytest

def sleepy():
    time.sleep({SLEEP_MS / 1000})
    return lambda x: time.sleep({SLEEP_MS / 1000})

@pytest.mark.load_budget(ms={{ms}})
def test_it(load_model):
    load_model(sleepy, warmup=1.0)
"""


def busy_machine() -> int:
    """A fake run-queue reader: 90% of any interval was spent waiting for a CPU."""
    return int(time.perf_counter_ns() * 0.9)


def series(record: dict[str, Any], name: str) -> list[float]:
    samples: list[float] = record[name]["samples"]
    return samples


# --- The reader and the arithmetic ---


def test_the_wait_is_the_second_field_of_the_threads_schedstat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stat = tmp_path / "schedstat"
    stat.write_text("1200 3400 5\n")
    monkeypatch.setattr(clock, "THREAD_SCHEDSTAT", str(stat))
    assert clock.thread_schedstat() == clock.SchedStat(on_cpu_ns=1200, wait_ns=3400)
    assert clock.thread_wait_ns() == 3400
    monkeypatch.setattr(clock, "THREAD_SCHEDSTAT", str(tmp_path / "missing"))
    assert clock.thread_schedstat() is None and clock.thread_wait_ns() is None
    stat.write_text("garbage\n")
    monkeypatch.setattr(clock, "THREAD_SCHEDSTAT", str(stat))
    assert clock.thread_wait_ns() is None


def test_the_process_figure_sums_every_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for task, text in (("100", "10 1 1"), ("101", "20 2 1"), ("102", "")):  # a thread that ended mid-read
        (tmp_path / task).mkdir()
        (tmp_path / task / "schedstat").write_text(text)
    monkeypatch.setattr(clock, "TASKS", str(tmp_path))
    assert clock.process_schedstat() == clock.SchedStat(on_cpu_ns=30, wait_ns=3)
    monkeypatch.setattr(clock, "TASKS", str(tmp_path / "missing"))
    assert clock.process_schedstat() is None


def test_own_time_is_wall_less_wait_and_absent_without_a_wait() -> None:
    start, end = clock.Stamp(0, 0, 1_000_000), clock.Stamp(10_000_000, 4_000_000, 7_000_000)
    span = clock.span(start, end)
    assert span == clock.Span(wall_ms=10.0, cpu_ms=4.0, wait_ms=6.0)
    assert span.own_ms == 4.0
    assert clock.span(start, end._replace(wait_ns=None)).own_ms is None
    assert clock.span(start._replace(wait_ns=None), end).own_ms is None
    assert clock.Span(1.0, 0.0, 2.0).own_ms == 0.0  # never below zero


@needs_schedstat
def test_a_busy_thread_is_on_cpu_and_a_sleeping_one_is_not_waiting() -> None:
    before = clock.thread_schedstat()
    deadline = time.perf_counter() + 0.05
    while time.perf_counter() < deadline:
        pass
    time.sleep(0.05)
    after = clock.thread_schedstat()
    assert before is not None and after is not None
    assert after.on_cpu_ns > before.on_cpu_ns and after.wait_ns >= before.wait_ns


# --- Recorded: three series in the JSON ---


@needs_schedstat
def test_every_round_records_wall_own_and_cpu_time(run_loadbudget: Any) -> None:
    result, document = run_loadbudget(SLEEPY_SUITE.format(ms=60000), "--loadbudget-rounds=3")
    result.assert_outcomes(passed=1)
    (record,) = document["models"]
    for figure in ("load", "warm"):
        wall, own, cpu = (series(record, f"{figure}_{name}ms") for name in ("", "own_", "cpu_"))
        assert len(wall) == len(own) == len(cpu) == 3
        assert all(o <= w for o, w in zip(own, wall))
        # Sleeping is not waiting for a CPU: the sleep stays in own time, and costs no CPU time.
        assert all(o >= SLEEP_MS for o in own)
        assert all(c < SLEEP_MS for c in cpu)
        assert set(record[f"{figure}_own_ms"]) >= {"median", "min", "max", "rounds"}


# --- Judged: own time by default, wall time on request ---


def test_a_budget_that_wall_time_misses_passes_on_own_time(
    run_loadbudget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "thread_wait_ns", busy_machine)
    # Wall >= 50 ms > 40; own = 10% of the wall: over 40 ms only if a 50 ms sleep took 400 ms.
    result, document = run_loadbudget(SLEEPY_SUITE.format(ms=40), "--loadbudget-rounds=3", "--loadbudget-report")
    result.assert_outcomes(passed=1)
    (record,) = document["models"]
    assert all(own < wall / 5 for own, wall in zip(series(record, "load_own_ms"), series(record, "load_ms")))
    result.stdout.fnmatch_lines([
        # 90% injected; the wall clock and the wait are read a few microseconds apart: 89% or more.
        "timed loads waited [89]?% of their wall time for a CPU: other processes on this machine; "
        "budgets judge own time (wall less that wait)",
        "sleepy*callable*ms (own *) [[]*..*[]] n=3 (*%)*ok",
    ])


def test_clock_wall_judges_the_same_run_on_wall_time(run_loadbudget: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "thread_wait_ns", busy_machine)
    result, _ = run_loadbudget(SLEEPY_SUITE.format(ms=40), "--loadbudget-rounds=3", "--loadbudget-clock=wall")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "loadbudget: rounds 3, *, clock wall*",  # the header: a copy of the run's settings
        "*load_budget: sleepy load * ms wall time > budget 40 ms (median of 3, *..*)",
    ])


def test_an_own_time_miss_says_how_much_of_the_wall_was_waiting(
    run_loadbudget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "thread_wait_ns", busy_machine)
    result, _ = run_loadbudget(SLEEPY_SUITE.format(ms=1), "--loadbudget-rounds=3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: sleepy load * ms own time > budget 1 ms (median of 3, *..*; wall * ms, [89]?% waiting for a CPU)",
    ])


def test_without_schedstat_budgets_judge_wall_time_and_say_so(
    run_loadbudget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "thread_wait_ns", lambda: None)
    result, document = run_loadbudget(SLEEPY_SUITE.format(ms=40), "--loadbudget-rounds=2", "--loadbudget-report")
    result.assert_outcomes(failed=1)
    (record,) = document["models"]
    assert record["load_own_ms"]["samples"] == [] and len(record["load_ms"]["samples"]) == 2
    assert len(record["load_cpu_ms"]["samples"]) == 2
    result.stdout.fnmatch_lines([
        "*load_budget: sleepy load * ms wall time > budget 40 ms (median of 2, *..*; own time not measured)",
        "own time not measured on this system: judged on wall time",
    ])


# --- Cold starts: each phase's wait, measured in the child ---


def cold_run(wall: dict[str, float], wait: dict[str, float]) -> ColdRun:
    return ColdRun(
        startup_ms=wall["startup"], import_ms=wall["import"], read_ms=wall["read"], load_ms=wall["load"],
        first_call_ms=wall.get("first_call"), steady_ms=[], reload_ms=[], wall_ms=sum(wall.values()), harness_ms=0.0,
        read_bytes=0, peak_bytes=None, import_rss_bytes=None, wait_ms=wait,
    )


WALL = {"startup": 100.0, "import": 400.0, "read": 10.0, "load": 200.0, "first_call": 90.0}
WAIT = {"startup": 50.0, "import": 200.0, "read": 0.0, "load": 100.0, "first_call": 50.0}


def test_a_cold_budget_judges_each_phases_own_time() -> None:
    profile = ColdProfile(name="m", format="keras", size_bytes=1, files=1, evict=False,
                          runs=[cold_run(WALL, WAIT), cold_run(WALL, WAIT)])
    assert profile.own_phase("import").values == [200.0, 200.0]
    assert profile.timing(None, "own") == (Samples([400.0, 400.0]), "own")
    assert profile.timing(None, "wall") == (Samples([800.0, 800.0]), "wall")
    model = ModelRecord(key="k", name="m", format="keras", cold=profile)
    assert check(Budget(cold_ms=500, import_ms=300), model) == []
    assert [miss.line for miss in check(Budget(cold_ms=500), model, "wall")] == [
        "m cold start 800 ms wall time > budget 500 ms (median of 2 fresh processes, 800..800; "
        "dominant phase: import)"
    ]
    assert [miss.line for miss in check(Budget(cold_ms=300), model)] == [
        "m cold start 400 ms own time > budget 300 ms (median of 2 fresh processes, 400..400; "
        "wall 800 ms, 50% waiting for a CPU; dominant phase: import)"
    ]
    saved = ColdProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert saved.timing("load", "own") == (Samples([100.0, 100.0]), "own")
    assert profile.to_dict()["own_phases_ms"]["total"]["median"] == 400.0


def test_a_cold_run_saved_before_own_time_is_judged_on_wall_time() -> None:
    old = cold_run(WALL, {})
    profile = ColdProfile(name="m", format="keras", size_bytes=1, files=1, evict=False, runs=[old])
    assert old.own_total_ms is None
    assert profile.timing(None, "own") == (Samples([800.0]), "wall")


@needs_schedstat
def test_the_cold_child_measures_each_phases_wait(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
        import time
        import pytest

        def sleepy():
            time.sleep(0.05)
            return lambda x: time.sleep(0.05)

        @pytest.mark.load_budget(cold_ms=60000, cold_runs=2)
        def test_it(load_model):
            load_model(sleepy, warmup=1.0)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    for run in record["cold"]["runs"]:
        assert set(run["wait_ms"]) == {"startup", "import", "read", "load", "first_call"}
        assert all(0 <= wait <= run[f"{phase}_ms"] + 1 for phase, wait in run["wait_ms"].items())
    own = record["cold"]["own_phases_ms"]
    # The sleeps are not waits: they stay in own time.
    assert own["load"]["min"] >= 50 and own["first_call"]["min"] >= 50


# --- TF.js: Node measures its own wait, the browser is wall time only ---


def harness_result(**extra: Any) -> dict[str, Any]:
    return {"load_ms": [30.0, 20.0], "warm_ms": [8.0, 6.0], **extra}


def test_node_rounds_keep_their_own_time_and_the_browser_says_it_has_none() -> None:
    node = RuntimeFigures.from_harness(
        harness_result(load_wait_ms=[10.0, 0.5], warm_wait_ms=[2.0, 0.0]), runtime="node", backend="cpu", model="m",
        rounds=2,
    )
    assert (node.load_own_ms, node.warm_own_ms, node.clock_note) == ([20.0, 19.5], [6.0, 6.0], "")
    no_schedstat = RuntimeFigures.from_harness(harness_result(load_wait_ms=[], warm_wait_ms=[]), runtime="node",
                                               backend="cpu", model="m", rounds=2)
    assert no_schedstat.load_own_ms == [] and "wall time only" in no_schedstat.clock_note
    browser = RuntimeFigures.from_harness(harness_result(), runtime="browser", backend="webgl", model="m", rounds=2)
    assert browser.load_own_ms == [] and browser.clock_note.startswith("wall time only: a page cannot read")


@pytest.fixture
def node_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_loadbudget.tfjs_runtime import RuntimeUnavailable, find_node, setup_js
    from pytest_loadbudget.tfjs_runtime.jsenv import cache_root

    try:
        setup_js()
        find_node()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))
    monkeypatch.setenv("LOADBUDGET_CACHE_DIR", str(cache_root()))  # pytester gives each run its own HOME


@needs_schedstat
def test_the_node_harness_reads_its_own_wait(pytester: pytest.Pytester, tfjs_models: dict[str, Path],
                                             node_ready: None) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="node", ms=60000, warm_ms=60000)
        def test_node(load_model):
            load_model({str(tfjs_models["float32"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=3", "--loadbudget-json=out.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    for figure in ("load", "warm"):
        wall, own = series(record, f"{figure}_ms"), series(record, f"{figure}_own_ms")
        assert len(own) == len(wall) == 3 and all(0 <= o <= w for o, w in zip(own, wall))
        assert record["runtime_figures"][f"{figure}_own_ms"] == own
    assert record["runtime_figures"]["clock_note"] == ""


# --- Reported: the header line, own time beside wall ---


def timed(name: str, wall: list[float], own: list[float], runtime: str = "python") -> ModelRecord:
    return ModelRecord(key=name, name=name, format="keras", runtime=runtime, load_ms=Samples(wall),
                       load_own_ms=Samples(own))


def test_the_header_says_how_much_of_the_timed_work_waited() -> None:
    busy = [timed("a", [100.0, 100.0], [60.0, 70.0]), timed("b", [50.0], [50.0])]
    assert contention_line(busy, "own") == ("timed loads waited 28% of their wall time for a CPU: other processes on "
                                            "this machine; budgets judge own time (wall less that wait)")
    assert contention_line(busy, "wall") is not None and "--loadbudget-clock=wall" in str(contention_line(busy, "wall"))
    assert contention_line([timed("a", [100.0], [97.0])], "own") is None  # 3%: not worth a line
    browser_only = [timed("b", [100.0], [], runtime="browser webgl cache")]
    assert contention_line(browser_only, "own") is None  # the browser's rows say it
    assert contention_line([timed("a", [100.0], [])], "own") == \
        "own time not measured on this system: judged on wall time"
    assert "_timed loads waited 28% of their wall time" in markdown(busy)


def test_a_row_shows_own_time_beside_wall_and_the_budget_share_on_the_judged_clock() -> None:
    model = timed("a", [100.0, 300.0], [50.0, 150.0])
    model.tests.append(BudgetUse(nodeid="t", budget={"ms": 200}))
    assert table_rows([model])[0][5] == "200 ms (own 100) [100..300] n=2 (50%)"
    assert table_rows([model], clock="wall")[0][5] == "200 ms (own 100) [100..300] n=2 (100%)"
    assert table_rows([timed("b", [10.0], [])])[0][5] == "10.0 ms [10.0..10.0] n=1"


GC_SUITE = textwrap.dedent(
    """
    import gc

    FROZEN = []

    def model():
        FROZEN.append(gc.get_freeze_count())
        return object()

    def test_rounds(load_model):
        load_model(model, name="m")
        # The first load before the rounds, then three rounds, all with the session's objects frozen.
        assert all(count > 0 for count in FROZEN) and len(FROZEN) == 4, FROZEN
        assert gc.get_freeze_count() == 0, "the collector covers every object again after the rounds"

    def test_a_suite_that_froze_its_objects_keeps_them_frozen(load_model):
        gc.freeze()
        try:
            load_model(model, name="again")
            assert gc.get_freeze_count() > 0
        finally:
            gc.unfreeze()
    """
)


def test_collections_during_the_rounds_skip_the_objects_the_session_held_before(pytester):
    pytester.makepyfile(test_suite=GC_SUITE)
    pytester.runpytest("-p", "no:randomly", "--loadbudget-rounds=3").assert_outcomes(passed=2)


CYCLES_SUITE = textwrap.dedent(
    """
    import gc
    import weakref

    MADE = []
    LEFT_OVER = []

    class Model:
        def __init__(self):
            self.graph = {"model": self}  # a reference cycle, as a Keras model's graph holds: no refcount frees it

        def __call__(self, x):
            return x

    def model():
        # Models of earlier loads (the first, untimed one among them) still in memory when this one starts.
        LEFT_OVER.append(sum(1 for made in MADE if made() is not None))
        made = Model()
        MADE.append(weakref.ref(made))
        gc.collect(1)  # its objects old, as a real model's are by the time its load returns
        return made

    def test_rounds(load_model):
        load_model(model, name="m")
        assert LEFT_OVER == [0] * 6, LEFT_OVER
    """
)


def test_each_round_starts_with_the_models_earlier_rounds_dropped_collected(pytester):
    # A full collection over earlier rounds' models, left to the collector, lands inside whichever round
    # tips it over (80 ms of a 500 ms MobileNetV2 .h5 load): collected between rounds, outside their times.
    pytester.makepyfile(test_suite=CYCLES_SUITE)
    pytester.runpytest("-p", "no:randomly", "--loadbudget-rounds=5").assert_outcomes(passed=1)
