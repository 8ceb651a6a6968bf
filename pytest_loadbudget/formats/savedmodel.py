"""TensorFlow SavedModel directories (``saved_model.pb`` + ``variables/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelFileError, ModelLoadError
from .base import ModelFormat, materialize, zeros_for_shape


class SavedModelFormat(ModelFormat):
    name = "savedmodel"

    def matches(self, path: Path) -> bool:
        return path.is_dir() and ((path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists())

    def artifact_files(self, path: Path) -> list[Path]:
        if not path.is_dir():
            raise ModelFileError(path, "not a SavedModel directory")
        if not (path / "saved_model.pb").is_file() and not (path / "saved_model.pbtxt").is_file():
            raise ModelFileError(path, "no saved_model.pb in this directory: not a SavedModel")
        variables = path / "variables"
        if not (variables / "variables.index").is_file():
            raise ModelFileError(
                variables / "variables.index",
                "missing: the SavedModel has no variables/ checkpoint (an incomplete copy?)",
            )
        if not any(variables.glob("variables.data-*")):
            raise ModelFileError(variables, "no variables.data-* shard next to variables.index")
        # Everything under the directory is read or may be: assets and fingerprint too.
        return sorted(p for p in path.rglob("*") if p.is_file())

    def import_framework(self) -> None:
        import tensorflow  # noqa: F401

    def load(self, path: Path, **options: Any) -> Any:
        import tensorflow as tf

        try:
            return tf.saved_model.load(str(path), **options)
        except Exception as error:
            raise ModelLoadError(path, f"tf.saved_model.load failed: {type(error).__name__}: {_first_line(error)}") from error

    def sample_input(self, model: Any) -> Any:
        signature = getattr(model, "signatures", {}).get("serving_default")
        if signature is None:
            return None
        _, kwargs = signature.structured_input_signature
        return {name: zeros_for_shape(spec.shape.as_list(), spec.dtype.as_numpy_dtype) for name, spec in kwargs.items()}

    def infer(self, model: Any, inputs: Any) -> Any:
        if isinstance(inputs, dict):
            return materialize(model.signatures["serving_default"](**inputs))
        if callable(model):
            return materialize(model(inputs))
        return materialize(model.serve(inputs))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
