"""The page's main-thread block read from Chrome's trace, checked by a heartbeat on the page.

Pages whose freeze is known (a 300 ms busy loop on the main thread, the same
loop in a Web Worker) are traced through the plugin's own PageTracer and
read_trace on a page opened with Playwright; the plugin-level tests run real
TF.js models through pytester. The reading of the trace and the cross-check
are also tested on hand-built trace events. Tests that need Chromium skip,
saying what to install, where it or Playwright is missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.report.browser_lines import browser_lines
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures
from pytest_loadbudget.tfjs_runtime.mainthread import (
    HEARTBEAT_TOLERANCE_MS, LONG_TASK_MS, ObservedTasks, apply_main_thread_block, main_thread_block, observed_tasks,
)
from pytest_loadbudget.tfjs_runtime.trace import (
    END_MARK, PAGE_MARK, WORKER_MARK, PageTrace, PageTracer, TraceUnreadable, read_trace,
)
from test_tfjs_browser_features import example_models  # noqa: F401 - fixture: the example TF.js models
from test_tfjs_plugin import browser_ready, node_ready  # noqa: F401 - fixtures: skip without Chromium

#: The known freeze of the busy-loop pages, and how close the trace must read it.
BUSY_MS = 300.0
WITHIN = 0.10

#: A page with the plugin's heartbeat; ``busy(ms)`` freezes its main thread, ``busyInWorker(ms)`` a worker's.
PAGE = """<html><body><script>%(heartbeat)s</script><script>
window.busy = (ms) => new Promise((resolve) => setTimeout(() => {
  const began = performance.now();
  while (performance.now() - began < ms) { /* the known freeze */ }
  setTimeout(resolve, 100);
}, 50));
window.busyInWorker = (ms) => new Promise((resolve) => {
  const code = `onmessage = (m) => {
    performance.mark(%(worker_mark)r);
    const began = performance.now();
    while (performance.now() - began < m.data) {}
    postMessage('done');
  };`;
  const worker = new Worker(URL.createObjectURL(new Blob([code], {type: 'text/javascript'})));
  worker.onmessage = () => setTimeout(resolve, 100);
  worker.postMessage(ms);
});
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium(browser_ready: None) -> Iterator[Any]:  # noqa: F811
    """The system Chromium under Playwright, as the plugin launches it."""
    from playwright.sync_api import sync_playwright

    from pytest_loadbudget.tfjs_runtime.browser import CHROMIUM_ARGS, find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(find_chromium()), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def traced(chromium: Any, call: str, *, worker: bool = False) -> tuple[PageTrace, list[dict[str, Any]], dict[str, Any]]:
    """Trace ``call`` on a fresh page: its tasks, a load stage around the call, and the heartbeat."""
    from pytest_loadbudget.tfjs_runtime.jsenv import JS_DIR

    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(PAGE % {"heartbeat": (JS_DIR / "heartbeat.js").read_text(), "worker_mark": WORKER_MARK})
        tracer = PageTracer(chromium)
        assert tracer.start(page), tracer.note
        began = page.evaluate(f"() => {{ window.loadbudgetHeartbeat.start(); performance.mark({PAGE_MARK!r}); "
                              "return performance.now(); }")
        page.evaluate(call)
        ended, heartbeat = page.evaluate(f"() => {{ const beat = window.loadbudgetHeartbeat.collect(); "
                                         f"performance.mark({END_MARK!r}); return [performance.now(), beat]; }}")
        trace = tracer.finish(worker=worker)
        assert trace is not None, tracer.note
    finally:
        context.close()
    stages = [{"event": "stage", "stage": "load", "round": 0, "t_ms": began},
              {"event": "stage", "stage": "done", "round": 0, "t_ms": ended}]
    return trace, stages, heartbeat


def test_a_300_ms_busy_loop_reads_as_one_task_of_300_ms_and_250_ms_of_blocking(chromium: Any) -> None:
    trace, stages, heartbeat = traced(chromium, f"() => window.busy({BUSY_MS})")
    long = [duration for _, duration in trace.main if duration >= LONG_TASK_MS]
    assert len(long) == 1 and long[0] == pytest.approx(BUSY_MS, rel=WITHIN), trace.main
    assert trace.threads["main"] == "CrRendererMain"
    block = main_thread_block(ObservedTasks("trace", trace.main), stages, rounds=1, heartbeat=heartbeat)
    assert block.block_ms == pytest.approx(BUSY_MS, rel=WITHIN)
    # Lighthouse's total blocking time: the 300 ms task's time beyond 50 ms.
    assert block.total_blocking_ms == pytest.approx(BUSY_MS - LONG_TASK_MS, rel=WITHIN)
    assert block.stages["load"]["long_tasks"] == 1
    # The heartbeat, which knows nothing of the trace, saw the same freeze.
    assert block.heartbeat_ms == pytest.approx(BUSY_MS, rel=WITHIN)
    assert block.heartbeat_note == ""


