"""TensorFlow Lite flatbuffers; ``allocate_tensors`` is part of the load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, ModelLoadError
from .base import ModelFormat, zeros_for_shape

_FLATBUFFER_IDENTIFIER = b"TFL3"


class TFLiteModel:
    """A loaded interpreter that can be called like a model: ``model(x)``.

    A single input takes an array, several take a list in input order or a dict
    by input name; the result is one array or a list in output order.
    """

    def __init__(self, interpreter: Any) -> None:
        self.interpreter = interpreter

    def __call__(self, inputs: Any) -> Any:
        details = self.interpreter.get_input_details()
        if isinstance(inputs, dict):
            by_name = inputs
            values = [by_name[detail["name"]] for detail in details]
        elif isinstance(inputs, (list, tuple)):
            values = list(inputs)
        else:
            values = [inputs]
        for detail, value in zip(details, values):
            array = np.asarray(value, dtype=detail["dtype"])
            if tuple(array.shape) != tuple(detail["shape"]):
                self.interpreter.resize_tensor_input(detail["index"], array.shape)
                self.interpreter.allocate_tensors()
            self.interpreter.set_tensor(detail["index"], array)
        self.interpreter.invoke()
        outputs = [self.interpreter.get_tensor(d["index"]) for d in self.interpreter.get_output_details()]
        return outputs[0] if len(outputs) == 1 else outputs


class TFLiteFormat(ModelFormat):
    name = "tflite"

    def matches(self, path: Path) -> bool:
        return path.suffix == ".tflite"

    def artifact_files(self, path: Path) -> list[Path]:
        files = super().artifact_files(path)
        with path.open("rb") as stream:
            head = stream.read(8)
        if len(head) < 8 or head[4:8] != _FLATBUFFER_IDENTIFIER:
            raise ModelFileError(path, "not a TFLite flatbuffer (no TFL3 identifier): corrupt or truncated")
        return files

    def import_framework(self) -> None:
        import tensorflow  # noqa: F401

    def load(self, path: Path, **options: Any) -> Any:
        import warnings

        import tensorflow as tf

        try:
            with warnings.catch_warnings():
                # TF 2.19 warns on every Interpreter that it moves to ai_edge_litert.
                warnings.simplefilter("ignore", UserWarning)
                interpreter = tf.lite.Interpreter(model_path=str(path), **options)
            interpreter.allocate_tensors()
        except Exception as error:
            raise ModelLoadError(path, f"tf.lite.Interpreter failed: {type(error).__name__}: {error}") from error
        return TFLiteModel(interpreter)

    def sample_input(self, model: Any) -> Any:
        details = model.interpreter.get_input_details()
        arrays = [zeros_for_shape(d["shape"], d["dtype"]) for d in details]
        return arrays[0] if len(arrays) == 1 else arrays

    def infer(self, model: Any, inputs: Any) -> Any:
        return model(inputs)
