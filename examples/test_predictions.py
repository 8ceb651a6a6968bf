"""Per-prediction growth: 100 predictions on a warm MobileNetV2, and what each leaves alive.

A page that serves its first predictions and dies after a hundred keeps
something from every call: tensors ``predict`` returned and nobody disposed,
or WebGL textures never released. ``predictions=100`` runs 100 predictions
on the warm model, each result read back and disposed as a well-behaved page
does, and reads ``tf.memory()`` after each; ``predict_leak_tensors=0`` fails
the test if any tensor outlives its prediction. The table at the end of this
module shows the growth on each backend.

Node.js runs the cpu and wasm backends (WebGL needs a browser: Node.js without
tfjs-node has none); Chromium runs all three, WebGL on SwiftShader (software)
in this headless set-up. The .keras model in Python is counted in resident
memory and TensorFlow tensors. Skipped, with what to install, where Node.js
(`loadbudget setup-js`) or Chromium is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from build_models import ExampleModels
from pytest_loadbudget import LoadModel
from pytest_loadbudget.results.predictions import PredictionGrowth, growth_text

PREDICTIONS = 100
#: Rows of the table printed after the last case: (model, where, growth).
GROWTH: list[tuple[str, PredictionGrowth]] = []


def _cases() -> Iterator[pytest.ParameterSet]:
    for runtime, backends in (("node", ("cpu", "wasm", "webgl")), ("browser", ("cpu", "wasm", "webgl"))):
        for backend in backends:
            if runtime == "node" and backend == "webgl":
                yield pytest.param(runtime, backend, id="node-webgl", marks=pytest.mark.skip(
                    reason="Node.js has no WebGL without the tfjs-node-gpu addon: webgl is measured in Chromium"))
                continue
            # One load: the growth is the point here, and 100 predictions on the cpu backend take minutes.
            marks = pytest.mark.load_budget(runtime=runtime, backend=backend, predictions=PREDICTIONS,
                                            predict_leak_tensors=0, rounds=1)
            yield pytest.param(runtime, backend, id=f"{runtime}-{backend}", marks=marks)


@pytest.fixture(scope="module", autouse=True)
def growth_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module's last case: one row per runtime, on the terminal (whatever -s says)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not GROWTH:
        return
    reporter.write_sep("-", f"growth over {PREDICTIONS} predictions on a warm MobileNetV2")
    header = ("model", "where", "tensors before", "after", "numBytes", "numBytesInGPU", "RSS")
    rows = [header] + [
        (name, growth.where, str(growth.tensors[0]) if growth.tensors else "-",
         str(growth.tensors[-1]) if growth.tensors else "-",
         *(_growth_cell(series) for series in (growth.tensor_bytes, growth.gpu_bytes, growth.rss_bytes)))
        for name, growth in GROWTH
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        reporter.write_line("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _growth_cell(series: list[int]) -> str:
    if len(series) < 2:
        return "-"
    steps = [after - before for before, after in zip(series, series[1:])]
    # The whole growth, and the largest single step: a flat total can hide a climb that fell back.
    return f"{growth_text(series[-1] - series[0])} (max step {growth_text(max(steps))})"


@pytest.mark.parametrize(("runtime", "backend"), list(_cases()))
def test_mobilenet_tfjs_prediction_growth(load_model: LoadModel, models: ExampleModels, runtime: str,
                                          backend: str) -> None:
    load_model(models.mobilenet["tfjs-graph"])
    if not load_model.measuring:
        pytest.skip("no prediction is run under --loadbudget-disable")
    record = load_model.last
    assert record is not None and record.predictions is not None, "the predictions did not run"
    assert record.predictions.count == PREDICTIONS
    GROWTH.append(("mobilenetv2_tfjs", record.predictions))


@pytest.mark.load_budget(predictions=PREDICTIONS, predict_leak_tensors=0, predict_leak_mb=20)
def test_mobilenet_keras_prediction_growth(load_model: LoadModel, models: ExampleModels) -> None:
    load_model(models.mobilenet["keras"])
    if not load_model.measuring:
        pytest.skip("no prediction is run under --loadbudget-disable")
    record = load_model.last
    assert record is not None and record.predictions is not None
    GROWTH.append(("mobilenetv2.keras", record.predictions))
