"""The TF.js manifest check: bytes each weight needs, totals, and which file is blamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats.tfjs_manifest import declared_format, read_manifest

from models import shards

GRAPH_TOPOLOGY = {"node": [], "library": {}, "versions": {}}


def weight(name: str, dtype: str, shape: list[int], quantized: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "dtype": dtype, "shape": shape}
    if quantized is not None:
        entry["quantization"] = {"dtype": quantized, "min": -1.0, "scale": 0.01}
    return entry


def write_model(
    directory: Path, groups: list[tuple[list[dict[str, Any]], list[int]]], **document: Any
) -> Path:
    """A model.json with ``groups`` of (weights, shard sizes in bytes), and zero-filled shards."""
    manifest = []
    for number, (weights, sizes) in enumerate(groups, start=1):
        paths = [f"group{number}-shard{index}of{len(sizes)}.bin" for index in range(1, len(sizes) + 1)]
        for path, size in zip(paths, sizes):
            (directory / path).write_bytes(b"\0" * size)
        manifest.append({"paths": paths, "weights": weights})
    model_json = directory / "model.json"
    content = {"format": "graph-model", "modelTopology": GRAPH_TOPOLOGY, "weightsManifest": manifest, **document}
    model_json.write_text(json.dumps(content))
    return model_json


@pytest.mark.parametrize(
    ("dtype", "quantized", "shape", "stored"),
    [
        ("float32", None, [2, 3], 24),
        ("float32", None, [], 4),  # a scalar holds one element
        ("float32", None, [0, 3], 0),
        ("int32", None, [5], 20),
        ("bool", None, [7], 7),
        ("complex64", None, [2], 16),
        ("float32", "uint8", [10], 10),
        ("float32", "uint16", [10], 20),
        ("float32", "float16", [10], 20),
    ],
    ids=lambda value: str(value),
)
def test_bytes_a_weight_needs(tmp_path, dtype, quantized, shape, stored) -> None:
    model_json = write_model(tmp_path, [([weight("w", dtype, shape, quantized)], [stored])])
    manifest = read_manifest(model_json)
    assert manifest.groups[0].expected_bytes == stored
    assert manifest.weight_bytes == stored
    if stored:
        shard = tmp_path / "group1-shard1of1.bin"
        shard.write_bytes(b"\0" * (stored - 1))
        with pytest.raises(ModelFileError) as info:
            read_manifest(model_json)
        assert info.value.path == shard


def test_float32_quantized_and_decoded_totals(tmp_path) -> None:
    weights = [
        weight("dense/kernel", "float32", [4]),  # 16 bytes stored as float32
        weight("conv/kernel", "float32", [8], quantized="uint8"),  # 8 bytes, 32 decoded
        weight("conv/bias", "float32", [6], quantized="float16"),  # 12 bytes, 24 decoded
        weight("indices", "int32", [2]),  # 8 bytes, neither float32 nor quantized
        weight("mask", "bool", [3]),  # 3 bytes
    ]
    manifest = read_manifest(write_model(tmp_path, [(weights, [47])]))
    assert manifest.float32_bytes == 16
    assert manifest.quantized_bytes == 8 + 12
    assert manifest.decoded_bytes == 16 + 32 + 24 + 8 + 3
    assert manifest.weight_bytes == 47


def test_exported_quantized_models_hold_the_same_weights(model_paths) -> None:
    float32 = read_manifest(model_paths["tfjs-graph"])
    float16 = read_manifest(model_paths["tfjs-graph-float16"])
    uint8 = read_manifest(model_paths["tfjs-graph-uint8"])
    assert float32.quantized_bytes == 0 and float32.float32_bytes > 0
    # Every float32 weight is stored quantized: 2 bytes and 1 byte in place of 4.
    assert float16.float32_bytes == 0 and float16.quantized_bytes * 2 == float32.float32_bytes
    assert uint8.float32_bytes == 0 and uint8.quantized_bytes * 4 == float32.float32_bytes
    assert float32.decoded_bytes == float16.decoded_bytes == uint8.decoded_bytes
    for manifest in (float32, float16, uint8):
        assert manifest.weight_bytes == sum(path.stat().st_size for path in shards(manifest.model_json))


def test_string_weights_take_what_their_data_holds(tmp_path) -> None:
    weights = [weight("vocabulary", "string", [2]), weight("scale", "float32", [2])]
    # Each string is stored as a 4-byte length and its bytes: their size is in the data only.
    model_json = write_model(tmp_path, [(weights, [8 + 20])])
    group = read_manifest(model_json).groups[0]
    assert group.has_strings
    assert (group.expected_bytes, group.actual_bytes) == (8, 28)
    assert read_manifest(model_json).decoded_bytes == 8
    # What the other weights need is still a lower bound.
    (tmp_path / "group1-shard1of1.bin").write_bytes(b"\0" * 7)
    with pytest.raises(ModelFileError, match="truncated: 7 bytes"):
        read_manifest(model_json)


def test_several_groups(tmp_path) -> None:
    model_json = write_model(tmp_path, [
        ([weight("a", "float32", [4])], [16]),
        ([weight("b", "int32", [3])], [8, 4]),
    ])
    manifest = read_manifest(model_json)
    assert [path.name for path in manifest.files] == [
        "model.json", "group1-shard1of1.bin", "group2-shard1of2.bin", "group2-shard2of2.bin",
    ]
    assert [group.expected_bytes for group in manifest.groups] == [16, 12]
    assert manifest.weight_bytes == 28
    with (tmp_path / "group2-shard2of2.bin").open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ModelFileError) as info:
        read_manifest(model_json)
    assert info.value.path == model_json
    assert info.value.problem.startswith("weightsManifest[1]: the shards hold 13 bytes but the weights listed need 12")


#: Ten float32 weights (40 bytes), cut as the converter cuts them: 16 + 16 + 8.
FORTY_BYTES = [weight("w", "float32", [10])]


@pytest.mark.parametrize(
    ("sizes", "blamed", "problem"),
    [
        ([16, 10, 8], "group1-shard2of3.bin", "truncated: 10 bytes where the other shards of weightsManifest[0] hold 16"),
        ([12, 16, 8], "group1-shard1of3.bin", "truncated: 12 bytes where the other shards of weightsManifest[0] hold 16"),
        (
            [16, 16, 5],
            "group1-shard3of3.bin",
            "truncated: 5 bytes, but model.json needs 8 bytes here (40 bytes of weights in weightsManifest[0], 3 shard(s))",
        ),
        # With two shards, the full one is the last: the first is the truncated one.
        ([10, 20], "group1-shard1of2.bin", "truncated: 10 bytes where the other shards of weightsManifest[0] hold 20"),
        (
            [39],
            "group1-shard1of1.bin",
            "truncated: 39 bytes, but model.json needs 40 bytes here (40 bytes of weights in weightsManifest[0], 1 shard(s))",
        ),
        (
            [16, 16, 9],
            "model.json",
            "weightsManifest[0]: the shards hold 41 bytes but the weights listed need 40: "
            "the shards belong to another conversion of the model",
        ),
    ],
    ids=["middle", "first", "last", "first-of-two", "only", "extra-bytes"],
)
def test_which_file_is_blamed(tmp_path, sizes, blamed, problem) -> None:
    model_json = write_model(tmp_path, [(FORTY_BYTES, sizes)])
    with pytest.raises(ModelFileError) as info:
        read_manifest(model_json)
    assert info.value.path == tmp_path / blamed
    assert info.value.problem == problem


def test_missing_shard_is_blamed(tmp_path) -> None:
    model_json = write_model(tmp_path, [(FORTY_BYTES, [16, 16, 8])])
    (tmp_path / "group1-shard2of3.bin").unlink()
    with pytest.raises(ModelFileError) as info:
        read_manifest(model_json)
    assert info.value.path == tmp_path / "group1-shard2of3.bin"
    assert info.value.problem == "missing: named in weightsManifest[0].paths of model.json"


def _set(path: list[Any], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()
WEIGHT = ["weightsManifest", 0, "weights", 0]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_set(["modelTopology"], _DELETE), "no modelTopology: not a TF.js model.json"),
        (_set(["weightsManifest"], {"paths": []}), "weightsManifest is not a list"),
        (_set(["weightsManifest", 0, "paths"], _DELETE), "weightsManifest[0] needs a 'paths' list and a 'weights' list"),
        (_set(["weightsManifest", 0, "paths"], []), "weightsManifest[0] lists weights but no shard in its 'paths'"),
        (_set([*WEIGHT, "shape"], _DELETE), "weightsManifest[0]: a weight entry without a 'shape' list: *"),
        (_set([*WEIGHT, "shape"], [-1, 10]), "weightsManifest[0]: weight 'w' has an invalid shape [-1, 10]"),
        (_set([*WEIGHT, "dtype"], "float64"), "weightsManifest[0]: weight 'w' has unknown dtype 'float64'"),
        (
            _set([*WEIGHT, "quantization"], {"dtype": "int4"}),
            "weightsManifest[0]: weight 'w' has unknown quantization dtype 'int4'",
        ),
        (
            _set([*WEIGHT, "quantization"], "uint8"),
            "weightsManifest[0]: weight 'w' has unknown quantization dtype None",
        ),
        (_set(["format"], "saved-model"), "unknown format 'saved-model'; expected one of layers-model, graph-model"),
    ],
    ids=[
        "no-topology", "manifest-not-a-list", "group-without-paths", "group-with-no-shard", "weight-without-shape",
        "negative-dimension", "unknown-dtype", "unknown-quantization", "quantization-not-an-object", "unknown-format",
    ],
)
def test_manifest_problems_name_model_json(tmp_path, change, problem) -> None:
    model_json = write_model(tmp_path, [(FORTY_BYTES, [16, 16, 8])])
    document = json.loads(model_json.read_text())
    change(document)
    model_json.write_text(json.dumps(document))
    with pytest.raises(ModelFileError) as info:
        read_manifest(model_json)
    assert info.value.path == model_json
    if problem.endswith("*"):
        assert info.value.problem.startswith(problem[:-1])
    else:
        assert info.value.problem == problem


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"format": "graph-model"}, "graph-model"),
        ({"format": "layers-model", "modelTopology": {"class_name": "Sequential"}}, "layers-model"),
        # Converters before 1.0 wrote no format: a topology of nodes is a graph.
        ({"format": None, "modelTopology": {"node": []}}, "graph-model"),
        ({"format": None, "modelTopology": {"class_name": "Sequential"}}, "layers-model"),
    ],
)
def test_declared_format(tmp_path, fields, expected) -> None:
    model_json = tmp_path / "model.json"
    document = {"modelTopology": GRAPH_TOPOLOGY, **fields}
    model_json.write_text(json.dumps({key: value for key, value in document.items() if value is not None}))
    assert declared_format(model_json) == expected
    assert read_manifest(model_json).format == expected
