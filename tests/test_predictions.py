"""Per-prediction growth: N predictions on the warm model, and what each leaves alive."""

from __future__ import annotations

import gc
import importlib.util
import json
import types
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_loadbudget.baseline.compare import judge
from pytest_loadbudget.budget.thresholds import parse_compare_fail
from pytest_loadbudget.measure import predictions as prediction_module
from pytest_loadbudget.measure.predictions import measure_prediction_growth
from pytest_loadbudget.measure.rss import current_rss
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.predictions import PredictionGrowth
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import MIB
from models import marker_error
# The runtime fixtures skip, saying what to install, where node or Chromium is missing.
from test_tfjs_plugin import LEAK_PRELOAD, browser_ready, node_ready  # noqa: F401 - fixtures used by name

#: Two loaders of one TensorFlow model that returns 1 MiB per call; the leaking
#: one keeps every output, as a model holding a history of its results does.
PYTHON_MODELS = """
import numpy as np
import pytest
import tensorflow as tf

class Scaler:
    def __init__(self, keep):
        self.keep, self.kept = keep, []

    def __call__(self, inputs):
        outputs = tf.fill((256, 1024), 1.0) * inputs
        if self.keep:
            self.kept.append(outputs)
        return outputs

def clean():
    return Scaler(keep=False)

def leaking():
    return Scaler(keep=True)

INPUT = np.ones((1, 1), np.float32)
BUDGET = pytest.mark.load_budget(predictions=20, predict_leak_tensors=0, predict_leak_mb=8)

@BUDGET
def test_clean(load_model):
    load_model(clean, warmup=INPUT)

@BUDGET
def test_leaking(load_model):
    load_model(leaking, warmup=INPUT)
"""


def test_python_model_that_keeps_its_outputs_fails_with_the_growth_and_the_fix(pytester):
    # Not imported here: pytester drops the modules a test imports, and
    # TensorFlow aborts when imported a second time in one process.
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed")
    pytester.makepyfile(test_models=PYTHON_MODELS)
    # In a process of its own: resident memory is the figure, and TensorFlow's modules stay out of this one.
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    document = json.loads((pytester.path / "out.json").read_text())
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: leaking live tensors grew by 20 over 20 predictions > budget 0 (1 per prediction, python)",
        "*load_budget: leaking memory grew by * MiB over 20 predictions > budget 8 MiB (* per prediction, RSS, python)",
        "*leaking: 20 tensors left alive by 20 predictions: memory grows until the page dies",
        "*fix: Keep no outputs between calls*model(x, training=False)*retracing*",
    ])
    result.stdout.fnmatch_lines(["clean per-prediction growth: 20 predictions (python): tensors * (+0), RSS *"])
    models = {model["name"]: model["predictions"] for model in document["models"]}
    assert models["clean"]["tensor_growth"] == 0 and models["leaking"]["tensor_growth"] == 20
    # The series: before the first prediction, then after each.
    assert len(models["leaking"]["rss_bytes"]) == 21
    assert models["leaking"]["memory_growth"] >= 20 * 2**20 - 2**20 > models["clean"]["memory_growth"]


def _node_suite(model: str, backend: str) -> str:
    return f"""
        import pytest

        @pytest.mark.load_budget(runtime="node", backend={backend!r}, predictions=10, predict_leak_tensors=0,
                                 predict_leak_mb=0.0001)
        def test_it(load_model):
            load_model({model!r})
        """


@pytest.mark.usefixtures("node_ready")
@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_node_clean_model_keeps_its_tensor_count_flat(run_loadbudget, tfjs_models, backend):
    result, document = run_loadbudget(_node_suite(str(tfjs_models["float32"]), backend), "--loadbudget-report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"tiny_tfjs/model.json per-prediction growth: 10 predictions (node {backend}): tensors * (+0), "
        "numBytes +0 B (+0 B per prediction)",
    ])
    (model,) = document["models"]
    growth = model["predictions"]
    assert len(growth["tensors"]) == 11 and len(set(growth["tensors"])) == 1
    assert growth["tensor_bytes"][0] > 0 and growth["tensor_growth"] == growth["memory_growth"] == 0
    assert "prediction_growth" not in model["runtime_figures"]  # kept once, in "predictions"


@pytest.mark.usefixtures("node_ready")
@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_node_predictions_that_keep_their_outputs_fail(run_loadbudget, tfjs_models, monkeypatch, backend, pytester):
    preload = pytester.path / "leak.js"
    preload.write_text(LEAK_PRELOAD)
    monkeypatch.setenv("NODE_OPTIONS", f'--require "{preload}"')
    result, document = run_loadbudget(_node_suite(str(tfjs_models["float32"]), backend))
    result.assert_outcomes(failed=1)
    # One output of 4 float32 kept per prediction.
    result.stdout.fnmatch_lines([
        f"*load_budget: tiny_tfjs/model.json live tensors grew by 10 over 10 predictions > budget 0 "
        f"(1 per prediction, node {backend})",
        f"*load_budget: tiny_tfjs/model.json memory grew by 160 B over 10 predictions > budget 0.0001 MiB "
        f"(16 B per prediction, numBytes, node {backend})",
        "*fix: Dispose each result once read*tf.tidy*",
    ])
    (model,) = document["models"]
    tensors = model["predictions"]["tensors"]
    assert [after - before for before, after in zip(tensors, tensors[1:])] == [1] * 10


