"""Small TF.js models built on the spot for the runtime tests (nothing is downloaded).

Each builder writes under the directory it is given and returns the model.json.
TensorFlow is imported inside the builders only.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from pathlib import Path

#: A weight shard size that makes Chromium stall on more than 6 no-store shards:
#: TF.js 4.22 fetches every shard and reads no body before all headers are in,
#: so six unread no-store bodies hold the six HTTP/1.1 connections Chromium
#: allows per host. In Chromium 156, 7 shards of 1.95 MiB still load and 7 of
#: 2 MiB stall (presumably a smaller body fits the browser's network buffer
#: and frees its connection unread); 2.5 MiB keeps a margin.
STALLING_SHARD_BYTES = 5 * 2**19
INPUT_WIDTH = 8


def quiet_tf() -> None:
    """Keep TensorFlow and tensorflowjs quiet (and tensorflowjs importable without IPython)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")


def graph_models(directory: Path) -> dict[str, Path]:
    """A float32 and a uint8-quantized TF.js graph model of one small Keras 3 model.

    Biases start at non-zero values: zero biases are constant-folded away by
    the converter and the model would hold fewer weights than it declares.
    """
    quiet_tf()
    import keras

    from pytest_loadbudget.export import export_formats

    model = keras.Sequential(
        [
            keras.Input((INPUT_WIDTH,)),
            keras.layers.Dense(16, activation="relu", bias_initializer="ones"),
            keras.layers.Dense(4, bias_initializer="ones"),
        ],
        name="tiny",
    )
    paths = export_formats(model, directory, formats=("tfjs-graph", "tfjs-graph-uint8"))
    return {"float32": paths["tfjs-graph"], "uint8": paths["tfjs-graph-uint8"]}


def layers_model(directory: Path) -> Path:
    """A TF.js layers model (from tf_keras: Keras 3 layers models do not load back)."""
    quiet_tf()
    import tf_keras

    from pytest_loadbudget.export import export_tfjs_layers

    model = tf_keras.Sequential(
        [
            tf_keras.Input((INPUT_WIDTH,)),
            tf_keras.layers.Dense(16, activation="relu"),
            tf_keras.layers.Dense(4),
        ]
    )
    with warnings.catch_warnings():
        # tensorflowjs saves through HDF5, and tf_keras warns that it is legacy.
        warnings.filterwarnings("ignore", "You are saving your model as an HDF5 file", UserWarning)
        return export_tfjs_layers(model, directory)


def sharded_graph_model(directory: Path, *, shards: int = 7, shard_bytes: int = STALLING_SHARD_BYTES) -> Path:
    """A graph model whose weights fill ``shards`` shards of ``shard_bytes`` each.

    One bias-free Dense layer sized to the shards, converted with
    ``convert_tf_saved_model(weight_shard_size_bytes=shard_bytes)``.
    """
    quiet_tf()
    import keras
    from tensorflowjs.converters import convert_tf_saved_model

    from pytest_loadbudget.export import export_formats

    width = 1024
    units = math.ceil(shards * shard_bytes / 4 / width)
    model = keras.Sequential([keras.Input((width,)), keras.layers.Dense(units, use_bias=False)], name="sharded")
    savedmodel = export_formats(model, directory, formats=("savedmodel",))["savedmodel"]
    out = Path(directory) / f"sharded_{shards}x{shard_bytes}"
    with contextlib.redirect_stdout(io.StringIO()):
        convert_tf_saved_model(str(savedmodel), str(out), weight_shard_size_bytes=shard_bytes)
    return out / "model.json"


def weightless_graph_model(directory: Path) -> Path:
    """A model.json that passes validation without TensorFlow: for tests that never run it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.json"
    path.write_text('{"format": "graph-model", "modelTopology": {"node": []}, "weightsManifest": []}')
    return path
