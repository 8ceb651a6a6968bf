"""What usually fixes each finding: the one catalogue the diagnosis and the budget misses read.

A diagnosis item (``rules.Advice``) of a kind takes its fix from here; a budget
miss points at the fix of the finding that usually causes it (``miss_fix``),
and a cold start at the fix of the phase that dominated it.
"""

from __future__ import annotations

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
}

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

#: The finding a miss of each figure usually comes from (cold_ms: see PHASE_FINDINGS).
MISS_FINDINGS = {
    "mb": "size", "ms": "graph", "warm_ms": "warm-up", "peak_mb": "peak", "leak_mb": "leak",
    "gpu_mb": "gpu", "leak_tensors": "tensors", "import_ms": "import",
}
#: The finding that a cold start's dominant phase points at.
PHASE_FINDINGS = {"startup": "startup", "import": "import", "read": "read", "load": "graph", "first_call": "warm-up"}


def graph_fix(fmt: str) -> str:
    return GRAPH_FIXES.get(fmt, FIXES["graph"])


def import_fix(framework: str, gc_statement: str | None = None, interpreter_alone: bool = False) -> str:
    """Keep the framework's import off the request path.

    ``gc_statement``: the import to wrap in a garbage collector pause, where
    collection took much of it; ``interpreter_alone``: a .tflite model, which
    needs only the TFLite interpreter.
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
    if interpreter_alone:
        fix += (
            " A .tflite model needs only the interpreter: ai-edge-litert "
            "(from ai_edge_litert.interpreter import Interpreter) imports without the rest of TensorFlow."
        )
    return fix


def fix_for(finding: str, fmt: str) -> str:
    """The usual fix of ``finding`` (a key of FIXES, "graph" or "import") for a model of format ``fmt``."""
    if finding == "import":
        return import_fix("the framework", interpreter_alone=fmt == "tflite")
    if finding == "graph":
        return graph_fix(fmt)
    return FIXES[finding]


def miss_fix(figure: str, fmt: str, dominant_phase: str | None = None) -> str:
    """What usually fixes a miss of ``figure``; a cold start's follows its ``dominant_phase``."""
    finding = PHASE_FINDINGS[dominant_phase] if figure == "cold_ms" and dominant_phase else MISS_FINDINGS.get(figure)
    return fix_for(finding, fmt) if finding is not None else ""
