"""Save one Keras model in every format the plugin loads, to budget them side by side.

``export_formats(model, directory)`` writes ``.keras``, ``.h5``, a SavedModel,
``.tflite`` (float32 and dynamic-range quantized) and TF.js graph models
(float32, float16 and uint8-quantized weights). TF.js *layers* models need a
``tf_keras`` model: ``export_tfjs_layers``. Requires the ``[tfjs]`` extra for
the TF.js formats.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

#: Everything ``export_formats`` can write, by name: the file or directory it creates.
TARGETS = {
    "keras": "{stem}.keras",
    "h5": "{stem}.h5",
    "savedmodel": "{stem}_savedmodel",
    "tflite": "{stem}.tflite",
    "tflite-quantized": "{stem}_quantized.tflite",
    "tfjs-graph": "{stem}_tfjs/model.json",
    "tfjs-graph-float16": "{stem}_tfjs_float16/model.json",
    "tfjs-graph-uint8": "{stem}_tfjs_uint8/model.json",
}
QUANTIZATION = {"tfjs-graph-float16": "float16", "tfjs-graph-uint8": "uint8"}


def export_formats(
    model: Any, directory: str | os.PathLike[str], *, stem: str | None = None, formats: tuple[str, ...] | None = None
) -> dict[str, Path]:
    """Write ``model`` (a Keras 3 model) in each of ``formats`` (all by default).

    Returns the path to hand to ``load_model`` for each format written.
    """
    unknown = set(formats or ()) - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown export formats {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    wanted = formats or tuple(TARGETS)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or model.name
    paths = {name: out / TARGETS[name].format(stem=stem) for name in wanted}
    needs_savedmodel = any(name in ("savedmodel", "tflite", "tflite-quantized") or name.startswith("tfjs") for name in wanted)
    savedmodel = out / TARGETS["savedmodel"].format(stem=stem)
    if "keras" in wanted:
        model.save(paths["keras"])
    if "h5" in wanted:
        with _quiet():
            model.save(paths["h5"])
    if needs_savedmodel:
        with _quiet():
            model.export(savedmodel, verbose=False)
    for name in ("tflite", "tflite-quantized"):
        if name in wanted:
            paths[name].write_bytes(_tflite_bytes(savedmodel, quantize=name == "tflite-quantized"))
    for name in wanted:
        if name.startswith("tfjs-graph"):
            _tfjs_graph(savedmodel, paths[name].parent, QUANTIZATION.get(name))
    if "savedmodel" not in wanted and needs_savedmodel:
        _remove_tree(savedmodel)
    return paths


def export_tfjs_layers(tf_keras_model: Any, directory: str | os.PathLike[str]) -> Path:
    """Write a TF.js layers model from a ``tf_keras`` model; returns its model.json.

    A Keras 3 model converts too, but tensorflowjs cannot load the result back
    (its InputLayer config uses ``batch_shape``); build the model with tf_keras.
    """
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    from tensorflowjs.converters import save_keras_model

    out = Path(directory)
    with _quiet(), warnings.catch_warnings():
        # tf_keras warns that the HDF5 it writes on the way is a legacy format.
        warnings.simplefilter("ignore", UserWarning)
        save_keras_model(tf_keras_model, str(out))
    return out / "model.json"


def _tflite_bytes(savedmodel: Path, quantize: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with _quiet():
        return bytes(converter.convert())


def _tfjs_graph(savedmodel: Path, out: Path, quantization: str | None) -> None:
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    from tensorflowjs.converters import convert_tf_saved_model

    dtype_map = {quantization: "*"} if quantization else None
    with _quiet():
        convert_tf_saved_model(str(savedmodel), str(out), quantization_dtype_map=dtype_map)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _quiet() -> Any:
    # The converters print progress and warnings for every call.
    with contextlib.redirect_stdout(io.StringIO()):
        yield
