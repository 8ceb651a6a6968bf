"""Diagnosis: advice from the figures, the quantization estimate, graph counts, ``loadbudget profile``.

Most tests build the figures by hand. The warm-up test runs a real fresh
process with a loader function; three tests use a tiny Keras model exported
with ``export_formats`` (TensorFlow, and one fresh process that imports Keras).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_loadbudget.cli import profile as profile_cli
from pytest_loadbudget.diagnose.figures import figures_for
from pytest_loadbudget.diagnose.rules import FIRST_CALL_RATIO, Figures, diagnose
from pytest_loadbudget.formats.graph_stats import GraphStats, count_layers, graph_stats
from pytest_loadbudget.formats.tfjs_quantization import estimate_quantization
from pytest_loadbudget.fresh.cold import ColdProfile, ColdRun, measure_cold
from pytest_loadbudget.measure.floor import Bandwidth
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import format_mib

MIB = 2**20
#: 1 GB/s: a 100 MiB model's floor is about 105 ms.
BANDWIDTH = Bandwidth(bytes_per_s=1e9, probe_bytes=64 * MIB, reads=5, directory="/tmp")


class SlowFirstCall:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if self.calls == 0:
            time.sleep(0.3)
        self.calls += 1
        return x


def slow_first_call() -> SlowFirstCall:
    return SlowFirstCall()


def cold_profile(
    *, startup: float = 50, import_: float = 100, read: float = 5, load: float = 100, first: float | None = 10,
    steady: float = 10, reload: float | None = None, size: int = 10 * MIB, graph: GraphStats | None = None,
    fmt: str = "keras", runs: int = 3, gc_import: float = 0.0,
) -> ColdProfile:
    run = ColdRun(
        startup_ms=startup, import_ms=import_, read_ms=read, load_ms=load, first_call_ms=first,
        steady_ms=[steady] * 3, reload_ms=[load if reload is None else reload], wall_ms=0.0, harness_ms=0.0,
        read_bytes=size, peak_bytes=None, import_rss_bytes=None,
        gc_ms={"import": gc_import, "load": 0.0, "first_call": 0.0},
    )
    return ColdProfile(name="model", format=fmt, size_bytes=size, files=1, evict=False, runs=[run] * runs, graph=graph)


def figures(cold: ColdProfile | None = None, **fields: Any) -> Figures:
    fields.setdefault("format", cold.format if cold is not None else "keras")
    fields.setdefault("size_bytes", cold.size_bytes if cold is not None else 10 * MIB)
    return Figures(name="model", cold=cold, bandwidth=BANDWIDTH, **fields)


def kinds(advice: list[Any]) -> list[str]:
    return [item.kind for item in advice]


def test_slow_first_call_is_diagnosed_as_a_warm_up_problem() -> None:
    request = LoadRequest(
        format_name="callable", loader=slow_first_call, name="slow_first_call", warmup=np.zeros((1, 4), "float32"),
    )
    cold = measure_cold(request, runs=1, steady_calls=3, reloads=0)
    advice = diagnose(figures(cold, format="callable", size_bytes=0))
    [warm_up] = [item for item in advice if item.kind == "warm-up"]
    # Whether the first call or the start-up dominates depends on how busy the machine is.
    assert warm_up.title in ("First call far slower than the next ones: warm up at load",
                             "First call dominates the cold start")
    first = cold.phase("first_call").median
    assert first >= 300
    assert f"first call {first:.0f} ms, then " in warm_up.numbers
    assert "dummy inference right after loading" in warm_up.fix


def test_import_that_dominates_names_the_phase_and_its_share() -> None:
    advice = diagnose(figures(cold_profile(import_=3000, startup=100, load=500, reload=450, fmt="tflite")))
    assert advice[0].kind == "import"
    assert advice[0].title == "Import dominates the cold start"
    assert advice[0].numbers == "import 3000 ms of a 3615 ms cold start (83%)"
    assert "import tensorflow lazily" in advice[0].fix
    assert "ai-edge-litert" in advice[0].fix  # a .tflite model needs only the interpreter
    assert "gc.disable()" not in advice[0].fix


def test_import_spent_collecting_garbage_gets_the_gc_pause() -> None:
    [item, *_] = diagnose(figures(cold_profile(import_=2000, gc_import=600, fmt="savedmodel")))
    assert item.kind == "import"
    assert item.numbers.endswith(", 600 ms of the import is garbage collection (30%)")
    assert "gc.disable(); import tensorflow; gc.enable()" in item.fix


def test_load_far_above_its_floor_on_a_small_model_points_at_the_graph() -> None:
    graph = GraphStats(source="config.json", layers=156)
    cold = cold_profile(load=1500, reload=1400, size=14 * MIB, graph=graph)
    advice = diagnose(figures(cold))
    assert advice[0].kind == "graph" and advice[0].title == "Load dominates the cold start"
    floor = 14 * MIB / 1e9 * 1e3
    assert f"warm load 1400 ms is {1400 / floor:,.0f}x its floor" in advice[0].numbers
    assert f"156 layers (in config.json), {(1400 - floor) / 156:.2f} ms per layer" in advice[0].numbers
    assert "model.export()" in advice[0].fix


def test_load_near_its_floor_is_a_size_problem_not_a_graph_one() -> None:
    size = 150 * MIB  # floor about 157 ms at 1 GB/s
    advice = diagnose(figures(cold_profile(load=400, reload=390, size=size)))
    assert advice[0].kind == "load"
    assert "only a smaller artifact loads faster" in advice[0].fix
    assert "graph" not in kinds(advice)


def test_first_load_in_a_fresh_process_far_above_a_reload_is_framework_set_up() -> None:
    advice = diagnose(figures(cold_profile(load=2000, reload=150, size=100 * MIB)))
    assert advice[0].kind == "first-load"
    assert "load 2000 ms in a fresh process, 150 ms loaded again in a warm one: 1850 ms" in advice[0].numbers


def test_first_call_within_the_ratio_is_no_warm_up_problem() -> None:
    steady = 40.0
    quiet = cold_profile(first=steady * (FIRST_CALL_RATIO - 1), steady=steady, import_=1000)
    assert "warm-up" not in kinds(diagnose(figures(quiet)))
    loud = cold_profile(first=steady * (FIRST_CALL_RATIO + 5), steady=steady, import_=1000)
    assert "warm-up" in kinds(diagnose(figures(loud)))


def test_leak_per_cycle_gets_reuse_advice() -> None:
    record = ModelRecord(key="k", name="leaky", format="keras", size_bytes=MIB)
    record.memory = MemoryFigures(
        peak_bytes=0, method="vmhwm", where="fresh process", cycles=3,
        rss_after_cycles=[100 * MIB, 108 * MIB, 116 * MIB],
    )
    found = diagnose(figures_for(record, bandwidth=BANDWIDTH))
    assert kinds(found) == ["leak"]
    assert found[0].numbers == "+8.00 MiB RSS per load/release cycle over 3 cycles (16.0 MiB in all)"
    assert "clear_session()" in found[0].fix
    record.memory.rss_after_cycles = [100 * MIB, 100 * MIB + 4096, 100 * MIB]
    assert diagnose(figures_for(record, bandwidth=BANDWIDTH)) == []


def test_nothing_stands_out_without_figures() -> None:
    assert diagnose(Figures(name="model", format="keras", bandwidth=BANDWIDTH)) == []


def test_count_layers_counts_nested_models() -> None:
    inner = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}] * 2}}
    outer = {"class_name": "Functional", "config": {"layers": [{"class_name": "InputLayer"}, inner]}}
    assert count_layers(outer) == 4
    assert count_layers({"class_name": "Sequential", "config": [{"class_name": "Dense"}]}) == 1  # Keras 2
    assert count_layers({}) == 0


# A tiny model exported in the formats the diagnosis reads.


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # tensorflowjs imports tensorflow_decision_forests, whose banner needs IPython unless told not to.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflowjs")
    from pytest_loadbudget.export import export_formats

    inputs = keras.Input(shape=(64,))
    hidden = keras.layers.Dense(512, activation="relu")(inputs)
    hidden = keras.layers.Dense(512, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10)(hidden), name="tiny")
    return export_formats(
        model, tmp_path_factory.mktemp("tiny"),
        formats=("keras", "savedmodel", "tfjs-graph", "tfjs-graph-float16", "tfjs-graph-uint8"),
    )


def _tfjs_bytes(model_json: Path) -> int:
    document = json.loads(model_json.read_bytes())
    shards: list[Path] = [model_json.parent / name for group in document["weightsManifest"] for name in group["paths"]]
    return model_json.stat().st_size + sum(path.stat().st_size for path in shards)


def test_float32_tfjs_gets_a_quantization_estimate_within_a_tenth_of_a_percent(
    exported: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    estimate = estimate_quantization(exported["tfjs-graph"])
    assert estimate.current_bytes == _tfjs_bytes(exported["tfjs-graph"])
    assert estimate.float32_bytes > 1 * MIB
    for dtype in ("uint8", "float16"):
        real = _tfjs_bytes(exported[f"tfjs-graph-{dtype}"])
        # The README promises 0.1% of a real conversion: a rule of thumb (a quarter, a half)
        # that forgets model.json's quantization entries is off by more than that.
        assert estimate.estimated_bytes[dtype] == pytest.approx(real, rel=0.001), dtype

    code = profile_cli.main([str(exported["tfjs-graph"])])
    out = capsys.readouterr().out
    assert code == 0
    assert "a TF.js graph model runs only in the TF.js runtime: there is no Python load to time" in out
    current, uint8 = format_mib(estimate.current_bytes), format_mib(estimate.estimated_bytes["uint8"])
    assert f"1. float32 TF.js weights: uint8 quantization would cut {current} to about {uint8}" in out
    assert "tensorflowjs_converter --quantize_uint8 '*'" in out
    # An already quantized model gets no such advice.
    assert profile_cli.main([str(exported["tfjs-graph-uint8"])]) == 0
    assert "quantization would cut" not in capsys.readouterr().out


def test_graph_counts_of_savedmodel_and_keras(exported: dict[str, Path]) -> None:
    keras_stats = graph_stats(exported["keras"], "keras")
    assert keras_stats == GraphStats(source="config.json", layers=4)  # the input and three Dense layers
    saved = graph_stats(exported["savedmodel"], "savedmodel")
    assert saved is not None and saved.source == "saved_model.pb"
    assert saved.functions is not None and saved.functions >= 1
    assert saved.nodes is not None and saved.nodes > saved.functions
    graph_json = graph_stats(exported["tfjs-graph"], "tfjs-graph")
    assert graph_json is not None and graph_json.nodes is not None and graph_json.nodes > 0


def test_profile_cli_prints_the_breakdown_and_advice(
    exported: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "profile.json"
    code = profile_cli.main([str(exported["keras"]), "--runs", "1", "--json", str(report)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].startswith("tiny.keras [keras]: ")
    assert lines[1] == "cold start over 1 fresh process(es) (page cache: warm)"
    labels = [line.split()[0] for line in lines[2:10]]
    assert labels == ["start-up", "import", "read", "load", "first", "=", "steady", "reload"]
    assert "x floor (" in lines[5]
    assert "graph: 4 layers (in config.json)" in lines
    assert "advice:" in lines and any(line.startswith("1. ") for line in lines)
    assert "loadbudget profile: child 1/1: importing keras..." in captured.err.splitlines()
    document = json.loads(report.read_text())
    assert document["cold"]["phases_ms"]["load"]["rounds"] == 1
    assert document["advice"][0]["title"] in captured.out


def test_profile_cli_names_a_missing_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.keras"
    assert profile_cli.main([str(missing)]) == 2
    assert capsys.readouterr().err == f"loadbudget profile: {missing}: does not exist\n"


def test_profile_cli_rejects_zero_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        profile_cli.main(["model.keras", "--runs", "0"])
    assert "'0' must be at least 1" in capsys.readouterr().err