@pytest.mark.usefixtures("browser_ready")
def test_browser_webgl_records_gpu_bytes_after_each_prediction(pytester, tfjs_models):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="webgl", predictions=5, predict_leak_tensors=0)
        def test_webgl(load_model):
            load_model({str(tfjs_models["float32"])!r})
        """
    )
    # In a process of its own: Playwright's sync API cannot start where another test's already runs.
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (model,) = json.loads((pytester.path / "out.json").read_text())["models"]
    growth = model["predictions"]
    assert growth["where"] == "browser webgl cache" and growth["tensor_growth"] == 0
    assert len(growth["gpu_bytes"]) == 6 and growth["gpu_bytes"][0] > 0


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ("predictions=0", "*predictions=0 must be an integer of at least 1*"),
        ("predictions=2.5", "*predictions=2.5 must be an integer of at least 1*"),
        ("predict_leak_tensors=-1", "*predict_leak_tensors=-1 must be an integer of at least 0*"),
        ("predict_leak_mb=0", "*predict_leak_mb=0 must be greater than 0*"),
        ("predict_leak_mb='1'", "*predict_leak_mb='1' must be a number*"),
    ],
)
def test_bad_prediction_keywords_are_marker_errors(pytester, keywords, message):
    result = marker_error(pytester, keywords)
    result.stdout.fnmatch_lines([message])


def test_a_predict_leak_budget_alone_runs_the_default_predictions_and_says_what_it_cannot_count(run_loadbudget):
    # A model with no tensors of TensorFlow or PyTorch and no warm-up input: nothing to predict with.
    result, document = run_loadbudget(
        """
        import pytest

        @pytest.mark.load_budget(predict_leak_tensors=0)
        def test_it(load_model):
            load_model(dict, warmup=None)
        """
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*dict tensors left by predictions not counted: no input to predict with: pass warmup=<an input batch> to load_model",
    ])
    assert document["models"][0]["predictions"]["count"] == 100


def _record(tensors: list[int], count: int | None = None) -> ModelRecord:
    growth = PredictionGrowth(count=count or len(tensors) - 1, where="node cpu", tensors=tensors)
    return ModelRecord(key="k", name="m", format="tfjs-graph", runtime="node cpu", predictions=growth)


def test_gate_fails_any_growth_of_the_tensors_predictions_leave():
    thresholds = parse_compare_fail("predict_leak_tensors:0")
    clean, leaking = _record([5, 5, 5]), _record([5, 6, 7])
    regressed = judge("predict_leak_tensors", clean, leaking, thresholds["predict_leak_tensors"])
    assert regressed is not None and regressed.regression
    assert regressed.line == "m tensors left by predictions 2 vs baseline 0 (+2)"
    unchanged = judge("predict_leak_tensors", leaking, leaking, thresholds["predict_leak_tensors"])
    assert unchanged is not None and not unchanged.regression
    # Growth over 2 predictions says nothing of growth over 100.
    assert judge("predict_leak_tensors", _record([5] * 101), leaking, thresholds["predict_leak_tensors"]) is None


def test_records_keep_the_growth_and_old_saved_runs_without_it_still_load():
    record = _record([5, 6, 7])
    again = ModelRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.predictions == record.predictions
    old = record.to_dict()
    del old["predictions"]
    assert ModelRecord.from_dict(old).predictions is None


#: What each prediction of ``CycleLeaver`` leaves in a reference cycle: only a garbage collection frees it.
GARBAGE_BYTES = 8 * MIB


class CycleLeaver:
    """A model whose every call leaves its scratch space in a reference cycle, then drops it."""

    def __call__(self, inputs: Any) -> Any:
        scratch: dict[str, Any] = {"buffer": bytearray(GARBAGE_BYTES)}
        scratch["self"] = scratch  # unreachable once the call returns, freed by the collector alone
        scratch["buffer"][::4096] = b"x" * (GARBAGE_BYTES // 4096)  # touch every page: resident
        return inputs


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The automatic collector off, so that only the measurement's own collections free the cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@pytest.mark.usefixtures("collector_off")
def test_the_last_reading_is_taken_after_collecting_garbage_left_in_cycles() -> None:
    if current_rss() is None:
        pytest.skip("resident memory cannot be read on this system")
    request = LoadRequest(format_name="callable", loader=CycleLeaver, name="cycles", warmup=1.0)
    growth = measure_prediction_growth(request, CycleLeaver(), 4, "python")
    assert len(growth.rss_bytes) == 5 and growth.memory_growth is not None
    # Unsettled, the readings between carry each prediction's garbage (32 MiB after the fourth) ...
    assert max(growth.rss_bytes[1:-1]) - growth.rss_bytes[0] >= 2 * GARBAGE_BYTES
    # ... and the last, read after a collection, none of it: a model that keeps nothing grew by nothing.
    assert growth.memory_growth < GARBAGE_BYTES // 2


def test_the_first_and_last_readings_follow_a_collection_and_a_heap_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    collector = types.SimpleNamespace(collect=lambda: events.append("collect"), get_objects=gc.get_objects)
    monkeypatch.setattr(prediction_module, "gc", collector)
    monkeypatch.setattr(prediction_module, "release_free_heap", lambda: events.append("trim") or True)
    monkeypatch.setattr(prediction_module, "current_rss", lambda: events.append("read") or 100 * MIB)
    monkeypatch.setattr(prediction_module, "live_tensors", lambda: None)

    def model(inputs: Any) -> Any:
        events.append("predict")
        return inputs

    request = LoadRequest(format_name="callable", loader=dict, name="m", warmup=1.0)
    growth = measure_prediction_growth(request, model, 3, "python")
    assert events == ["collect", "trim", "read", "predict", "read", "predict", "read",
                      "predict", "collect", "trim", "read"]
    assert growth.rss_bytes == [100 * MIB] * 4