def test_the_same_loop_in_a_web_worker_leaves_the_main_thread_free(chromium: Any) -> None:
    trace, stages, heartbeat = traced(chromium, f"() => window.busyInWorker({BUSY_MS})", worker=True)
    assert trace.worker is not None and trace.threads["worker"] == "DedicatedWorker thread"
    assert max(duration for _, duration in trace.worker) == pytest.approx(BUSY_MS, rel=WITHIN)
    block = main_thread_block(ObservedTasks("trace", trace.main, trace.worker), stages, rounds=1, heartbeat=heartbeat)
    assert block.block_ms is not None and block.block_ms < LONG_TASK_MS
    assert block.total_blocking_ms == 0 and block.tasks == []
    assert block.worker is not None and block.worker.block_ms == pytest.approx(BUSY_MS, rel=WITHIN)
    assert block.heartbeat_ms is not None and block.heartbeat_ms < LONG_TASK_MS


def test_a_trace_already_running_leaves_the_tracer_saying_why(chromium: Any) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        first, second = PageTracer(chromium), PageTracer(chromium)
        assert first.start(page)
        try:
            assert not second.start(page)
        finally:
            first.stop()
    finally:
        context.close()
    assert second.note.startswith("Chrome's trace could not be recorded (Error: ")
    assert second.finish() is None and second.note.startswith("Chrome's trace could not be recorded")


def mark(name: str, ts_us: float, start_ms: float, thread: int = 1) -> dict[str, Any]:
    return {"name": name, "ph": "I", "cat": "blink.user_timing", "pid": 7, "tid": thread, "ts": ts_us,
            "args": {"data": {"startTime": start_ms}}}


def task(start_us: float, duration_us: float, thread: int = 1, name: str = "RunTask") -> dict[str, Any]:
    return {"name": name, "ph": "X", "pid": 7, "tid": thread, "ts": start_us, "dur": duration_us}


def test_read_trace_keeps_outermost_tasks_on_the_page_timeline() -> None:
    # The page's clock reads 100 ms where the trace's reads 5 s: tasks land 4900 ms earlier.
    events = [
        {"name": "thread_name", "ph": "M", "pid": 7, "tid": 1, "args": {"name": "CrRendererMain"}},
        mark(PAGE_MARK, 5_000_000, 100.0),
        task(4_000_000, 10_000),                          # before the measurement: the page's set-up
        task(5_000_000, 300_000),                         # the freeze ...
        task(5_000_010, 299_980, name="ThreadControllerImpl::RunTask"),  # ... and its inner event: one task
        task(5_000_020, 299_990, name="ThreadControllerImpl::RunTask"),  # rounded a µs past it: still one
        task(5_400_000, 20_000, thread=2),                # another thread
        {"name": "RunTask", "ph": "B", "pid": 7, "tid": 1, "ts": 5_500_000},  # running when tracing stopped
        mark(END_MARK, 5_600_000, 700.0),
    ]
    trace = read_trace(json.dumps({"traceEvents": events}))
    assert trace.main == [(100.0, pytest.approx(300.0, abs=0.02))]
    assert trace.worker is None and trace.threads == {"main": "CrRendererMain"}
    assert read_trace(json.dumps([*events, mark(WORKER_MARK, 5_100_000, 3.0, thread=2)])).worker == [(500.0, 20.0)]


@pytest.mark.parametrize(
    ("drop", "worker", "message"),
    [
        (PAGE_MARK, False, "the page's mark 'loadbudget:page' is not in the trace (no blink.user_timing events?)"),
        (END_MARK, False, "the trace stops before the run's end (no 'loadbudget:end' mark: its buffer filled up?)"),
        ("RunTask", False, "the trace holds no task of the page's main thread"),
        ("", True, "the worker's mark 'loadbudget:worker' is not in the trace"),
    ],
)
def test_a_trace_missing_what_it_needs_is_unreadable_naming_what(drop: str, worker: bool, message: str) -> None:
    events = [mark(PAGE_MARK, 1000, 1.0), task(1000, 60_000), mark(END_MARK, 90_000, 90.0)]
    with pytest.raises(TraceUnreadable, match=re.escape(message)):
        read_trace(json.dumps([event for event in events if event["name"] != drop]), worker=worker)
    with pytest.raises(TraceUnreadable, match="the trace is not JSON"):
        read_trace(b"{truncated")


