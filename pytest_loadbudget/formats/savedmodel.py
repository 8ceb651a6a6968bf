"""TensorFlow SavedModel directories (``saved_model.pb`` + ``variables/``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pytest_loadbudget.errors import ModelFileError, ModelLoadError
from pytest_loadbudget.formats.base import ModelFormat, check_readable, file_problem, materialize, zeros_for_shape
from pytest_loadbudget.formats.savedmodel_files import check_checkpoint, check_saved_model_pb


class SavedModelFormat(ModelFormat):
    name = "savedmodel"
    framework = "tensorflow"

    def matches(self, path: Path) -> bool:
        # lexists: a saved_model.pb that is a link loop is still a SavedModel, reported as such.
        return path.is_dir() and any(os.path.lexists(path / name) for name in ("saved_model.pb", "saved_model.pbtxt"))

    def artifact_files(self, path: Path) -> list[Path]:
        if not path.is_dir():
            raise ModelFileError(path, "not a SavedModel directory")
        graph = path / "saved_model.pb"
        if graph.is_file():
            check_readable(graph)
            check_saved_model_pb(graph)
        elif os.path.lexists(graph):
            raise ModelFileError(graph, file_problem(graph))
        elif not (path / "saved_model.pbtxt").is_file():
            raise ModelFileError(path, "no saved_model.pb in this directory: not a SavedModel")
        variables = path / "variables"
        index = variables / "variables.index"
        if not index.is_file():
            problem = file_problem(index)
            if problem == "does not exist":
                problem = "missing: the SavedModel has no variables/ checkpoint (an incomplete copy?)"
            raise ModelFileError(index, problem)
        check_readable(index)
        if not any(variables.glob("variables.data-*")):
            raise ModelFileError(variables, "no variables.data-* shard next to variables.index")
        check_checkpoint(index)
        # Everything under the directory is read or may be: assets and fingerprint too.
        files = []
        for entry in sorted(path.rglob("*")):
            if entry.is_file():
                files.append(entry)
            elif not entry.is_dir():  # a link loop, a broken link, a FIFO: a damaged copy
                raise ModelFileError(entry, file_problem(entry))
        return files

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
