"""TensorFlow Lite flatbuffers; ``allocate_tensors`` is part of the load."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from pytest_loadbudget.errors import ModelFileError, ModelLoadError
from pytest_loadbudget.formats.base import ModelFormat, zeros_for_shape

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
    framework = "tensorflow"

    def matches(self, path: Path) -> bool:
        return path.suffix == ".tflite"

    def artifact_files(self, path: Path) -> list[Path]:
        files = super().artifact_files(path)
        with path.open("rb") as stream:
            head = stream.read(8)
        if len(head) < 8 or head[4:8] != _FLATBUFFER_IDENTIFIER:
            raise ModelFileError(path, "not a TFLite flatbuffer (no TFL3 identifier): corrupt or truncated")
        _check_flatbuffer(path)
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


def _check_flatbuffer(path: Path) -> None:
    """Read the whole flatbuffer in Python before the interpreter sees it.

    tf.lite.Interpreter does not verify the file: a truncated or damaged one
    crashes the process (segmentation fault) instead of raising, which would
    end the whole test session. Python's flatbuffers reader bounds-checks every
    read, so most damage raises here; index checks catch offsets that land
    inside the file but point at tensors or buffers that do not exist.
    """
    schema = _tflite_schema()
    if schema is None:  # no schema to read it with: leave the file to the interpreter
        return
    data = path.read_bytes()
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as error:  # damaged offsets raise struct.error, IndexError, TypeError, ...
        raise ModelFileError(path, f"corrupt or truncated TFLite flatbuffer ({error})") from None
    problem = _index_problem(model, len(data))
    if problem is not None:
        raise ModelFileError(path, f"corrupt TFLite flatbuffer: {problem}")


@functools.lru_cache(maxsize=None)
def _tflite_schema() -> Any:
    """TensorFlow's generated flatbuffer reader, or None.

    Loaded from its file rather than imported: importing it through the
    ``tensorflow`` package imports TensorFlow (seconds), and validation must
    stay cheap for callers that never load the model in this process.
    """
    try:
        spec = importlib.util.find_spec("tensorflow")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        source = Path(location) / "lite" / "python" / "schema_py_generated.py"
        if source.is_file():
            break
    else:
        return None
    module_spec = importlib.util.spec_from_file_location("_loadbudget_tflite_schema", source)
    if module_spec is None or module_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except ImportError:  # the flatbuffers package is missing
        return None
    return module


def _index_problem(model: Any, file_size: int) -> str | None:
    buffers = model.buffers or []
    for number, buffer in enumerate(buffers):
        # Models over 2 GB keep buffers after the flatbuffer, located by offset and size.
        if buffer.offset > 1 and buffer.offset + buffer.size > file_size:
            return f"buffer {number} ends at byte {buffer.offset + buffer.size:,}, past the end of the file"
    operator_codes = len(model.operatorCodes or [])
    for graph, subgraph in enumerate(model.subgraphs or []):
        tensors = subgraph.tensors or []
        for number, tensor in enumerate(tensors):
            if not 0 <= tensor.buffer < max(len(buffers), 1):
                return f"tensor {number} of subgraph {graph} names buffer {tensor.buffer} of {len(buffers)}"
        index_lists = [("the inputs", subgraph.inputs), ("the outputs", subgraph.outputs)]
        for number, operator in enumerate(subgraph.operators or []):
            if not 0 <= operator.opcodeIndex < operator_codes:
                return (
                    f"operator {number} of subgraph {graph} names operator code "
                    f"{operator.opcodeIndex} of {operator_codes}"
                )
            for indices in (operator.inputs, operator.outputs, operator.intermediates):
                index_lists.append((f"operator {number}", indices))
        for owner, indices in index_lists:
            array = np.asarray(indices if indices is not None else [])
            # -1 marks an optional input left out.
            if array.size and (array.min() < -1 or array.max() >= len(tensors)):
                return f"{owner} of subgraph {graph}: a tensor index outside 0..{len(tensors) - 1}"
    return None