def stages(*spans: tuple[str, int, float]) -> list[dict[str, Any]]:
    return [{"event": "stage", "stage": stage, "round": round_index, "t_ms": start} for stage, round_index, start in spans]


def test_total_blocking_time_counts_only_the_time_beyond_50_ms_per_stage() -> None:
    events = stages(("load", 0, 0), ("warmup", 0, 1000), ("predict", 0, 2000), ("done", 0, 3000))
    tasks = [(-30.0, 20.0), (100.0, 40.0), (200.0, 120.0), (1100.0, 300.0), (2100.0, 90.0)]
    block = main_thread_block(ObservedTasks("trace", tasks), events, rounds=1)
    # 40 ms blocks nothing; 120 ms blocks 70; 300 ms blocks 250; the prediction's 90 ms is not the model's start.
    assert (block.block_ms, block.total_blocking_ms) == (300.0, 70.0 + 250.0)
    assert block.stages == {
        "backend": {"longest_ms": 20.0, "total_blocking_ms": 0.0, "long_tasks": 0},
        "load": {"longest_ms": 120.0, "total_blocking_ms": 70.0, "long_tasks": 1},
        "warmup": {"longest_ms": 300.0, "total_blocking_ms": 250.0, "long_tasks": 1},
        "predict": {"longest_ms": 90.0, "total_blocking_ms": 40.0, "long_tasks": 1},
    }
    # Every task of 50 ms or more is kept; shorter ones only count towards block_ms.
    assert [task["duration_ms"] for task in block.tasks] == [120.0, 300.0, 90.0]


def test_the_trace_is_the_source_and_the_long_tasks_api_only_stands_in_for_it() -> None:
    trace = PageTrace(main=[(0.0, 300.0)], worker=[(10.0, 900.0)])
    long_tasks = {"observed": True, "tasks": [{"start_ms": 5.0, "duration_ms": 120.0}], "note": ""}
    assert observed_tasks(trace, "", long_tasks, "") == (ObservedTasks("trace", [(0.0, 300.0)], [(10.0, 900.0)]), "")
    why = "Chrome's trace is unusable: the page's mark 'loadbudget:page' is not in the trace"
    assert observed_tasks(None, why, long_tasks, "") == (ObservedTasks("long-tasks", [(5.0, 120.0)]), "")
    # An API that missed the probe's busy task stands in for nothing: both reasons are said.
    assert observed_tasks(None, why, long_tasks, "its long tasks cannot be trusted here") == (
        None, f"{why}, and its long tasks cannot be trusted here")


def test_a_heartbeat_that_disagrees_with_the_trace_is_said_in_the_figures_and_the_report() -> None:
    events = stages(("load", 0, 0), ("warmup", 0, 500), ("done", 0, 3000))
    # The trace saw one 60 ms task; the heartbeat a 1700 ms stall in the warm-up (what a
    # browser that records no such task would show).
    stalled = {"gaps": [{"start_ms": 600.0, "gap_ms": 1700.0}, {"start_ms": 2000.0, "gap_ms": 5000.0}], "beats": 90}
    block = main_thread_block(ObservedTasks("trace", [(100.0, 60.0)]), events, rounds=1, heartbeat=stalled)
    # The gap that runs past the warm-up's end counts its 1000 ms inside, as a task is clipped.
    assert (block.block_ms, block.heartbeat_ms) == (60.0, 1700.0)
    assert block.heartbeat_note == (
        f"the page's heartbeat saw a 1700 ms gap at most during loads and warm-ups, Chrome's trace a 60 ms task: "
        f"more than {HEARTBEAT_TOLERANCE_MS:g} ms apart (the thread ran tasks back to back, waited for a CPU, or "
        "ran work the source does not see)")
    agreeing = {"gaps": [{"start_ms": 100.0, "gap_ms": 60.0 + HEARTBEAT_TOLERANCE_MS - 1}], "beats": 90}
    assert main_thread_block(ObservedTasks("trace", [(100.0, 60.0)]), events, 1, heartbeat=agreeing).heartbeat_note == ""
    figures = RuntimeFigures(runtime="browser", backend="webgl", model="m/model.json", format="graph-model", rounds=1)
    apply_main_thread_block(figures, block)
    assert figures.heartbeat_note == block.heartbeat_note and figures.block_source == "trace"
    record = ModelRecord(key="m", name="m", format="tfjs-graph", runtime="browser webgl cache",
                         runtime_figures=figures.to_dict())
    assert f"m (browser webgl cache) main-thread block cross-check: {block.heartbeat_note}" in browser_lines([record])


