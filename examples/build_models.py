"""Build the example models locally and export them in every format the plugin loads.

Nothing is downloaded: MobileNetV2 is built with random weights (``weights=None``),
which load exactly as fast and take exactly as much room as trained ones. A small
CNN classifier stands in for a model a team trains itself.

``ensure_models(directory)`` builds once and then reuses the files: a stamp file
records which builder wrote them, and a file lock makes parallel test workers
(``pytest -n 2``) wait for one build instead of racing it.

Run ``python examples/build_models.py`` to build ahead of the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Change this whenever the models or the export change: a stale build is then redone.
BUILDER_VERSION = "3"
MODELS_DIR = Path(__file__).resolve().parent / "models"
STAMP_NAME = "BUILD_STAMP.json"
LOCK_NAME = ".build.lock"

#: MobileNetV2's input side: 224 is the ImageNet default; the load cost barely
#: depends on it (the weights are the same), the warm-up inference does.
MOBILENET_SIDE = 224
CNN_SIDE = 32
CNN_CLASSES = 10


@dataclass(frozen=True)
class ExampleModels:
    """Paths of every example artifact, by format name (see ``export.TARGETS``)."""

    mobilenet: dict[str, Path]
    cnn: dict[str, Path]
    #: The small CNN as a TF.js layers model (built with tf_keras).
    cnn_tfjs_layers: Path


def _paths(directory: Path) -> ExampleModels:
    from pytest_loadbudget.export import TARGETS

    return ExampleModels(
        mobilenet={name: directory / target.format(stem="mobilenetv2") for name, target in TARGETS.items()},
        cnn={name: directory / target.format(stem="small_cnn") for name, target in TARGETS.items()},
        cnn_tfjs_layers=directory / "small_cnn_tfjs_layers" / "model.json",
    )


def _stamp() -> dict[str, object]:
    return {"builder": BUILDER_VERSION, "mobilenet_side": MOBILENET_SIDE, "cnn_side": CNN_SIDE}


def _is_built(directory: Path, models: ExampleModels) -> bool:
    try:
        recorded = json.loads((directory / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    every_path = [*models.mobilenet.values(), *models.cnn.values(), models.cnn_tfjs_layers]
    return recorded == _stamp() and all(path.exists() for path in every_path)


def ensure_models(directory: Path = MODELS_DIR) -> ExampleModels:
    """The example models under ``directory``, built first if missing or stale."""
    from filelock import FileLock

    directory.mkdir(parents=True, exist_ok=True)
    models = _paths(directory)
    if _is_built(directory, models):
        return models
    with FileLock(str(directory / LOCK_NAME)):
        # Another worker may have built them while this one waited for the lock.
        if not _is_built(directory, models):
            _build(directory)
    return models


def _build(directory: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from pytest_loadbudget.export import export_formats, export_tfjs_layers

    (directory / STAMP_NAME).unlink(missing_ok=True)
    for stale in directory.iterdir():
        if stale.name != LOCK_NAME:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()

    keras.utils.set_random_seed(0)
    mobilenet = keras.applications.MobileNetV2(weights=None, input_shape=(MOBILENET_SIDE, MOBILENET_SIDE, 3))
    export_formats(mobilenet, directory, stem="mobilenetv2")
    export_formats(_small_cnn(keras), directory, stem="small_cnn")
    del mobilenet
    keras.backend.clear_session()

    # tensorflowjs loads layers models with tf_keras, so that one is built with tf_keras.
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        # The converter saves through a temporary HDF5 file, and tf_keras calls HDF5 legacy.
        warnings.simplefilter("ignore", UserWarning)
        export_tfjs_layers(_small_cnn(tf_keras), directory / "small_cnn_tfjs_layers")
    tf_keras.backend.clear_session()

    # Written last: an interrupted build leaves no stamp and is redone.
    (directory / STAMP_NAME).write_text(json.dumps(_stamp()) + "\n")


def _small_cnn(keras_module: Any) -> Any:
    """A 10-class image classifier: the kind of model a team trains itself.

    ``keras_module`` is ``keras`` (Keras 3) or ``tf_keras``; both spell the layers the same.
    """
    k = keras_module
    return k.Sequential(
        [
            k.Input(shape=(CNN_SIDE, CNN_SIDE, 3)),
            k.layers.Conv2D(32, 3, activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Conv2D(64, 3, activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Flatten(),
            k.layers.Dense(128, activation="relu"),
            k.layers.Dense(CNN_CLASSES, activation="softmax"),
        ],
        name="small_cnn",
    )


if __name__ == "__main__":
    built = ensure_models(Path(sys.argv[1]) if len(sys.argv) > 1 else MODELS_DIR)
    for group in (built.mobilenet, built.cnn):
        for name, path in group.items():
            print(f"{name:20} {path}")
    print(f"{'tfjs-layers':20} {built.cnn_tfjs_layers}")
