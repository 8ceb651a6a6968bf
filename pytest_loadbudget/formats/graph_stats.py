"""How much graph an artifact holds: functions, nodes or layers a load rebuilds beyond the bytes."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GraphStats:
    """How much graph an artifact holds: what a load rebuilds beyond the bytes.

    ``functions`` and ``nodes`` for graphs (SavedModel, TF.js graph models;
    nodes count the main graph and every function body), ``layers`` for
    Keras models (nested models' layers included). ``source``: the file counted.
    """

    source: str
    functions: int | None = None
    nodes: int | None = None
    layers: int | None = None

    def describe(self) -> str:
        parts = []
        if self.layers is not None:
            parts.append(f"{self.layers:,} layers")
        if self.functions is not None:
            parts.append(f"{self.functions:,} functions")
        if self.nodes is not None:
            parts.append(f"{self.nodes:,} graph nodes")
        return f"{', '.join(parts)} (in {self.source})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def graph_stats(path: Path, format_name: str) -> GraphStats | None:
    """Count the functions and nodes, or the layers, of an artifact; None for other formats.

    A SavedModel is parsed with TensorFlow's protobuf classes, which imports
    TensorFlow: cheap in a process that loaded the model, seconds elsewhere.
    """
    if format_name == "savedmodel":
        return _savedmodel_stats(path)
    if format_name == "keras":
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        return GraphStats(source="config.json", layers=count_layers(config))
    if format_name == "h5":
        import h5py

        with h5py.File(path, "r") as archive:
            raw = archive.attrs.get("model_config")
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return GraphStats(source="model_config", layers=count_layers(json.loads(text)))
    if format_name in ("tfjs-layers", "tfjs-graph"):
        model_json = path / "model.json" if path.is_dir() else path
        topology = json.loads(model_json.read_bytes()).get("modelTopology", {})
        if format_name == "tfjs-layers":
            return GraphStats(source="model.json", layers=count_layers(topology.get("model_config", {})))
        functions = (topology.get("library") or {}).get("function", [])
        nodes = len(topology.get("node", [])) + sum(len(function.get("nodeDef", [])) for function in functions)
        return GraphStats(source="model.json", functions=len(functions), nodes=nodes)
    return None


def _savedmodel_stats(path: Path) -> GraphStats | None:
    proto = path / "saved_model.pb"
    if not proto.is_file():
        return None  # a saved_model.pbtxt: rare, and not worth a text parser
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString(proto.read_bytes())
    functions = nodes = 0
    for meta_graph in saved.meta_graphs:
        library = meta_graph.graph_def.library.function
        functions += len(library)
        nodes += len(meta_graph.graph_def.node) + sum(len(function.node_def) for function in library)
    return GraphStats(source="saved_model.pb", functions=functions, nodes=nodes)


def count_layers(config: Any) -> int:
    """Layers in a Keras model config, counting the layers of nested models too."""
    if not isinstance(config, dict):
        return 0
    inner = config.get("config")
    # Keras 2 wrote a Sequential's config as the bare list of its layers.
    layers = inner if isinstance(inner, list) else inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        return 0
    return sum(1 + count_layers(layer) for layer in layers)