def report(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    records = json.loads((pytester.path / "out.json").read_text())["models"]
    return {f"{record['name']} {record['runtime']}": record["runtime_figures"] for record in records}


def test_a_webgl_warm_up_that_freezes_the_page_fails_block_ms_and_passes_in_a_worker(
    pytester: pytest.Pytester, example_models: dict[str, Path], browser_ready: None,  # noqa: F811
) -> None:
    model = str(example_models["uint8"])
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="webgl", block_ms=250)
        def test_on_the_page(load_model):
            load_model({model!r})

        @pytest.mark.load_budget(runtime="browser", backend="webgl", worker=True, block_ms=250)
        def test_in_a_worker(load_model):
            load_model({model!r})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: mobilenetv2_tfjs_uint8/model.json main-thread block * > budget 250 ms (longest task during 1 "
        "loads and warm-ups on the page's main thread, the model on the page, from Chrome's trace; * long tasks, "
        "total blocking time *, browser webgl cache)",
        "*mobilenetv2_tfjs_uint8/model.json (browser webgl cache) the page's main thread: longest task *, total "
        "blocking time * (* long tasks during 1 loads and warm-ups; Chrome's trace)",
        "*mobilenetv2_tfjs_uint8/model.json (browser webgl cache) the page's main thread, longest task by stage: "
        "backend *, load *, warmup * (TBT *), predict *",
        "*mobilenetv2_tfjs_uint8/model.json (browser webgl cache worker) the page's main thread, the model in a Web "
        "Worker: longest task *, total blocking time * (* long tasks during 1 loads and warm-ups; Chrome's trace); "
        "the worker's thread: longest task *, total blocking time *",
    ])
    figures = report(pytester)
    page = figures["mobilenetv2_tfjs_uint8/model.json browser webgl cache"]
    worker = figures["mobilenetv2_tfjs_uint8/model.json browser webgl cache worker"]
    assert page["block_source"] == worker["block_source"] == "trace"
    assert page["trace_note"] == worker["trace_note"] == ""
    # The first WebGL warm-up holds the page's main thread; in a worker it holds the worker's.
    assert page["block_stages"]["warmup"]["longest_ms"] > 250 and page["total_blocking_ms"] > 200
    # (On a busy machine the page's own small tasks can stretch past 50 ms waiting for a CPU: the budget decides.)
    assert worker["block_ms"] < 250 < page["block_ms"] and worker["worker_thread"]["block_ms"] > 250
    assert worker["worker_thread"]["stages"]["warmup"]["total_blocking_ms"] > 200
    # The heartbeat beside the trace saw the same freeze on the page, and the page answering beside the
    # worker (a few tens of ms at most: on a busy machine the page's thread also waits for a CPU).
    assert page["heartbeat_block_ms"] == pytest.approx(page["block_ms"], rel=WITHIN)
    assert worker["heartbeat_block_ms"] < 250


def test_without_a_trace_the_long_tasks_api_stands_in_and_the_report_says_why(
    pytester: pytest.Pytester, example_models: dict[str, Path], browser_ready: None,  # noqa: F811
    browser_without_trace: str,
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="webgl", block_ms=600000)
        def test_it(load_model):
            load_model({str(example_models["cnn"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (figures,) = report(pytester).values()
    if figures["block_source"] is None:
        pytest.skip(f"this Chromium's Long Tasks API cannot stand in: {figures['block_note']}")
    assert figures["block_source"] == "long-tasks"
    assert figures["trace_note"] == "Chrome's trace could not be recorded (Error: Tracing has already been started)"
    assert figures["worker_thread"] is None and figures["block_ms"] > 0
    result.stdout.fnmatch_lines([
        "*small_cnn_tfjs/model.json (browser webgl cache) the page's main thread: longest task *, total blocking "
        "time * (* long tasks during 1 loads and warm-ups; the Long Tasks API (Chrome's trace could not be "
        "recorded (Error: Tracing has already been started)))",
    ])
