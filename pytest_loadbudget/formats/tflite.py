"""TensorFlow Lite flatbuffers; ``allocate_tensors`` is part of the load.

The interpreter that loads them (LiteRT, TensorFlow's, tflite-runtime) is
chosen per request (``formats.tflite_interpreters``): ``with_interpreter``
gives the format bound to one, whose import phase imports that interpreter
alone.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from pytest_loadbudget.errors import ModelFileError, ModelLoadError
from pytest_loadbudget.formats.base import ModelFormat, zeros_for_shape
from pytest_loadbudget.formats.tflite_interpreters import INTERPRETERS, TFLiteInterpreter, choose_interpreter

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
    """``.tflite`` files, run by ``interpreter``; unbound (None), by the first installed at load time."""

    name = "tflite"

    def __init__(self, interpreter: TFLiteInterpreter | None = None) -> None:
        self.interpreter = interpreter
        self.framework = interpreter.module if interpreter is not None else "the TFLite interpreter"

    def with_interpreter(self, interpreter: str) -> ModelFormat:
        return _bound(interpreter)

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

    def _interpreter(self) -> TFLiteInterpreter:
        return self.interpreter if self.interpreter is not None else choose_interpreter(None)

    def import_framework(self) -> None:
        self._interpreter().import_module()

    def load(self, path: Path, **options: Any) -> Any:
        interpreter = self._interpreter()
        try:
            loaded = interpreter.create(str(path), **options)
            loaded.allocate_tensors()
        except Exception as error:
            raise ModelLoadError(
                path, f"the {interpreter.name} TFLite interpreter failed: {type(error).__name__}: {error}",
            ) from error
        return TFLiteModel(loaded)

    def sample_input(self, model: Any) -> Any:
        details = model.interpreter.get_input_details()
        arrays = [zeros_for_shape(d["shape"], d["dtype"]) for d in details]
        return arrays[0] if len(arrays) == 1 else arrays

    def infer(self, model: Any, inputs: Any) -> Any:
        return model(inputs)


@functools.cache
def _bound(interpreter: str) -> TFLiteFormat:
    return TFLiteFormat(INTERPRETERS[interpreter])


def _check_flatbuffer(path: Path) -> None:
    """Read the whole flatbuffer in Python before the interpreter sees it.

    The interpreters do not verify the file: a truncated or damaged one
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


#: Where each package that ships the generated flatbuffer reader keeps it, the lightest first.
_SCHEMA_LOCATIONS = (("ai_edge_litert", "schema_py_generated.py"),
                     ("tensorflow", "lite/python/schema_py_generated.py"))


@functools.lru_cache(maxsize=None)
def _tflite_schema() -> Any:
    """The generated flatbuffer reader that LiteRT or TensorFlow ships, or None.

    Loaded from its file rather than imported: importing it through its
    package imports the package (TensorFlow: seconds), and validation must
    stay cheap for callers that never load the model in this process.
    """
    for package, relative in _SCHEMA_LOCATIONS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            source = Path(location) / relative
            if source.is_file():
                return _load_schema(source)
    return None


def _load_schema(source: Path) -> Any:
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
