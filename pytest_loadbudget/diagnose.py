"""Why a model loads slowly, and the fix that usually works, with this model's numbers.

``diagnose(figures)`` reads what was measured (the cold phases, warm load and
warm-up samples, size, leak, a TF.js manifest, the artifact's graph) and
returns advice items: the phase that dominates the cold start first, then
whatever else stands out. Every threshold is a constant below with the reason
for its value.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .floor import Bandwidth, read_bandwidth
from .stats import Samples
from .units import MIB, format_mib, format_ms

if TYPE_CHECKING:
    from .cold import ColdProfile
    from .record import ModelRecord

#: A first call this many times the steady call is set-up work (tracing,
#: kernel selection, memory planning), not inference: caches alone make a
#: first call at most a few times slower.
FIRST_CALL_RATIO = 5.0
#: ... and only worth a warm-up step when it costs a request this much more.
FIRST_CALL_MIN_EXCESS_MS = 50.0
#: The collector runs over every object a framework import creates, again and
#: again; above this share of the import, pausing it is worth a line of code
#: (TensorFlow 2.19 here: about 30%).
IMPORT_GC_SHARE = 0.15
#: A load in a fresh process this many times the same load repeated in a warm
#: one pays one-time set-up (runtime and device initialization, lazy imports)...
FIRST_LOAD_RATIO = 2.0
#: ... worth moving off the request path when it is this long.
FIRST_LOAD_MIN_EXCESS_MS = 100.0
#: Decoding weights and copying them into tensors costs a few passes over the
#: bytes; a load this many times its read floor spends its time elsewhere,
#: rebuilding layers and functions.
GRAPH_FLOOR_RATIO = 10.0
#: ... when that time is worth acting on.
GRAPH_MIN_EXCESS_MS = 50.0
#: Above this size, allocating and filling large tensors dominates a load and
#: the floor ratio says little about the graph.
SMALL_MODEL_BYTES = 200 * MIB
#: Below this much float32 weight data, quantization saves less than a slow
#: mobile link (~1 MB/s) transfers in a quarter of a second.
QUANTIZE_MIN_FLOAT32_BYTES = 256 * 1024
#: Between load/release cycles RSS moves by allocator noise of a few hundred
#: KiB even without a leak; growth above this per cycle is the model's.
LEAK_MIN_BYTES_PER_CYCLE = 1 * MIB

#: Stored bytes per float32 byte for each TF.js quantization dtype.
QUANTIZED_FRACTION = {"uint8": 0.25, "float16": 0.5}
#: Bytes model.json gains per quantized weight: the ``quantization`` entry
#: (dtype, min, scale, original_dtype) tensorflowjs 4.x writes beside it.
QUANTIZATION_ENTRY_BYTES = {"uint8": 64, "float16": 34}


@dataclass(frozen=True)
class Advice:
    """One finding: a short title, this model's numbers, the fix.

    ``kind``: startup, import, read, load, first-load, warm-up, graph, quantize or leak.
    """

    kind: str
    title: str
    numbers: str
    fix: str

    def lines(self) -> list[str]:
        return [self.title, f"  {self.numbers}", f"  fix: {self.fix}"]

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


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


@dataclass(frozen=True)
class QuantizationEstimate:
    """A TF.js model's size now and quantized, in bytes (model.json plus shards).

    The estimate keeps every byte that is not float32 weights as it is,
    stores float32 weights at 1/4 (uint8) or 1/2 (float16), and adds the
    quantization entry model.json gains per weight.
    """

    current_bytes: int
    float32_bytes: int
    float32_weights: int
    estimated_bytes: dict[str, int]


def estimate_quantization(model_json: Path) -> QuantizationEstimate:
    """Sizes of ``model_json``'s model quantized to uint8 and float16; raises ModelFileError."""
    from .formats.tfjs_manifest import read_manifest

    manifest = read_manifest(model_json)
    current = sum(path.stat().st_size for path in manifest.files)
    document = json.loads(model_json.read_bytes())
    weights = sum(
        1
        for group in document.get("weightsManifest", [])
        for weight in group.get("weights", [])
        if weight.get("dtype") == "float32" and not weight.get("quantization")
    )
    estimated = {
        dtype: round(current - manifest.float32_bytes * (1 - fraction) + weights * QUANTIZATION_ENTRY_BYTES[dtype])
        for dtype, fraction in QUANTIZED_FRACTION.items()
    }
    return QuantizationEstimate(current, manifest.float32_bytes, weights, estimated)


