"""Why a model loads slowly, with this model's numbers: the rules.

``diagnose(figures)`` reads what was measured (the cold phases, warm load and
warm-up samples, size, leak, a TF.js manifest, the artifact's graph) and
returns advice items: the phase that dominates the cold start first, then
whatever else stands out. Every threshold is a constant with the reason for
its value, here or with its rule (memory that grows: ``diagnose.growth``; a
fleet: ``diagnose.fleet``); the fixes come from the one catalogue, ``diagnose.advice``.
"""

from __future__ import annotations

import math

from pytest_loadbudget.diagnose.advice import FIXES, Advice, graph_fix, import_fix
from pytest_loadbudget.diagnose.figures import Figures
from pytest_loadbudget.diagnose.fleet import fleet_advice
from pytest_loadbudget.diagnose.growth import leak_advice, prediction_advice
from pytest_loadbudget.formats import format_named
from pytest_loadbudget.formats.tflite_interpreters import LITERT, TENSORFLOW
from pytest_loadbudget.fresh.import_time import interpreter_import_ms
from pytest_loadbudget.measure.floor import Bandwidth, read_bandwidth
from pytest_loadbudget.results.phases import PHASE_LABELS
from pytest_loadbudget.units import MIB, format_mib, format_ms

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


def diagnose(figures: Figures) -> list[Advice]:
    """Advice items, the dominant cold phase first; empty when nothing stands out."""
    found: list[Advice] = []
    dominant = _dominant_phase_advice(figures)
    if dominant is not None:
        found.append(dominant)
    for rule in (_warm_up_advice, _first_load_advice, _graph_advice, _quantize_advice, leak_advice,
                 prediction_advice, fleet_advice):
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
        FIXES["startup"],
    )


#: Formats whose import phase is one ``import <package>`` statement.
_IMPORTS_A_PACKAGE = ("keras", "h5", "savedmodel", "tflite", "tfjs-layers")


def _import_advice(figures: Figures, title: str, share: str) -> Advice:
    fmt = format_named(figures.format)
    through_tensorflow = False
    if figures.format == "tflite":
        # A .tflite model of a run that recorded no interpreter was run by TensorFlow's.
        interpreter = figures.interpreter or TENSORFLOW.name
        fmt, through_tensorflow = fmt.with_interpreter(interpreter), interpreter == TENSORFLOW.name
    framework = fmt.framework
    gc_statement = None
    cold = figures.cold
    if cold is not None and cold.gc("import") and cold.phase("import"):
        collecting, importing = cold.gc("import").median, cold.phase("import").median
        if collecting >= IMPORT_GC_SHARE * importing:
            share += f", {format_ms(collecting)} of the import is garbage collection ({_pct(collecting, importing)})"
            gc_statement = f"import {framework}" if figures.format in _IMPORTS_A_PACKAGE else "the imports"
    litert_ms = interpreter_import_ms(LITERT) if through_tensorflow else None
    fix = import_fix(framework, gc_statement, interpreter_alone=through_tensorflow, litert_import_ms=litert_ms)
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
        FIXES["warm-up"],
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
        FIXES["first-load"],
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
    title = f"Load is {ratio:,.0f}x its read floor: graph complexity, not bytes"
    return Advice("graph", title, numbers, graph_fix(figures.format))


def _size_bound_advice(figures: Figures, title: str, share: str) -> Advice:
    numbers = share
    if _load_ms(figures) is not None and figures.size_bytes:
        numbers += "; " + _floor_numbers(figures)[3]
    return Advice("load", title, numbers, FIXES["load"])


def _read_advice(figures: Figures, title: str, share: str) -> Advice:
    cold = figures.cold
    numbers = share
    if cold is not None and figures.size_bytes:
        read = cold.phase("read").median
        rate = figures.size_bytes / MIB / (read / 1e3) if read > 0 else math.inf
        where = "from disk (evicted from the page cache)" if cold.evict else "from the page cache"
        numbers += f"; {format_mib(figures.size_bytes)} at {rate:,.0f} MiB/s {where}"
    return Advice("read", title, numbers, FIXES["read"])


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
        FIXES["quantize"],
    )
