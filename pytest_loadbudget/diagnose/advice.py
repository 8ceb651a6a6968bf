"""What usually fixes each finding: the one catalogue the diagnosis and the budget misses read.

A diagnosis item (``Advice``) of a kind takes its fix from here; a budget
miss points at the fix of the finding that usually causes it (``miss_fix``),
and a cold start at the fix of the phase that dominated it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.units import format_ms

@dataclass(frozen=True)
class Advice:
    """One finding: a short title, this model's numbers, the fix.

    ``kind``: startup, import, read, load, first-load, warm-up, graph, quantize, leak, predictions or fleet.
    """

    kind: str
    title: str
    numbers: str
    fix: str

    def lines(self) -> list[str]:
        return [self.title, f"  {self.numbers}", f"  fix: {self.fix}"]

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


#: The fix of each kind of finding, by ``Advice.kind`` (and the figures only a budget limits).
FIXES = {
    "startup": (
        "Start fewer interpreters: reuse worker processes (a pool, a long-lived server, a warm serverless "
        "instance); find slow start-up imports (sitecustomize, .pth files) with `python -X importtime -c pass`."
    ),
    "read": (
        "Storage is the limit: ship fewer bytes (quantize: TF.js uint8/float16, TFLite dynamic-range, 2-4x "
        "smaller), keep the artifact on local disk rather than network storage, or read it into the page "
        "cache before the worker starts."
    ),
    "load": (
        "The bytes are the cost: only a smaller artifact loads faster (quantize: TFLite dynamic-range or TF.js "
        "uint8 are about 4x smaller; prune), and formats read in place (TFLite maps its flatbuffer) skip the copy."
    ),
    "first-load": (
        "Pay it before traffic: load the model when the process starts, not on its first request, and keep "
        "processes warm so that it is paid once per worker."
    ),
    "warm-up": (
        "Run one dummy inference right after loading, before the process takes traffic (call the model on "
        "zeros of its input shape, or a dummy predict; TF Serving: ship assets.extra/tf_serving_warmup_requests "
        "in the SavedModel), so that no user request pays the set-up."
    ),
    "graph": (
        "The load does work beyond reading its bytes (building the graph, preparing every operation): "
        "simplify the model or export a serving-only artifact, and keep the process warm so the load runs once."
    ),
    "quantize": (
        "Convert with tensorflowjs_converter --quantize_uint8 '*' (or --quantize_float16 '*' where uint8 costs "
        "accuracy) and check accuracy on a validation set: the browser downloads and decodes fewer bytes."
    ),
    "leak": (
        "Load once and reuse the model. Where reloading is needed, release the old model first: "
        "keras.backend.clear_session() (tf_keras too) and gc.collect() between loads; dispose tensors "
        "(tf.dispose, tf.tidy) in TF.js; keep one TFLite interpreter."
    ),
    "size": (
        "Quantize the weights (TF.js converter --quantize_uint8 cuts float32 weights about 4x, --quantize_float16 "
        "2x; TFLite post-training quantization) or drop unused layers."
    ),
    "peak": (
        "The load holds serialized and decoded weights at once: load quantized (float16/uint8) weights, "
        "or split the model."
    ),
    "gpu": (
        "Device memory holds the weights plus the allocator's workspace: load float16 weights, "
        "enable memory growth, or share one loaded model between workers."
    ),
    "tensors": (
        "Dispose what predict returns (tf.tidy, tensor.dispose()) and call model.dispose() when a model is replaced."
    ),
    "tfjs-predictions": (
        "Dispose each result once read (await output.data(); output.dispose(), or tf.dispose(outputs)) and run "
        "predict with its pre- and post-processing inside tf.tidy(() => ...), which frees every intermediate "
        "tensor (synchronous code only: tf.tidy cannot span an await); tf.memory().numTensors must stay flat "
        "from one prediction to the next."
    ),
    "python-predictions": (
        "Keep no outputs between calls (no list of results, no history held by the model or a global); call the "
        "model directly in inference mode (model(x, training=False) or predict_on_batch, not model.predict() in a "
        "loop, which builds a data pipeline per call); and stop a tf.function retracing on every call (a fixed "
        "input_signature, inputs of one shape and dtype, tensors rather than Python numbers as arguments)."
    ),
    "fleet-cpu": (
        "The cores are the limit: the processes import and load on fewer cores than there are processes. "
        "Import and load once and fork the workers from that process (gunicorn --preload, a pre-fork server: "
        "the pages are shared copy-on-write), start fewer at once (a rolling restart, a smaller surge), "
        "or give each process a core of its own."
    ),
    "fleet-storage": (
        "Storage is the limit: every process reads the same artifact at once. Read it into the page cache once "
        "before the workers start, keep it on local disk rather than network storage, ship fewer bytes "
        "(quantize), or load it once in a process that forks the workers, which then share its pages."
    ),
    "main-thread": (
        "Move the model off the page's main thread: load and warm it up in a dedicated Web Worker "
        "(worker=True measures it there; TF.js runs cpu and wasm in a worker, webgl with OffscreenCanvas) "
        "and post the results back; the wasm backend also blocks for less than cpu on large models."
    ),
}
#: The figures of the per-prediction growth: their fix depends on where the model ran.
PREDICTION_FIGURES = ("predict_leak_tensors", "predict_leak_mb")
TFJS_FORMATS = ("tfjs-graph", "tfjs-layers")

#: Where rebuilding the graph has a format-specific cure.
GRAPH_FIXES = {
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
GRAPH_FIXES["h5"] = GRAPH_FIXES["tfjs-layers"] = GRAPH_FIXES["keras"]

#: The finding that a cold start's dominant phase points at.
PHASE_FINDINGS = {"startup": "startup", "import": "import", "read": "read", "load": "graph", "first_call": "warm-up"}


def graph_fix(fmt: str) -> str:
    return GRAPH_FIXES.get(fmt, FIXES["graph"])


def import_fix(
    framework: str, gc_statement: str | None = None, interpreter_alone: bool = False,
    litert_import_ms: float | None = None,
) -> str:
    """Keep the framework's import off the request path.

    ``gc_statement``: the import to wrap in a garbage collector pause, where
    collection took much of it; ``interpreter_alone``: a .tflite model run by
    TensorFlow, which needs only the TFLite interpreter; ``litert_import_ms``:
    LiteRT's import measured in a fresh Python here, where it is installed.
    """
    fix = (
        f"Keep the process warm: import and load once per worker and serve many requests (a long-lived "
        f"worker; gunicorn --preload imports before forking its workers), and import {framework} lazily so "
        "that code paths which never predict (CLI commands, health checks) skip it."
    )
    if gc_statement is not None:
        fix += (
            f" Pause the garbage collector for the import (gc.disable(); {gc_statement}; gc.enable()), "
            "then gc.freeze() so that later collections skip the framework's objects."
        )
    if interpreter_alone and litert_import_ms is not None:
        fix += (
            f" A .tflite model needs only the interpreter: LiteRT (ai-edge-litert, installed here) imported in "
            f"{format_ms(litert_import_ms)} in a fresh Python on this machine; load with "
            "from ai_edge_litert.interpreter import Interpreter (in the test: interpreter='litert')."
        )
    elif interpreter_alone:
        fix += (
            " A .tflite model needs only the interpreter: ai-edge-litert "
            "(from ai_edge_litert.interpreter import Interpreter) imports without the rest of TensorFlow "
            "(pip install 'pytest-loadbudget[litert]')."
        )
    return fix


def fix_for(finding: str, fmt: str) -> str:
    """The usual fix of ``finding`` (a key of FIXES, "graph" or "import") for a model of format ``fmt``."""
    if finding == "import":
        return import_fix("the framework", interpreter_alone=fmt == "tflite")
    if finding == "graph":
        return graph_fix(fmt)
    return FIXES[finding]


def prediction_fix(in_tfjs: bool) -> str:
    """What stops a model growing with every prediction, in TF.js or in Python."""
    return FIXES["tfjs-predictions" if in_tfjs else "python-predictions"]


def miss_fix(figure: str, fmt: str, dominant_phase: str | None = None) -> str:
    """What usually fixes a miss of ``figure``: the fix of the finding the registry names for it
    (``Figure.finding``); a cold start's follows its ``dominant_phase``."""
    if figure in PREDICTION_FIGURES:
        return prediction_fix(fmt in TFJS_FORMATS)
    finding = PHASE_FINDINGS[dominant_phase] if figure == "cold_ms" and dominant_phase else FIGURES[figure].finding
    return fix_for(finding, fmt) if finding else ""