@dataclass
class Figures:
    """What ``diagnose`` reads; every figure optional.

    ``load_ms``: warm loads (framework imported), ``warm_ms``: the first call
    on a freshly loaded model in a warm process, ``steady_ms``: later calls,
    all in ms. ``leak_per_cycle_bytes``: RSS growth per load/release cycle.
    """

    name: str
    format: str
    size_bytes: int | None = None
    cold: ColdProfile | None = None
    load_ms: Samples = field(default_factory=Samples)
    warm_ms: Samples = field(default_factory=Samples)
    steady_ms: Samples = field(default_factory=Samples)
    leak_per_cycle_bytes: float | None = None
    cycles: int = 0
    quantization: QuantizationEstimate | None = None
    graph: GraphStats | None = None
    #: None: measured on first need (``floor.read_bandwidth``, cached).
    bandwidth: Bandwidth | None = None


def figures_for(
    record: ModelRecord | None = None,
    cold: ColdProfile | None = None,
    bandwidth: Bandwidth | None = None,
) -> Figures:
    """Figures from a session's record and/or a cold profile of the same model.

    Reads the TF.js manifest for the quantization estimate, and counts the
    graph where the cold profile did not (a SavedModel only where TensorFlow
    is imported already).
    """
    if record is None and cold is None:
        raise ValueError("figures_for needs a record, a cold profile or both")
    name = record.name if record is not None else cold.name  # type: ignore[union-attr]
    fmt = record.format if record is not None else cold.format  # type: ignore[union-attr]
    figures = Figures(name=name, format=fmt, cold=cold, bandwidth=bandwidth)
    figures.size_bytes = record.size_bytes if record is not None else cold.size_bytes  # type: ignore[union-attr]
    if record is not None:
        figures.load_ms, figures.warm_ms = record.load_ms, record.warm_ms
        if record.memory is not None:
            figures.leak_per_cycle_bytes = record.memory.leak_per_cycle
            figures.cycles = record.memory.cycles
    figures.graph = cold.graph if cold is not None else None
    path = Path(record.path) if record is not None and record.path else None
    if path is not None:
        figures.quantization, graph = _artifact_facts(path, fmt, want_graph=figures.graph is None)
        figures.graph = figures.graph or graph
    return figures


