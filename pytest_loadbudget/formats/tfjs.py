"""TF.js models: ``model.json`` plus weight shards, layers and graph models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_loadbudget.errors import ModelFileError, ModelLoadError
from pytest_loadbudget.formats.base import ModelFormat
from pytest_loadbudget.formats.keras import keras_infer, keras_sample_input
from pytest_loadbudget.formats.tfjs_manifest import TFJSManifest, declared_format, read_manifest

KERAS3_HINT = (
    "this layers model was converted from a Keras 3 model (its InputLayer config has 'batch_shape'), "
    "which tf_keras, the Keras that tensorflowjs loads layers models with, cannot read; convert the model "
    "from tf_keras, or export a SavedModel and convert it to a graph model "
    "(tensorflowjs_converter --input_format=tf_saved_model)"
)


def _model_json(path: Path) -> Path:
    return path / "model.json" if path.is_dir() else path


def _is_tfjs(path: Path, wanted: str) -> bool:
    model_json = _model_json(path)
    if model_json.name != "model.json" and model_json.suffix != ".json":
        return False
    if not model_json.is_file():
        return False
    try:
        return declared_format(model_json) == wanted
    except ModelFileError:
        # Claim a broken model.json anyway so that the user sees what is wrong
        # with it when it is validated, not "unknown format".
        return wanted == "layers-model"


class TFJSLayersFormat(ModelFormat):
    name = "tfjs-layers"
    framework = "tensorflowjs"
    is_tfjs = True

    def matches(self, path: Path) -> bool:
        return _is_tfjs(path, "layers-model")

    def manifest(self, path: Path) -> TFJSManifest:
        return read_manifest(_model_json(path))

    def artifact_files(self, path: Path) -> list[Path]:
        return self.manifest(path).files

    def import_framework(self) -> None:
        import os

        # tensorflowjs imports tensorflow_decision_forests, whose welcome banner
        # imports IPython whenever stdout is not a terminal (as under pytest).
        os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
        import tensorflowjs  # noqa: F401

    def load(self, path: Path, **options: Any) -> Any:
        from tensorflowjs.converters import load_keras_model

        model_json = _model_json(path)
        try:
            return load_keras_model(str(model_json), **options)
        except Exception as error:
            if "batch_shape" in str(error):
                raise ModelLoadError(model_json, KERAS3_HINT) from error
            raise ModelLoadError(model_json, f"tensorflowjs load_keras_model failed: {type(error).__name__}: {error}") from error

    def sample_input(self, model: Any) -> Any:
        return keras_sample_input(model)

    def infer(self, model: Any, inputs: Any) -> Any:
        return keras_infer(model, inputs)


@dataclass
class TFJSGraphArtifact:
    """What a TF.js graph model is in Python: validated files, no runtime.

    Graph models run only in the TF.js runtime; in Python they get a size
    budget and manifest validation.
    """

    manifest: TFJSManifest

    @property
    def path(self) -> Path:
        return self.manifest.model_json


class TFJSGraphFormat(TFJSLayersFormat):
    name = "tfjs-graph"
    framework = "nothing (a graph model has no Python runtime)"
    loadable = False

    def matches(self, path: Path) -> bool:
        return _is_tfjs(path, "graph-model")

    def import_framework(self) -> None:
        pass

    def load(self, path: Path, **options: Any) -> Any:
        return TFJSGraphArtifact(self.manifest(path))

    def sample_input(self, model: Any) -> Any:
        return None
