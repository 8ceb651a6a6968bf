"""Validation of a TF.js ``model.json`` and the weight shards it names.

TF.js concatenates the weights of a group in manifest order and splits the
bytes across the group's ``paths``; so the byte count of a group is fixed by
the shapes and (quantized) dtypes, and a shard of the wrong size is found
before any runtime tries to decode it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats.base import check_readable, file_problem

#: Bytes per element of the dtypes a TF.js weights manifest can hold.
DTYPE_BYTES = {"float32": 4, "int32": 4, "bool": 1, "complex64": 8}
#: Bytes per element of the quantized storage dtypes.
QUANTIZED_BYTES = {"uint8": 1, "uint16": 2, "float16": 2}
FORMATS = ("layers-model", "graph-model")


@dataclass
class WeightGroup:
    paths: list[Path]
    expected_bytes: int
    actual_bytes: int
    has_strings: bool


@dataclass
class TFJSManifest:
    """A validated ``model.json``: its kind, files and what its weights hold."""

    model_json: Path
    format: str
    groups: list[WeightGroup] = field(default_factory=list)
    #: Bytes of float32 weights stored unquantized: what quantization would shrink.
    float32_bytes: int = 0
    #: Bytes of weights stored quantized (uint8, uint16 or float16).
    quantized_bytes: int = 0
    #: Bytes the weights take once decoded to their dtype in memory.
    decoded_bytes: int = 0

    @property
    def files(self) -> list[Path]:
        return [self.model_json] + [path for group in self.groups for path in group.paths]

    @property
    def weight_bytes(self) -> int:
        return sum(group.actual_bytes for group in self.groups)


def _read_document(model_json: Path) -> dict[str, Any]:
    if not model_json.is_file():
        raise ModelFileError(model_json, file_problem(model_json))
    try:
        content = model_json.read_bytes()
    except OSError as error:
        raise ModelFileError(model_json, f"cannot be read: {error.strerror}") from None
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(model_json, f"not valid JSON ({error}): truncated or not a TF.js model.json") from None
    if not isinstance(document, dict) or "modelTopology" not in document:
        raise ModelFileError(model_json, "no modelTopology: not a TF.js model.json")
    return document


def declared_format(model_json: Path) -> str:
    """``layers-model`` or ``graph-model``, without looking at the shards."""
    return _model_format(model_json, _read_document(model_json))


def read_manifest(model_json: Path) -> TFJSManifest:
    """Parse and check ``model_json`` and every shard it names.

    Raises ModelFileError naming the file (model.json or a shard) and the problem.
    """
    document = _read_document(model_json)
    manifest = TFJSManifest(model_json=model_json, format=_model_format(model_json, document))
    groups = document.get("weightsManifest", [])
    if not isinstance(groups, list):
        raise ModelFileError(model_json, "weightsManifest is not a list")
    for index, group in enumerate(groups):
        manifest.groups.append(_check_group(model_json, index, group, manifest))
    return manifest


def _model_format(model_json: Path, document: dict[str, Any]) -> str:
    declared = document.get("format")
    if declared in FORMATS:
        return str(declared)
    if declared is not None:
        raise ModelFileError(model_json, f"unknown format {declared!r}; expected one of {', '.join(FORMATS)}")
    # Converters before 1.0 wrote no "format"; the topology tells.
    topology = document["modelTopology"]
    if isinstance(topology, dict) and "node" in topology:
        return "graph-model"
    return "layers-model"


def _check_group(model_json: Path, index: int, group: Any, manifest: TFJSManifest) -> WeightGroup:
    where = f"weightsManifest[{index}]"
    if not isinstance(group, dict) or not isinstance(group.get("paths"), list) or not isinstance(group.get("weights"), list):
        raise ModelFileError(model_json, f"{where} needs a 'paths' list and a 'weights' list")
    paths = []
    for name in group["paths"]:
        path = model_json.parent / str(name)
        if os.path.isabs(str(name)) or os.path.normpath(name).split(os.sep)[0] == os.pardir:
            # TF.js fetches shards by URL relative to model.json: a server of the
            # model's directory (the browser runtime's among them) has no such file.
            raise ModelFileError(model_json, (
                f"{where}.paths names {str(name)!r}, outside the model's directory: "
                f"shards must sit beside {model_json.name} or below it"
            ))
        if not path.is_file():
            problem = file_problem(path)
            raise ModelFileError(path, f"{'missing' if problem == 'does not exist' else problem}: "
                                       f"named in {where}.paths of {model_json.name}")
        check_readable(path)
        paths.append(path)
    expected = 0
    has_strings = False
    for weight in group["weights"]:
        size, stored_quantized = _weight_bytes(model_json, where, weight)
        if size is None:
            has_strings = True
            continue
        expected += size
        count = math.prod(weight["shape"])
        decoded = count * DTYPE_BYTES.get(weight["dtype"], 0)
        manifest.decoded_bytes += decoded
        if stored_quantized:
            manifest.quantized_bytes += size
        elif weight["dtype"] == "float32":
            manifest.float32_bytes += size
    sizes = [path.stat().st_size for path in paths]
    actual = sum(sizes)
    if not paths and (expected or has_strings):
        raise ModelFileError(model_json, f"{where} lists weights but no shard in its 'paths'")
    if actual < expected or (actual > expected and not has_strings):
        raise ModelFileError(*_size_mismatch(model_json, where, paths, sizes, expected))
    return WeightGroup(paths=paths, expected_bytes=expected, actual_bytes=actual, has_strings=has_strings)


def _weight_bytes(model_json: Path, where: str, weight: Any) -> tuple[int | None, bool]:
    """Stored bytes of one weight (None for strings, whose size is in the data)."""
    if not isinstance(weight, dict) or not isinstance(weight.get("shape"), list):
        raise ModelFileError(model_json, f"{where}: a weight entry without a 'shape' list: {weight!r:.120}")
    name = weight.get("name", "?")
    dtype = weight.get("dtype")
    if dtype == "string":
        return None, False
    if dtype not in DTYPE_BYTES:
        raise ModelFileError(model_json, f"{where}: weight {name!r} has unknown dtype {dtype!r}")
    if not all(isinstance(dim, int) and dim >= 0 for dim in weight["shape"]):
        raise ModelFileError(model_json, f"{where}: weight {name!r} has an invalid shape {weight['shape']!r}")
    count = math.prod(weight["shape"])
    quantization = weight.get("quantization")
    if quantization:
        stored = quantization.get("dtype") if isinstance(quantization, dict) else None
        if stored not in QUANTIZED_BYTES:
            raise ModelFileError(model_json, f"{where}: weight {name!r} has unknown quantization dtype {stored!r}")
        return count * QUANTIZED_BYTES[stored], True
    return count * DTYPE_BYTES[dtype], False


def _size_mismatch(
    model_json: Path, where: str, paths: list[Path], sizes: list[int], expected: int
) -> tuple[Path, str]:
    actual = sum(sizes)
    if actual > expected:
        return model_json, (
            f"{where}: the shards hold {actual:,} bytes but the weights listed need {expected:,}: "
            "the shards belong to another conversion of the model"
        )
    # Converters cut a group into equal shards and a shorter last one, so a
    # shard smaller than the largest (or a short last one) is the truncated one.
    # The last shard counts towards the largest: with two shards and the first
    # truncated, it is the only full one.
    full = max(sizes)
    for path, size in zip(paths[:-1], sizes[:-1]):
        if size < full:
            return path, f"truncated: {size:,} bytes where the other shards of {where} hold {full:,}"
    last_expected = expected - sum(sizes[:-1])
    return paths[-1], (
        f"truncated: {sizes[-1]:,} bytes, but {model_json.name} needs {last_expected:,} bytes here "
        f"({expected:,} bytes of weights in {where}, {len(paths)} shard(s))"
    )