def _artifact_facts(path: Path, fmt: str, want_graph: bool) -> tuple[QuantizationEstimate | None, GraphStats | None]:
    from .errors import LoadBudgetError

    quantization = graph = None
    try:
        if fmt in ("tfjs-graph", "tfjs-layers"):
            quantization = estimate_quantization(path / "model.json" if path.is_dir() else path)
        if want_graph and (fmt != "savedmodel" or "tensorflow" in sys.modules):
            graph = graph_stats(path, fmt)
    except (LoadBudgetError, OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # advice is a hint: a fact that cannot be read leaves its item out
    return quantization, graph


def diagnose(figures: Figures) -> list[Advice]:
    """Advice items, the dominant cold phase first; empty when nothing stands out."""
    found: list[Advice] = []
    dominant = _dominant_phase_advice(figures)
    if dominant is not None:
        found.append(dominant)
    for rule in (_warm_up_advice, _first_load_advice, _graph_advice, _quantize_advice, _leak_advice):
        item = rule(figures)
        if item is not None and all(item.kind != kept.kind for kept in found):
            found.append(item)
    return found


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


def _dominant_phase_advice(figures: Figures) -> Advice | None:
    cold = figures.cold
    if cold is None or not cold.runs:
        return None
    # Imported here: cold.py imports this module for GraphStats.
    from .cold import PHASE_LABELS

    phase = cold.dominant_phase
    spent = cold.phase(phase).median
    total = cold.total.median
    share = f"{PHASE_LABELS[phase]} {format_ms(spent)} of a {format_ms(total)} cold start ({_pct(spent, total)})"
    title = f"{PHASE_LABELS[phase].capitalize()} dominates the cold start"
    if phase == "import":
        return _import_advice(figures, title, share)
    if phase == "first_call":
        item = _warm_up_advice(figures, force=True)
        if item is not None:  # always, forced: there is a first call and it dominates
            return Advice(item.kind, title, f"{share}; {item.numbers}", item.fix)
    if phase == "load":
        # The larger of two explanations: first-use set-up (cold load minus warm
        # load) or work beyond the bytes (warm load minus its floor).
        candidates = [(_first_load_excess(figures), _first_load_advice(figures))]
        candidates.append((_graph_excess(figures), _graph_advice(figures)))
        found = [(excess, item) for excess, item in candidates if item is not None]
        if found:
            item = max(found, key=lambda pair: pair[0])[1]
            return Advice(item.kind, title, f"{share}; {item.numbers}", item.fix)
        return _size_bound_advice(figures, title, share)
    if phase == "read":
        return _read_advice(figures, title, share)
    return Advice(
        "startup", title,
        f"{share}: spawning Python until its main() runs, the measuring harness's own imports included "
        "(compare with the start-up of `python -c pass`)",
        "Start fewer interpreters: reuse worker processes (a pool, a long-lived server, a warm serverless "
        "instance); find slow start-up imports (sitecustomize, .pth files) with `python -X importtime -c pass`.",
    )


#: Formats whose import phase is one ``import <package>`` statement.
_IMPORTS_A_PACKAGE = ("keras", "h5", "savedmodel", "tflite", "tfjs-layers")


def _import_advice(figures: Figures, title: str, share: str) -> Advice:
    from .cold import FRAMEWORKS

    framework = FRAMEWORKS.get(figures.format, "the framework")
    fix = (
        f"Keep the process warm: import and load once per worker and serve many requests (a long-lived "
        f"worker; gunicorn --preload imports before forking its workers), and import {framework} lazily so "
        "that code paths which never predict (CLI commands, health checks) skip it."
    )
    cold = figures.cold
    if cold is not None and cold.gc("import") and cold.phase("import"):
        collecting, importing = cold.gc("import").median, cold.phase("import").median
        if collecting >= IMPORT_GC_SHARE * importing:
            share += f", {format_ms(collecting)} of the import is garbage collection ({_pct(collecting, importing)})"
            statement = f"import {framework}" if figures.format in _IMPORTS_A_PACKAGE else "the imports"
            fix += (
                f" Pause the garbage collector for the import (gc.disable(); {statement}; gc.enable()), "
                "then gc.freeze() so that later collections skip the framework's objects."
            )
    if figures.format == "tflite":
        fix += (
            " A .tflite model needs only the interpreter: ai-edge-litert "
            "(from ai_edge_litert.interpreter import Interpreter) imports without the rest of TensorFlow."
        )
    return Advice("import", title, share, fix)


def _first_and_steady(figures: Figures) -> tuple[float, float] | None:
    cold = figures.cold
    if cold is not None and cold.phase("first_call") and cold.steady_call:
        return cold.phase("first_call").median, cold.steady_call.median
    if figures.warm_ms and figures.steady_ms:
        return figures.warm_ms.median, figures.steady_ms.median
    return None


def _warm_up_advice(figures: Figures, force: bool = False) -> Advice | None:
    pair = _first_and_steady(figures)
    if pair is None:
        if not force or figures.cold is None:
            return None
        first = figures.cold.phase("first_call").median
        numbers = f"first call {format_ms(first)}, paid by the first request"
    else:
        first, steady = pair
        excess = first - steady
        ratio = first / steady if steady > 0 else math.inf
        if not force and (ratio < FIRST_CALL_RATIO or excess < FIRST_CALL_MIN_EXCESS_MS):
            return None
        times = f"{ratio:,.0f}x" if ratio < 1000 else "over 1,000x"
        numbers = (
            f"first call {format_ms(first)}, then {format_ms(steady)} per call ({times} the steady call): "
            f"{format_ms(excess)} of one-time set-up (tracing, kernel and memory planning) the first request pays"
        )
    return Advice(
        "warm-up",
        "First call far slower than the next ones: warm up at load",
        numbers,
        "Run one dummy inference right after loading, before the process takes traffic (call the model on "
        "zeros of its input shape, or a dummy predict; TF Serving: ship assets.extra/tf_serving_warmup_requests "
        "in the SavedModel), so that no user request pays the set-up.",
    )


def _bandwidth(figures: Figures) -> Bandwidth:
    if figures.bandwidth is None:
        figures.bandwidth = read_bandwidth()
    return figures.bandwidth


def _warm_load_ms(figures: Figures) -> float | None:
    """The load with the framework warm: the session's loads, else the cold profile's reloads."""
    if figures.load_ms:
        return figures.load_ms.median
    if figures.cold is not None and figures.cold.reload:
        return figures.cold.reload.median
    return None


def _cold_load_ms(figures: Figures) -> float | None:
    if figures.cold is not None and figures.cold.phase("load"):
        return figures.cold.phase("load").median
    return None


def _load_ms(figures: Figures) -> float | None:
    warm = _warm_load_ms(figures)
    return warm if warm is not None else _cold_load_ms(figures)


def _first_load_excess(figures: Figures) -> float:
    cold, warm = _cold_load_ms(figures), _warm_load_ms(figures)
    return cold - warm if cold is not None and warm is not None else 0.0


def _first_load_advice(figures: Figures) -> Advice | None:
    cold, warm = _cold_load_ms(figures), _warm_load_ms(figures)
    if cold is None or warm is None:
        return None
    excess = cold - warm
    if cold < FIRST_LOAD_RATIO * warm or excess < FIRST_LOAD_MIN_EXCESS_MS:
        return None
    return Advice(
        "first-load",
        "The first load in a process pays the framework's set-up",
        f"load {format_ms(cold)} in a fresh process, {format_ms(warm)} loaded again in a warm one: "
        f"{format_ms(excess)} of one-time set-up (runtime and device initialization, lazy imports, first-use caches)",
        "Pay it before traffic: load the model when the process starts, not on its first request, and keep "
        "processes warm so that it is paid once per worker.",
    )


def _graph_excess(figures: Figures) -> float:
    load = _load_ms(figures)
    if load is None or not figures.size_bytes:
        return 0.0
    return load - _bandwidth(figures).floor_ms(figures.size_bytes)


def _floor_numbers(figures: Figures) -> tuple[float, float, float, str]:
    """The load (warm where known), its floor, their ratio, and a sentence with the three."""
    load = _load_ms(figures)
    assert load is not None and figures.size_bytes  # callers check
    bandwidth = _bandwidth(figures)
    floor = bandwidth.floor_ms(figures.size_bytes)
    label = "warm load" if _warm_load_ms(figures) is not None else "load"
    text = (
        f"{label} {format_ms(load)} is {load / floor:,.0f}x its floor ({format_ms(floor)} to read "
        f"{format_mib(figures.size_bytes)} at {bandwidth.describe()})"
    )
    return load, floor, load / floor, text


_GRAPH_FIXES = {
    "keras": (
        "Keras rebuilds every layer from its config and builds it before restoring weights: for serving, "
        "export once (model.export() to a SavedModel, or convert to TFLite) and load that, and keep the "
        "process warm so the load runs once."
    ),
    "savedmodel": (
        "Every function in the SavedModel is rebuilt at load: export the serving signature alone (model.export(), "
        "or tf.saved_model.save of a tf.Module holding just the serving tf.function) instead of a whole "
        "Keras model with its training and per-layer functions; or convert to TFLite, which builds no graphs."
    ),
}
_GRAPH_FIXES["h5"] = _GRAPH_FIXES["tfjs-layers"] = _GRAPH_FIXES["keras"]


def _graph_advice(figures: Figures) -> Advice | None:
    load = _load_ms(figures)
    size = figures.size_bytes
    if load is None or not size or size > SMALL_MODEL_BYTES:
        return None
    load, floor, ratio, numbers = _floor_numbers(figures)
    if ratio < GRAPH_FLOOR_RATIO or load - floor < GRAPH_MIN_EXCESS_MS:
        return None
    graph = figures.graph or (figures.cold.graph if figures.cold is not None else None)
    if graph is not None:
        numbers += f"; the artifact holds {graph.describe()}"
        units = graph.layers or graph.functions
        if units:
            what = "layer" if graph.layers else "function"
            numbers += f", {format_ms((load - floor) / units)} per {what}"
    fix = _GRAPH_FIXES.get(
        figures.format,
        "The load does work beyond reading its bytes (building the graph, preparing every operation): "
        "simplify the model or export a serving-only artifact, and keep the process warm so the load runs once.",
    )
    return Advice("graph", f"Load is {ratio:,.0f}x its read floor: graph complexity, not bytes", numbers, fix)


def _size_bound_advice(figures: Figures, title: str, share: str) -> Advice:
    numbers = share
    if _load_ms(figures) is not None and figures.size_bytes:
        numbers += "; " + _floor_numbers(figures)[3]
    return Advice(
        "load", title, numbers,
        "The bytes are the cost: only a smaller artifact loads faster (quantize: TFLite dynamic-range or TF.js "
        "uint8 are about 4x smaller; prune), and formats read in place (TFLite maps its flatbuffer) skip the copy.",
    )


def _read_advice(figures: Figures, title: str, share: str) -> Advice:
    cold = figures.cold
    numbers = share
    if cold is not None and figures.size_bytes:
        read = cold.phase("read").median
        rate = figures.size_bytes / MIB / (read / 1e3) if read > 0 else math.inf
        where = "from disk (evicted from the page cache)" if cold.evict else "from the page cache"
        numbers += f"; {format_mib(figures.size_bytes)} at {rate:,.0f} MiB/s {where}"
    return Advice(
        "read", title, numbers,
        "Storage is the limit: ship fewer bytes (quantize: TF.js uint8/float16, TFLite dynamic-range, 2-4x "
        "smaller), keep the artifact on local disk rather than network storage, or read it into the page "
        "cache before the worker starts.",
    )


def _quantize_advice(figures: Figures) -> Advice | None:
    estimate = figures.quantization
    if estimate is None or estimate.float32_bytes < QUANTIZE_MIN_FLOAT32_BYTES:
        return None
    uint8 = estimate.estimated_bytes["uint8"]
    float16 = estimate.estimated_bytes["float16"]
    return Advice(
        "quantize",
        f"float32 TF.js weights: uint8 quantization would cut {format_mib(estimate.current_bytes)} "
        f"to about {format_mib(uint8)}",
        f"{format_mib(estimate.float32_bytes)} of {format_mib(estimate.current_bytes)} (model.json + shards) are "
        f"float32 weights; uint8 about {format_mib(uint8)} ({estimate.current_bytes / uint8:.1f}x smaller), "
        f"float16 about {format_mib(float16)}",
        "Convert with tensorflowjs_converter --quantize_uint8 '*' (or --quantize_float16 '*' where uint8 costs "
        "accuracy) and check accuracy on a validation set: the browser downloads and decodes fewer bytes.",
    )


def _leak_advice(figures: Figures) -> Advice | None:
    per_cycle = figures.leak_per_cycle_bytes
    if per_cycle is None or per_cycle < LEAK_MIN_BYTES_PER_CYCLE:
        return None
    total = per_cycle * max(figures.cycles - 1, 1)
    return Advice(
        "leak",
        f"Memory grows by {format_mib(per_cycle)} with every reload: reuse the model",
        f"+{format_mib(per_cycle)} RSS per load/release cycle over {figures.cycles} cycles "
        f"({format_mib(total)} in all)",
        "Load once and reuse the model. Where reloading is needed, release the old model first: "
        "keras.backend.clear_session() (tf_keras too) and gc.collect() between loads; dispose tensors "
        "(tf.dispose, tf.tidy) in TF.js; keep one TFLite interpreter.",
    )
