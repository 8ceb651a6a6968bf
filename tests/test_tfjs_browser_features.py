"""The browser runtime as a user feels it: the main-thread block, a Web Worker, the IndexedDB cache.

The plugin tests run real Chromium on the example MobileNetV2 TF.js graph
models (float32 and uint8) and the example TF.js layers model; they skip,
saying what to install, where Node.js packages, Playwright or Chromium are
missing. Timing logic is tested on hand-built long tasks and records.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.baseline.compare import compare
from pytest_loadbudget.budget.thresholds import parse_compare_fail
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.tfjs_runtime.mainthread import (
    PROBE_TASK_MS, ObservedTasks, long_tasks_probe_note, main_thread_block, observed_tasks,
)
from models import marker_error
from test_tfjs_plugin import browser_ready, node_ready  # noqa: F401 - fixtures: skip without Chromium

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example_models() -> dict[str, Path]:
    """The example MobileNetV2 TF.js graph models and the small CNN's graph and layers models (built once if missing)."""
    pytest.importorskip("tensorflow")  # to build them where they are not built yet
    spec = importlib.util.spec_from_file_location("example_build_models", EXAMPLES / "build_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    models = module.ensure_models()
    return {"float32": models.mobilenet["tfjs-graph"], "uint8": models.mobilenet["tfjs-graph-uint8"],
            "layers": models.cnn_tfjs_layers, "cnn": models.cnn["tfjs-graph"]}


def report(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    """The JSON report's records by their runtime label."""
    records = json.loads((pytester.path / "out.json").read_text())["models"]
    return {f"{record['name']} {record['runtime']}": record for record in records}


def test_page_block_is_recorded_a_tight_budget_fails_and_a_worker_blocks_less(
    pytester: pytest.Pytester, example_models: dict[str, Path], browser_ready: None,  # noqa: F811
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="wasm", block_ms=1)
        def test_on_the_page(load_model):
            load_model({str(example_models["uint8"])!r})

        @pytest.mark.load_budget(runtime="browser", backend="wasm", worker=True, block_ms=600000)
        def test_in_a_worker(load_model):
            figures = load_model({str(example_models["uint8"])!r})
            assert figures.worker and figures.load_ms

        @pytest.mark.load_budget(runtime="browser", worker=True, leak_tensors=0)
        def test_layers_model_in_a_worker(load_model):
            figures = load_model({str(example_models["layers"])!r})
            assert figures.format == "layers-model" and figures.worker
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines([
        "*load_budget: mobilenetv2_tfjs_uint8/model.json main-thread block * > budget 1 ms (longest task during "
        "1 loads and warm-ups on the page's main thread, the model on the page, from Chrome's trace; * long tasks, "
        "total blocking time *, browser wasm cache)",
        "model *block*budget*",
        "*mobilenetv2_tfjs_uint8/model.json (browser wasm cache) the page's main thread: longest task *",
    ])
    records = report(pytester)
    page = records["mobilenetv2_tfjs_uint8/model.json browser wasm cache"]["runtime_figures"]
    worker = records["mobilenetv2_tfjs_uint8/model.json browser wasm cache worker"]["runtime_figures"]
    layers = records["small_cnn_tfjs_layers/model.json browser cpu cache worker"]["runtime_figures"]
    # Every long task is kept with where it started and how long it ran.
    assert page["long_tasks"] and all({"start_ms", "duration_ms", "stage", "blocking_ms"} <= set(task)
                                      for task in page["long_tasks"])
    assert page["block_ms"] == max(task["blocking_ms"] for task in page["long_tasks"]) > 0
    assert {page["block_source"], worker["block_source"], layers["block_source"]} == {"trace"}
    # The same model, the same run: in a worker the page's thread is left (nearly) free.
    assert (worker["environment"]["thread"], page["environment"]["thread"]) == ("worker", "page")
    assert layers["environment"]["thread"] == "worker"
    assert worker["block_ms"] < page["block_ms"]
    # Chrome's trace shows the worker's thread too: the model's work moved there.
    assert worker["worker_thread"]["block_ms"] > worker["block_ms"] and page["worker_thread"] is None
    assert layers["load_ms"] and layers["leak_tensors"] == 0 and layers["block_ms"] is not None


def test_indexeddb_reload_beside_the_http_cached_one(
    pytester: pytest.Pytester, example_models: dict[str, Path], browser_ready: None,  # noqa: F811
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="wasm", cache_policy="indexeddb")
        def test_graph(load_model):
            figures = load_model({str(example_models["float32"])!r})
            assert figures.load_sources == ["http", "http", "indexeddb"]

        @pytest.mark.load_budget(runtime="browser", cache_policy="indexeddb", worker=True)
        def test_layers_in_a_worker(load_model):
            load_model({str(example_models["layers"])!r})
        """
    )
    # One round asked for: IndexedDB takes the three it needs.
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*mobilenetv2_tfjs/model.json (browser wasm indexeddb) loads: first * over HTTP, HTTP-cached reload *, "
        "IndexedDB reload *; the IndexedDB copy takes 13.* MiB (origin usage grew *), saved in *",
    ])
    records = report(pytester)
    graph = records["mobilenetv2_tfjs/model.json browser wasm indexeddb"]
    figures = graph["runtime_figures"]
    assert len(figures["load_ms"]) == 3 and figures["indexeddb_load_ms"] == figures["load_ms"][2:]
    assert figures["http_cached_load_ms"] == figures["load_ms"][1]
    assert figures["cached_load_ms"] == figures["load_ms"][2]
    # A graph model saves the weights as served: every byte of the shards.
    assert figures["storage"]["weight_bytes"] == figures["weight_bytes"]
    assert figures["storage"]["saved_bytes"] > figures["weight_bytes"]
    layers = records["small_cnn_tfjs_layers/model.json browser cpu indexeddb worker"]["runtime_figures"]
    assert layers["load_sources"] == ["http", "http", "indexeddb"] and layers["storage"]["saved_bytes"] > 0


def test_a_model_over_the_storage_quota_fails_naming_quota_and_size(
    pytester: pytest.Pytester, example_models: dict[str, Path], browser_ready: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_loadbudget.tfjs_runtime.browser import BrowserSession

    # A 1 MiB quota, as on a device with little storage: the 3.4 MiB model cannot be cached.
    monkeypatch.setattr(BrowserSession, "storage_quota_bytes", 2**20)
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="wasm", cache_policy="indexeddb")
        def test_it(load_model):
            load_model({str(example_models["uint8"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-json=out.json")
    result.assert_outcomes(failed=1)
    size = sum(path.stat().st_size for path in example_models["uint8"].parent.iterdir())
    result.stdout.fnmatch_lines([
        f"*RuntimeFailure: {example_models['uint8']} in Chromium (wasm, indexeddb): the model (3.* MiB, {size} bytes) "
        "does not fit the browser's storage quota for IndexedDB: quota 1.00 MiB (1048576 bytes), * already used "
        "(navigator.storage.estimate())",
    ])


def test_a_browser_that_fails_the_long_tasks_probe_measures_no_block_and_fails_the_budget(
    pytester: pytest.Pytester, example_models: dict[str, Path], browser_ready: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, browser_without_trace: str,
) -> None:
    from pytest_loadbudget.tfjs_runtime import browser

    # Stands for a Chromium that records no trace and whose Long Tasks API reports nothing:
    # the probe's verdict, as the plugin reads it.
    probe = long_tasks_probe_note({"supported": True, "durations": []}, "150.0")
    monkeypatch.setattr(browser, "probe_long_tasks", lambda page, version: probe)
    note = f"{browser_without_trace}, and {probe}"
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", block_ms=200)
        def test_it(load_model):
            load_model({str(example_models["layers"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"load_budget: small_cnn_tfjs_layers/model.json main-thread block not measured: {note}"])
    (record,) = report(pytester).values()
    assert record["runtime_figures"]["block_ms"] is None and record["runtime_figures"]["block_note"] == note


def test_the_storage_quota_counts_what_the_origin_already_uses(browser_ready: None) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    from pytest_loadbudget.tfjs_runtime.browser import CHROMIUM_ARGS, find_chromium
    from pytest_loadbudget.tfjs_runtime.jsenv import JS_DIR

    # 300 bytes of model fit the 1000-byte quota alone, not beside the 800 bytes the origin already holds.
    check = """async () => {
      Object.defineProperty(navigator, 'storage', {value: {estimate: async () => ({usage: 800, quota: 1000})}});
      const events = [];
      const model = {save: async () => ({modelArtifactsInfo: {weightDataBytes: 300}})};
      const options = {cachePolicy: 'indexeddb', modelBytes: 300, storageKey: 'm', storageQuotaBytes: null};
      try {
        await window.loadbudgetStorage.afterLoad(null, model, options, 0, (e) => events.push(e), () => 0);
        return {refused: false, events};
      } catch (error) {
        return {refused: true, events, message: String(error.message)};
      }
    }"""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(find_chromium()), args=list(CHROMIUM_ARGS))
        try:
            page = chromium.new_page()
            page.set_content("<html><body></body></html>")
            page.add_script_tag(content=(JS_DIR / "storage.js").read_text())
            outcome = page.evaluate(check)
        finally:
            chromium.close()
    assert outcome["refused"], outcome
    assert outcome["events"] == [{"event": "quota", "size_bytes": 300, "quota_bytes": 1000, "usage_bytes": 800,
                                  "why": "navigator.storage.estimate()"}]


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ("runtime='node', worker=True", "worker=True applies to runtime='browser' only (a Web Worker of the page)"),
        ("worker=True", "worker=True applies to runtime='browser' only (a Web Worker of the page)"),
        ("runtime='browser', worker='yes'", "worker='yes' must be True or False"),
        ("runtime='node', block_ms=100", "block_ms=100 applies to runtime='browser' only (the page's main thread)"),
        ("runtime='browser', block_ms=0", "block_ms=0 must be greater than 0"),
        ("runtime='browser', cache_policy='localstorage'",
         "cache_policy='localstorage' must be one of 'no-store', 'cache', 'indexeddb'"),
        ("runtime='browser', cache_policy='indexeddb', rounds=2",
         "rounds=2 is too few for cache_policy='indexeddb': it needs at least 3 (first load, HTTP-cached reload, "
         "IndexedDB reload)"),
    ],
)
def test_bad_values_name_the_keyword(pytester: pytest.Pytester, keywords: str, message: str) -> None:
    result = marker_error(pytester, keywords)
    result.stdout.fnmatch_lines([f"*invalid @pytest.mark.load_budget on test_bad_values_name_the_keyword.py::test_it: "
                                 f"{message}*"])


def stages(*spans: tuple[str, int, float]) -> list[dict[str, Any]]:
    return [{"event": "stage", "stage": stage, "round": round_index, "t_ms": start} for stage, round_index, start in spans]


def test_block_counts_only_the_part_of_a_task_inside_loads_and_warm_ups() -> None:
    events = stages(("load", 0, 100), ("warmup", 0, 300), ("predict", 0, 500), ("dispose", 0, 900), ("done", 0, 950))
    observed = ObservedTasks("long-tasks", [
        (10, 80),     # backend set-up: before the first load
        (150, 100),   # inside the load
        (400, 450),   # the end of the warm-up and the predictions: 100 ms of it count
    ])
    block = main_thread_block(observed, events, rounds=1)
    assert [task["blocking_ms"] for task in block.tasks] == [0, 100, 100]
    assert [task["stage"] for task in block.tasks] == ["backend", "load", "warmup"]
    assert (block.block_ms, block.total_blocking_ms, block.per_round_ms) == (100, 100, [100])


def test_block_of_a_task_over_a_load_and_its_warm_up_and_of_a_page_without_the_api() -> None:
    events = stages(("load", 0, 0), ("save", 0, 200), ("warmup", 0, 260), ("load", 1, 400), ("warmup", 1, 450),
                    ("done", 1, 600))
    block = main_thread_block(ObservedTasks("long-tasks", [(100, 300), (420, 60)]), events, rounds=2)
    # 100 ms of load and 140 of warm-up in one task; the save between them is not the model's start.
    assert block.per_round_ms == [240, 60]
    assert (block.block_ms, block.total_blocking_ms) == (240, 190 + 10)
    observed, note = observed_tasks(None, "Chrome's trace was not recorded",
                                    {"observed": False, "tasks": [], "note": "this browser has no Long Tasks API"}, "")
    none = main_thread_block(observed, events, 2, note=note)
    assert (none.block_ms, none.source, none.note) == (
        None, None, "Chrome's trace was not recorded, and this browser has no Long Tasks API")


def test_a_browser_whose_long_tasks_api_misses_the_probe_is_not_trusted() -> None:
    assert long_tasks_probe_note({"supported": True, "durations": [PROBE_TASK_MS + 2]}, "156.0") == ""
    # The probe's task reported short, or not at all: a block read there would be 0 ms whatever the page does.
    for durations in ([], [PROBE_TASK_MS / 2]):
        note = long_tasks_probe_note({"supported": True, "durations": durations}, "150.0")
        assert note == (f"Chromium 150.0's Long Tasks API did not report a {PROBE_TASK_MS:g} ms busy task run on "
                        f"purpose on the page (it reported {len(durations)} long task(s)): its long tasks cannot be "
                        "trusted here")
    assert long_tasks_probe_note({"supported": False}, None) == "this browser has no Long Tasks API"
    assert long_tasks_probe_note(None, "150.0") == "Chromium 150.0 did not answer the Long Tasks API probe"


def test_a_block_budget_on_an_untrusted_browser_fails_as_unmeasured() -> None:
    from pytest_loadbudget.budget.check import check
    from pytest_loadbudget.budget.marker import Budget
    from pytest_loadbudget.tfjs_runtime.mainthread import apply_main_thread_block
    from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures

    note = long_tasks_probe_note({"supported": True, "durations": []}, "150.0")
    figures = RuntimeFigures(runtime="browser", backend="wasm", model="m/model.json", format="graph-model", rounds=1)
    apply_main_thread_block(figures, main_thread_block(None, stages(("load", 0, 0), ("done", 0, 10)), 1, note=note))
    assert (figures.block_ms, figures.block_note) == (None, note)
    record = ModelRecord(key="m", name="m", format="tfjs-graph", runtime="browser wasm cache",
                         runtime_figures=figures.to_dict())
    (miss,) = check(Budget(runtime="browser", block_ms=100), record, "own")
    assert miss.figure == "block_ms" and note in miss.line


def browser_record(blocks: list[float]) -> ModelRecord:
    figures = {"block_ms": max(blocks), "block_round_ms": blocks, "rounds": len(blocks)}
    return ModelRecord(key="m", name="m", format="tfjs-graph", runtime="browser wasm cache", runtime_figures=figures)


def test_gate_judges_the_block_by_the_few_rounds_rule() -> None:
    thresholds = parse_compare_fail("block_ms:20%")
    old = browser_record([300.0, 320.0, 310.0])
    (slower,) = [c for c in compare(old, browser_record([400.0, 420.0, 410.0]), thresholds) if c.figure == "block_ms"]
    assert slower.regression and slower.change == "+32%"
    assert slower.line == "m main-thread block 410 ms vs baseline 310 ms (+32%, rounds 3/3, wall time)"
    # One round within the baseline's: noise, whatever the median says.
    (mixed,) = [c for c in compare(old, browser_record([400.0, 305.0, 410.0]), thresholds) if c.figure == "block_ms"]
    assert not mixed.regression and "noise" in mixed.note
    # A run saved before the block was measured: nothing to compare, and it still loads.
    saved = ModelRecord.from_dict({"key": "m", "name": "m", "format": "tfjs-graph", "runtime": "browser wasm cache",
                                   "runtime_figures": {"load_ms": [1.0]}})
    assert saved.block_ms is None
    assert not [c for c in compare(saved, browser_record([400.0]), thresholds) if c.figure == "block_ms"]
