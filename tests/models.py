"""Tiny models in every format, built on the spot (nothing is downloaded), and ways to break them.

TensorFlow, Keras and tensorflowjs are imported inside the builders only.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: The Keras 3 model: a 16x16 RGB image in, three scores out.
IMAGE_SHAPE = (16, 16, 3)
CLASSES = 3
#: The tf_keras model behind the TF.js layers model: eight features in, two out.
FEATURES = 8
FEATURE_OUTPUTS = 2
#: Small enough that the float32 graph model (about 17 KB of weights) is cut into several shards.
SHARD_BYTES = 4096


def quiet_tf() -> None:
    """Keep TensorFlow quiet, and tensorflowjs importable under pytest (no IPython banner)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")


#: What ``build_models`` writes without tensorflowjs: the formats TensorFlow alone saves.
TENSORFLOW_FORMATS = ("keras", "h5", "savedmodel", "tflite", "tflite-quantized")


def tfjs_missing() -> str | None:
    """Why the TF.js models cannot be built here (tensorflowjs or tf_keras missing), or None."""
    quiet_tf()
    for module in ("tensorflowjs", "tf_keras"):
        try:
            importlib.import_module(module)
        except ImportError as error:
            return f"{module} is not installed ({error}); the [tfjs] extra installs it"
    return None


class ModelPaths(dict[str, Path]):
    """The models built, by name; asking for one that could not be built skips the test, saying why."""

    def __init__(self, paths: dict[str, Path], missing_reason: str | None) -> None:
        super().__init__(paths)
        self.missing_reason = missing_reason

    def __missing__(self, name: str) -> Path:
        if self.missing_reason is None:
            raise KeyError(name)
        import pytest

        pytest.skip(f"no {name} model: {self.missing_reason}")


def build_models(directory: Path) -> ModelPaths:
    """Write every model the format tests load; returns the path to load, by name.

    Names: the keys of ``export_formats`` (keras, h5, savedmodel, tflite,
    tflite-quantized, tfjs-graph, tfjs-graph-float16, tfjs-graph-uint8), plus
    tfjs-layers (from tf_keras), tfjs-layers-keras3 (converted from Keras 3,
    which tensorflowjs cannot load back) and tfjs-sharded (the float32 graph
    model cut into several weight shards). Without tensorflowjs (TensorFlow
    releases newer than the [tfjs] pin), only ``TENSORFLOW_FORMATS``.
    """
    quiet_tf()
    import keras

    from pytest_loadbudget.export import export_formats, export_tfjs_layers

    inputs = keras.Input(IMAGE_SHAPE)
    hidden = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    # 2,048 weights: enough for TFLite's dynamic-range quantization to store them as int8.
    hidden = keras.layers.Dense(512, activation="relu")(hidden)
    outputs = keras.layers.Dense(CLASSES)(hidden)
    model = keras.Model(inputs, outputs, name="tiny")
    missing = tfjs_missing()
    if missing:
        with _quiet():
            return ModelPaths(export_formats(model, directory, stem="tiny", formats=TENSORFLOW_FORMATS), missing)
    import tf_keras
    from tensorflowjs.converters import convert_tf_saved_model

    with _quiet():
        paths = export_formats(model, directory, stem="tiny")

        layers_model = tf_keras.Sequential([
            tf_keras.layers.InputLayer(input_shape=(FEATURES,)),
            tf_keras.layers.Dense(4, activation="relu"),
            tf_keras.layers.Dense(FEATURE_OUTPUTS),
        ])
        paths["tfjs-layers"] = export_tfjs_layers(layers_model, directory / "tiny_layers")

        keras3_model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(FEATURE_OUTPUTS)])
        paths["tfjs-layers-keras3"] = export_tfjs_layers(keras3_model, directory / "keras3_layers")

        sharded = directory / "tiny_sharded"
        convert_tf_saved_model(str(paths["savedmodel"]), str(sharded), weight_shard_size_bytes=SHARD_BYTES)
        paths["tfjs-sharded"] = sharded / "model.json"
    return ModelPaths(paths, None)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # The converters print progress and warn about legacy formats on every call.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def artifact_files(path: Path) -> list[Path]:
    """Every file of a model as the file system sees it: a file, a directory's files, or a TF.js folder."""
    root = path.parent if path.name == "model.json" else path
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.is_file())
    return [path]


def size_on_disk(path: Path) -> int:
    return sum(os.stat(p).st_size for p in artifact_files(path))


def copy_model(path: Path, destination: Path) -> Path:
    """A copy of the model under ``destination`` to break; returns the path to load."""
    destination.mkdir(parents=True, exist_ok=True)
    if path.name == "model.json":
        folder = shutil.copytree(path.parent, destination / path.parent.name)
        return Path(folder) / "model.json"
    if path.is_dir():
        return Path(shutil.copytree(path, destination / path.name))
    return Path(shutil.copy2(path, destination / path.name))


def shards(model_json: Path) -> list[Path]:
    """The weight shards a model.json names, in manifest order."""
    manifest = json.loads(model_json.read_text())["weightsManifest"]
    return [model_json.parent / name for group in manifest for name in group["paths"]]


def truncate(path: Path, size: int) -> None:
    with path.open("r+b") as stream:
        stream.truncate(size)


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as stream:
        stream.seek(offset)
        stream.write(data)


def record_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    """The one record of the model called ``name`` in a ``--loadbudget-json`` document."""
    found = [record for record in document["models"] if record["name"] == name]
    assert len(found) == 1, f"{len(found)} records named {name!r} among {[r['name'] for r in document['models']]}"
    return found[0]


def marker_error(pytester: pytest.Pytester, keywords: str) -> pytest.RunResult:
    """Run one test marked ``@pytest.mark.load_budget(<keywords>)``, which must be an error; its result."""
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget({keywords})
        def test_it(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    return result


def literal(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself (messages hold ``weightsManifest[0]``)."""
    return re.sub(r"([*?[])", r"[\1]", text)


#: Write-only sysfs attributes: the kernel refuses to open them for reading, even for root.
WRITE_ONLY_FILES = ("/sys/bus/pci/rescan", "/sys/bus/pci/drivers_probe", "/sys/kernel/mm/ksm/run")


def write_only_file() -> str | None:
    """A file whose open() for reading fails with EACCES whoever asks, or None on this machine."""
    for candidate in WRITE_ONLY_FILES:
        try:
            with open(candidate, "rb"):
                pass
        except PermissionError:
            return candidate
        except OSError:
            continue
    return None
