"""``budget.check``: one line per figure over its budget or not measured, and what usually fixes it.

Records are built by hand: the check is pure logic over the figures, so each
case says exactly which figure is over, within, or missing, and why.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_loadbudget.budget.check import Miss, check
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.diagnose.advice import FIXES, PHASE_FINDINGS, fix_for, miss_fix
from pytest_loadbudget.diagnose.figures import figures_for
from pytest_loadbudget.diagnose.rules import diagnose
from pytest_loadbudget.measure.floor import Bandwidth
from pytest_loadbudget.report.terminal import table_rows
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples

MIB = 2**20
BANDWIDTH = Bandwidth(bytes_per_s=1e9, probe_bytes=64 * MIB, reads=5, directory="/tmp")


def record(**fields: Any) -> ModelRecord:
    fields.setdefault("format", "keras")
    return ModelRecord(key="k", name="m", **fields)


def runtime_record(runtime: str = "node cpu", **figures: Any) -> ModelRecord:
    return record(format="tfjs-graph", runtime=runtime, runtime_figures=figures)


def memory(**fields: Any) -> MemoryFigures:
    fields.setdefault("peak_bytes", None)
    return MemoryFigures(method="vmhwm", where="fresh process", cycles=len(fields.get("rss_after_cycles", [])),
                         **fields)


def cold_profile(*, startup: float = 50, import_: float = 100, first: float = 10, steady: float = 2) -> ColdProfile:
    run = ColdRun(
        startup_ms=startup, import_ms=import_, read_ms=5, load_ms=40, first_call_ms=first, steady_ms=[steady] * 3,
        reload_ms=[40], wall_ms=0.0, harness_ms=0.0, read_bytes=MIB, peak_bytes=None, import_rss_bytes=None,
    )
    return ColdProfile(name="m", format="keras", size_bytes=MIB, files=1, evict=False, runs=[run, run])


def lines(budget: Budget, model: ModelRecord) -> list[str]:
    return [miss.line for miss in check(budget, model)]


# Each figure over its budget: the line, and within it: nothing.


@pytest.mark.parametrize(
    ("model", "over", "within", "line"),
    [
        pytest.param(record(size_bytes=2 * MIB, files=2), Budget(mb=1), Budget(mb=3),
                     "m size 2.00 MiB > budget 1 MiB (2 files)", id="mb"),
        pytest.param(record(load_ms=Samples([10.0, 20.0, 30.0]), load_own_ms=Samples([10.0, 20.0, 30.0])),
                     Budget(ms=5), Budget(ms=25),
                     "m load 20.0 ms own time > budget 5 ms (median of 3, 10.0..30.0)", id="ms"),
        pytest.param(record(warm_ms=Samples([4.0, 8.0])), Budget(warm_ms=2.5), Budget(warm_ms=10),
                     "m warm-up 6.00 ms wall time > budget 2.5 ms (median of 2, 4.00..8.00; own time not measured)",
                     id="warm_ms"),
        pytest.param(record(memory=memory(peak_bytes=64 * MIB)), Budget(peak_mb=32), Budget(peak_mb=100),
                     "m peak 64.0 MiB > budget 32 MiB (load + warm-up, fresh process)", id="peak_mb"),
        pytest.param(record(memory=memory(rss_after_cycles=[100 * MIB, 108 * MIB, 116 * MIB])),
                     Budget(leak_mb=5), Budget(leak_mb=20),
                     "m leak 16.0 MiB > budget 5 MiB (after 3 load/release cycles, 8.00 MiB per cycle, fresh process)",
                     id="leak_mb"),
        pytest.param(record(memory=memory(device_memory=[{"source": "nvml", "peak_bytes": 300 * MIB}])),
                     Budget(gpu_mb=100), Budget(gpu_mb=400),
                     "m GPU memory 300 MiB > budget 100 MiB (load + warm-up, nvml, fresh process)", id="gpu_mb"),
        pytest.param(runtime_record("browser webgl cache", gpu_bytes=3 * MIB),
                     Budget(gpu_mb=1, runtime="browser", backend="webgl"), Budget(gpu_mb=4, runtime="browser"),
                     "m GPU memory 3.00 MiB > budget 1 MiB (numBytesInGPU after warm-up, browser webgl cache)",
                     id="gpu_mb-webgl"),
        pytest.param(runtime_record(leak_tensors=3), Budget(leak_tensors=0, runtime="node"),
                     Budget(leak_tensors=3, runtime="node"),
                     "m leaks 3 tensors > budget 0 (alive after model.dispose(), node cpu)", id="leak_tensors"),
        pytest.param(record(cold=cold_profile(first=300)), Budget(cold_ms=100), Budget(cold_ms=1000),
                     "m cold start 495 ms wall time > budget 100 ms (median of 2 fresh processes, 495..495; "
                     "own time not measured; dominant phase: first call)", id="cold_ms"),
        pytest.param(record(cold=cold_profile(import_=800)), Budget(import_ms=500), Budget(import_ms=1000),
                     "m import 800 ms wall time > budget 500 ms (median of 2 fresh processes, 800..800; "
                     "own time not measured; dominant phase: import)", id="import_ms"),
    ],
)
def test_a_figure_over_its_budget_is_one_line_and_within_it_none(
    model: ModelRecord, over: Budget, within: Budget, line: str
) -> None:
    assert lines(over, model) == [line]
    assert check(within, model) == []


def test_a_figure_at_its_limit_is_within_and_just_above_it_over() -> None:
    at = record(size_bytes=MIB, files=1, load_ms=Samples([10.0]), cold=cold_profile(import_=300))
    assert check(Budget(mb=1, ms=10, import_ms=300), at) == []
    above = Budget(mb=0.999, ms=9.99, import_ms=299.9)
    assert [miss.figure for miss in check(above, at)] == ["ms", "mb", "import_ms"]


def test_every_limit_of_a_budget_is_checked() -> None:
    model = record(
        size_bytes=2 * MIB, files=1, load_ms=Samples([20.0]), warm_ms=Samples([20.0]),
        memory=memory(peak_bytes=64 * MIB, rss_after_cycles=[0, 8 * MIB]), cold=cold_profile(),
    )
    budget = Budget(mb=1, ms=1, warm_ms=1, peak_mb=1, leak_mb=1, cold_ms=1, import_ms=1)
    assert [miss.figure for miss in check(budget, model)] == list(budget.limits())


# A limited figure that was not measured: a miss that says why, and what to do.


@pytest.mark.parametrize(
    ("model", "budget", "line"),
    [
        pytest.param(record(format="callable"), Budget(mb=1),
                     "m size not measured: the loader reads no files the plugin knows of: "
                     "name them with load_model(..., files=[...])", id="mb-no-files"),
        pytest.param(record(format="tfjs-graph"), Budget(ms=1),
                     "m load not measured: a TF.js graph model has no Python runtime: "
                     "measure it with runtime='node' or runtime='browser'", id="ms-tfjs-graph-in-python"),
        pytest.param(record(load_ms=Samples([1.0])), Budget(warm_ms=1),
                     "m warm-up not measured: no warm-up input could be made from the model's signature; "
                     "pass warmup=... to load_model", id="warm_ms-no-input"),
        pytest.param(record(memory=memory(note="no resettable high-water mark here")), Budget(peak_mb=1),
                     "m peak not measured: no resettable high-water mark here", id="peak_mb-note"),
        pytest.param(runtime_record(), Budget(peak_mb=1, runtime="node"),
                     "m peak not measured: resident memory is measured for models that load in Python; "
                     "a TF.js runtime counts tensors (leak_tensors)", id="peak_mb-runtime"),
        pytest.param(record(memory=memory(rss_after_cycles=[MIB])), Budget(leak_mb=1),
                     "m leak not measured: 1 load/release cycle(s) ran; a leak needs at least 2", id="leak_mb-one-cycle"),
        pytest.param(record(memory=memory(peak_bytes=MIB)), Budget(gpu_mb=1),
                     "m GPU memory not measured: the model did not run on a GPU; set device='gpu' "
                     "(NVML needs nvidia-ml-py)", id="gpu_mb-python"),
        pytest.param(runtime_record("node wasm"), Budget(gpu_mb=1, runtime="node"),
                     "m GPU memory not measured: numBytesInGPU is counted on runtime='browser' with "
                     "backend='webgl' only", id="gpu_mb-node"),
        pytest.param(record(), Budget(leak_tensors=0),
                     "m leaked tensors not counted: tensors are counted in a TF.js runtime: "
                     "set runtime='node' or runtime='browser'", id="leak_tensors-python"),
        pytest.param(record(cold_note="the loader cannot be replayed in a fresh process (a local function)"),
                     Budget(cold_ms=1), "m cold start not measured: the loader cannot be replayed in a fresh "
                     "process (a local function)", id="cold_ms-note"),
        pytest.param(runtime_record(), Budget(import_ms=1, runtime="node"),
                     "m import not measured: cold starts are measured for models that load in Python",
                     id="import_ms-runtime"),
    ],
)
def test_an_unmeasured_figure_says_why(model: ModelRecord, budget: Budget, line: str) -> None:
    [miss] = check(budget, model)
    assert miss.line == line
    assert miss.hint == ""  # its line says what to do; a fix for a slow figure would be beside the point


def test_no_reason_names_a_switch_the_run_did_not_use() -> None:
    # The check runs only when measuring is on: --loadbudget-disable is never why.
    budget = Budget(ms=1, warm_ms=1, peak_mb=1, leak_mb=1, gpu_mb=1, cold_ms=1, import_ms=1)
    for model in (record(), record(format="callable"), record(memory=memory())):
        for line in lines(budget, model):
            assert "--loadbudget-disable" not in line, line


def test_figures_missing_because_a_runtime_load_failed_say_so_once() -> None:
    # A ResNet50 graph model in Node wasm: TF.js fails the load, nothing was measured in the runtime.
    failed = record(format="tfjs-graph", runtime="node wasm", size_bytes=MIB, files=2,
                    error="ModelLoadError: model.json: FusedConv2D only supports rank-1 bias but got rank 4")
    budget = Budget(runtime="node", backend="wasm", mb=10, ms=100, warm_ms=100, leak_tensors=0)
    assert lines(budget, failed) == ["m load, warm-up, leaked tensors not measured: the load failed"]
    [miss] = check(budget, failed)
    assert miss.figure == "ms, warm_ms, leak_tensors" and miss.hint == ""


def test_figures_missing_because_a_measurement_failed_say_so_once() -> None:
    failed = record(load_ms=Samples([1.0]), error="MeasurementError: the memory child timed out")
    assert lines(Budget(ms=10, peak_mb=1, leak_mb=1), failed) == [
        "m peak, leak not measured: its measurement failed"
    ]


# What usually fixes a miss: one catalogue with the diagnosis, the cold start's by its dominant phase.


@pytest.mark.parametrize("figure", ["mb", "ms", "warm_ms", "peak_mb", "leak_mb", "gpu_mb", "leak_tensors", "import_ms"])
def test_every_limited_figure_over_budget_has_a_fix(figure: str) -> None:
    assert miss_fix(figure, "keras")


def test_the_cold_start_hint_follows_the_dominant_phase() -> None:
    budget = Budget(cold_ms=1)
    [first_call] = check(budget, record(cold=cold_profile(first=3000)))
    [importing] = check(budget, record(cold=cold_profile(import_=3000)))
    [starting] = check(budget, record(cold=cold_profile(startup=3000)))
    assert first_call.hint == FIXES["warm-up"]
    assert "import the framework lazily" in importing.hint
    assert starting.hint == FIXES["startup"]
    assert "import" not in first_call.hint


@pytest.mark.parametrize("phase", list(PHASE_FINDINGS))
def test_each_dominant_phase_has_its_fix(phase: str) -> None:
    assert miss_fix("cold_ms", "savedmodel", phase) == fix_for(PHASE_FINDINGS[phase], "savedmodel")


def test_a_load_miss_and_the_diagnosis_give_the_same_fix() -> None:
    slow = record(format="savedmodel", size_bytes=MIB, load_ms=Samples([1500.0] * 3))
    [miss] = check(Budget(ms=100), slow)
    [graph] = [item for item in diagnose(figures_for(slow, bandwidth=BANDWIDTH)) if item.kind == "graph"]
    assert miss.hint == graph.fix


def test_a_miss_is_a_plain_value() -> None:
    assert Miss("ms", "m load 2 ms > budget 1 ms") == Miss("ms", "m load 2 ms > budget 1 ms", "")


# Where a GPU figure comes from.


@pytest.mark.parametrize(
    ("model", "source"),
    [
        pytest.param(runtime_record("browser webgl cache", gpu_bytes=MIB), "webgl", id="browser-webgl"),
        pytest.param(runtime_record("node cpu", gpu_bytes=0), "", id="node-reporting-zero"),
        pytest.param(runtime_record("browser cpu cache"), "", id="browser-cpu"),
        pytest.param(record(), "", id="python-no-memory"),
        pytest.param(record(memory=memory(device_memory=[{"source": "torch", "peak_bytes": MIB}])), "torch",
                     id="python-torch"),
    ],
)
def test_the_gpu_source_is_webgl_only_for_a_browser_webgl_run(model: ModelRecord, source: str) -> None:
    assert model.gpu_source == source
    gpu_cell = table_rows([model])[0][-2]
    assert ("webgl" in gpu_cell) == (source == "webgl"), gpu_cell


# The diagnosis's steady calls, which the warm-up rule sets the first call against.


def test_a_runtime_s_steady_predictions_let_the_warm_up_rule_fire() -> None:
    # On webgl the first predict compiles shaders: 400 ms, then 2 ms per predict.
    model = runtime_record("browser webgl cache", predict_ms=[2.0, 2.0, 3.0])
    model.warm_ms = Samples([400.0, 410.0])
    figures = figures_for(model, bandwidth=BANDWIDTH)
    assert figures.steady_ms == Samples([2.0, 2.0, 3.0])
    [warm_up] = [item for item in diagnose(figures) if item.kind == "warm-up"]
    assert warm_up.numbers.startswith("first call 405 ms, then 2.00 ms per call (202x the steady call)")


def test_steady_calls_come_from_the_cold_profile_without_a_runtime() -> None:
    profile = cold_profile(steady=7)
    assert figures_for(record(), profile, bandwidth=BANDWIDTH).steady_ms == profile.steady_call
    assert figures_for(cold=profile, bandwidth=BANDWIDTH).steady_ms.median == 7
