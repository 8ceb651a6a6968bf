"""The TF.js artifact a runtime is given, validated in Python before any runtime starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pytest_loadbudget.formats.tfjs_manifest import TFJSManifest, read_manifest


def validated(model: str | os.PathLike[str]) -> TFJSManifest:
    """The manifest of ``model`` (a model.json or the directory holding it).

    Raises ModelFileError for a missing, truncated or inconsistent artifact:
    a broken shard is named here, not found as an opaque error inside TF.js.
    """
    path = Path(model)
    if path.is_dir():
        path = path / "model.json"
    return read_manifest(path.absolute())


def shard_names(manifest: TFJSManifest) -> list[str]:
    """Shard file names relative to model.json, in the order TF.js fetches them."""
    base = manifest.model_json.parent
    return [Path(os.path.relpath(path, base)).as_posix() for group in manifest.groups for path in group.paths]


def harness_options(
    manifest: TFJSManifest, backend: str, rounds: int, predict_rounds: int, warmup: bool, leak: bool,
    predictions: int = 0,
) -> dict[str, Any]:
    """What ``measure()`` of ``js/core.js`` is asked to do, in Node.js and in the page alike.

    ``predictions``: predictions on the warm model with tf.memory() after each (0: none).
    """
    return {
        "format": manifest.format,
        "backend": backend,
        "rounds": rounds,
        "predictRounds": predict_rounds,
        "warmup": warmup,
        "leak": leak,
        "predictions": predictions,
    }
