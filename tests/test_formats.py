"""Every model format through ``load_model``: detected, loaded once, warm, usable, sized and budgeted."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from models import artifact_files, literal, record_named, shards, size_on_disk

IMAGE = "np.zeros((1, 16, 16, 3), 'float32')"
FEATURES = "np.zeros((1, 8), 'float32')"


@dataclass(frozen=True)
class Case:
    key: str  # in the model_paths fixture
    format: str  # what detection must find, and what format= names
    name: str  # how reports call the model
    usage: str  # a statement that uses the loaded model

    @property
    def loadable(self) -> bool:
        return self.format != "tfjs-graph"


GRAPH_USAGE = "assert model.manifest.format == 'graph-model' and model.path == Path(MODEL)"
CASES = [
    Case("keras", "keras", "tiny.keras", f"assert tuple(model({IMAGE}).shape) == (1, 3)"),
    Case("h5", "h5", "tiny.h5", f"assert tuple(model({IMAGE}).shape) == (1, 3)"),
    Case("savedmodel", "savedmodel", "tiny_savedmodel", f"assert tuple(model.serve({IMAGE}).shape) == (1, 3)"),
    Case("tflite", "tflite", "tiny.tflite", f"assert model({IMAGE}).shape == (1, 3)"),
    Case("tflite-quantized", "tflite", "tiny_quantized.tflite", f"assert model({IMAGE}).shape == (1, 3)"),
    Case("tfjs-layers", "tfjs-layers", "tiny_layers/model.json", f"assert tuple(model({FEATURES}).shape) == (1, 2)"),
    Case("tfjs-graph", "tfjs-graph", "tiny_tfjs/model.json", GRAPH_USAGE),
    Case("tfjs-graph-float16", "tfjs-graph", "tiny_tfjs_float16/model.json", GRAPH_USAGE),
    Case("tfjs-graph-uint8", "tfjs-graph", "tiny_tfjs_uint8/model.json", GRAPH_USAGE),
    Case("tfjs-sharded", "tfjs-graph", "tiny_sharded/model.json", GRAPH_USAGE),
]


@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_format_loads_warm_usable_sized_and_budgeted(case: Case, model_paths, run_loadbudget) -> None:
    path = model_paths[case.key]
    result, document = run_loadbudget(f"""
        from pathlib import Path
        import numpy as np
        import pytest

        MODEL = {str(path)!r}

        @pytest.mark.load_budget(mb=10)
        def test_fits(load_model):
            model = load_model(MODEL)
            {case.usage}

        @pytest.mark.load_budget(mb=0.001)
        def test_too_big(load_model):
            load_model(MODEL)

        def test_format_named(load_model):
            assert load_model(MODEL, format={case.format!r}) is not None
    """)
    result.assert_outcomes(passed=2, failed=1)
    files = artifact_files(path)
    plural = "s" if len(files) != 1 else ""
    result.stdout.fnmatch_lines([
        f"load_budget: {literal(case.name)} size * MiB > budget 0.001 MiB ({len(files)} file{plural})",
    ])
    record = record_named(document, case.name)
    assert record["format"] == case.format
    assert record["error"] is None
    # The size is every file the load reads: model.json and all shards, all of a SavedModel.
    assert record["size_bytes"] == size_on_disk(path)
    assert record["files"] == len(files)
    # Detected and named explicitly, it is the same model: one record, three tests.
    assert sorted(use["nodeid"].split("::")[1] for use in record["tests"]) == [
        "test_fits", "test_format_named", "test_too_big",
    ]
    if case.loadable:
        assert len(record["load_ms"]["samples"]) == 1
        assert len(record["warm_ms"]["samples"]) == 1, "the model was handed out cold"
    else:
        # Reading a manifest is not a load, and there is no runtime to warm up.
        assert record["load_ms"]["samples"] == [] and record["warm_ms"]["samples"] == []


def test_sharded_model_has_several_shards(model_paths) -> None:
    # The size test above only means "every shard" if there are several.
    assert len(shards(model_paths["tfjs-sharded"])) >= 3
    assert len(artifact_files(model_paths["tfjs-sharded"])) == 1 + len(shards(model_paths["tfjs-sharded"]))


def test_model_is_loaded_once_per_session(model_paths, run_loadbudget, pytester) -> None:
    path = model_paths["keras"]
    relative = os.path.relpath(path, pytester.path)
    result, document = run_loadbudget(f"""
        import pytest

        MODEL = {str(path)!r}
        seen = []

        def test_first(load_model):
            seen.append(load_model(MODEL))

        def test_twice_in_one_test(load_model):
            assert load_model(MODEL) is load_model(MODEL)
            seen.append(load_model(MODEL))

        @pytest.mark.load_budget(mb=10)
        def test_relative_path(load_model):
            seen.append(load_model({relative!r}))

        @pytest.mark.parametrize("n", [1, 2])
        def test_parametrized(load_model, n):
            seen.append(load_model(MODEL))

        def test_all_got_the_same_model():
            assert len(seen) == 5 and all(model is seen[0] for model in seen)
    """, "--loadbudget-rounds=3")
    result.assert_outcomes(passed=6)
    assert len(document["models"]) == 1
    record = document["models"][0]
    # Three timed rounds are the only loads, however many tests use the model.
    assert len(record["load_ms"]["samples"]) == 3
    assert len(record["warm_ms"]["samples"]) == 3
    assert [use["nodeid"] for use in record["tests"]] == [
        "test_models.py::test_first",
        "test_models.py::test_twice_in_one_test",
        "test_models.py::test_relative_path",
        "test_models.py::test_parametrized[1]",
        "test_models.py::test_parametrized[2]",
    ]


def test_format_named_explicitly_loads_unusual_names(model_paths, run_loadbudget, tmp_path) -> None:
    keras_copy = Path(shutil.copy(model_paths["keras"], tmp_path / "classifier.bin"))
    h5_copy = Path(shutil.copy(model_paths["h5"], tmp_path / "classifier.weights"))
    tflite_copy = Path(shutil.copy(model_paths["tflite"], tmp_path / "classifier.lite"))
    result, document = run_loadbudget(f"""
        def test_keras(load_model):
            assert load_model({str(keras_copy)!r}, format="keras").name == "tiny"

        def test_h5(load_model):
            assert load_model({str(h5_copy)!r}, format="h5").name == "tiny"

        def test_tflite(load_model):
            assert load_model({str(tflite_copy)!r}, format="tflite").interpreter is not None

        def test_undetectable(load_model):
            load_model({str(keras_copy)!r})

        def test_wrong_format(load_model):
            load_model({str(model_paths["keras"])!r}, format="tflite")

        def test_unknown_format(load_model):
            load_model({str(keras_copy)!r}, format="onnx")
    """)
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines([
        f"ModelFileError: {literal(str(keras_copy))}: unknown model format; expected .keras, .h5, .tflite, "
        "a TF.js model.json or a SavedModel directory (or pass format=...)",
    ])
    result.stdout.fnmatch_lines([
        f"ModelFileError: {literal(str(model_paths['keras']))}: not a TFLite flatbuffer (no TFL3 identifier): "
        "corrupt or truncated",
    ])
    result.stdout.fnmatch_lines(["MarkerError: unknown model format 'onnx'; known formats: keras, h5, *"])
    assert record_named(document, "classifier.bin")["format"] == "keras"
    assert record_named(document, "classifier.weights")["format"] == "h5"
    assert record_named(document, "classifier.lite")["format"] == "tflite"


def test_quantized_variants_are_smaller(model_paths, run_loadbudget) -> None:
    names = ["tflite", "tflite-quantized", "tfjs-graph", "tfjs-graph-float16", "tfjs-graph-uint8"]
    loads = "\n".join(f"    load_model({str(model_paths[name])!r})" for name in names)
    result, document = run_loadbudget(f"def test_all(load_model):\n{loads}\n")
    result.assert_outcomes(passed=1)
    size = {record["path"]: record["size_bytes"] for record in document["models"]}
    sizes = [size[str(model_paths[name])] for name in names]
    tflite, tflite_quantized, graph, graph_float16, graph_uint8 = sizes
    assert tflite_quantized < tflite
    assert graph_uint8 < graph_float16 < graph


def test_tfjs_graph_model_has_no_time_figures(model_paths, run_loadbudget) -> None:
    result, document = run_loadbudget(f"""
        import pytest

        MODEL = {str(model_paths["tfjs-graph"])!r}

        @pytest.mark.load_budget(ms=1000)
        def test_load_time(load_model):
            load_model(MODEL)

        @pytest.mark.load_budget(warm_ms=1000)
        def test_warm_up_time(load_model):
            load_model(MODEL)

        @pytest.mark.load_budget(mb=10)
        def test_size(load_model):
            load_model(MODEL)
    """)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "load_budget: tiny_tfjs/model.json load not measured: a TF.js graph model has no Python runtime*",
    ])
    result.stdout.fnmatch_lines([
        "load_budget: tiny_tfjs/model.json warm-up not measured: a TF.js graph model has no Python runtime*",
    ])


def test_tfjs_layers_model_from_keras3_fails_with_the_batch_shape_hint(model_paths, run_loadbudget) -> None:
    keras3 = model_paths["tfjs-layers-keras3"]
    result, document = run_loadbudget(f"""
        def test_keras3_conversion(load_model):
            load_model({str(keras3)!r})

        def test_tf_keras_conversion(load_model):
            load_model({str(model_paths["tfjs-layers"])!r})
    """)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        f"ModelLoadError: {literal(str(keras3))}: this layers model was converted from a Keras 3 model "
        "(its InputLayer config has 'batch_shape'), which tf_keras, the Keras that tensorflowjs loads layers "
        "models with, cannot read; convert the model from tf_keras, *",
    ])
    assert "batch_shape" in record_named(document, "keras3_layers/model.json")["error"]


def test_peak_memory_of_a_file_model_is_measured_in_a_fresh_process(model_paths, run_loadbudget, tmp_path) -> None:
    # The one memory figure here: the child replays a path request (a fresh
    # Python that imports TensorFlow, seconds); callables are tested elsewhere.
    # A 32 MiB float32 weight matrix: a peak that is real has to hold those
    # weights (the interpreter reads the file into memory), so the size on disk
    # is a lower bound no constant or misread figure meets by chance.
    # model_paths is not used, but it imports TensorFlow before pytester's
    # snapshot of sys.modules: a TensorFlow imported during the test would be
    # dropped at teardown, and a second import aborts the process.
    import keras

    from pytest_loadbudget.export import export_formats

    wide = keras.Sequential([keras.Input((4096,)), keras.layers.Dense(2048)], name="wide")
    path = export_formats(wide, tmp_path, formats=("tflite",))["tflite"]
    assert size_on_disk(path) >= 32 * 2**20
    result, document = run_loadbudget(f"""
        import pytest

        @pytest.mark.load_budget(peak_mb=4096)
        def test_peak(load_model):
            load_model({str(path)!r})
    """)
    result.assert_outcomes(passed=1)
    memory = record_named(document, "wide.tflite")["memory"]
    assert memory["where"] == "fresh process"
    assert memory["peak_bytes"] >= size_on_disk(path)
