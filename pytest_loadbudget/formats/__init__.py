"""Model formats, each detected from the path or named explicitly.

The formats, and numpy with them, are imported when first asked for: the
modules here that read an artifact without a framework (``graph_stats``,
``tfjs_manifest``, ``tfjs_quantization``) serve the results and the report,
which must not pull every format in, nor must the plugin's import.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_loadbudget.errors import ModelFileError

if TYPE_CHECKING:
    from pytest_loadbudget.formats.base import ModelFormat
    from pytest_loadbudget.formats.tfjs import TFJSGraphArtifact
    from pytest_loadbudget.formats.tflite import TFLiteModel

    #: Every format by name, in the order ``detect_format`` tries them.
    FORMATS: dict[str, ModelFormat]

#: The public names defined in a format module, imported on first use.
_LAZY = {"ModelFormat": "base", "TFJSGraphArtifact": "tfjs", "TFLiteModel": "tflite"}


@functools.cache
def _registry() -> dict[str, ModelFormat]:
    from pytest_loadbudget.formats.callable import CallableFormat
    from pytest_loadbudget.formats.keras import H5Format, KerasFormat
    from pytest_loadbudget.formats.savedmodel import SavedModelFormat
    from pytest_loadbudget.formats.tfjs import TFJSGraphFormat, TFJSLayersFormat
    from pytest_loadbudget.formats.tflite import TFLiteFormat

    formats: tuple[ModelFormat, ...] = (
        KerasFormat(),
        H5Format(),
        SavedModelFormat(),
        TFJSGraphFormat(),
        TFJSLayersFormat(),
        TFLiteFormat(),
        CallableFormat(),
    )
    return {fmt.name: fmt for fmt in formats}


def __getattr__(name: str) -> Any:
    if name == "FORMATS":
        return _registry()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def format_named(name: str) -> ModelFormat:
    try:
        return _registry()[name]
    except KeyError:
        raise ValueError(f"unknown model format {name!r}; known formats: {', '.join(_registry())}") from None


def detect_format(path: Path) -> ModelFormat:
    """The format of ``path``; raises ModelFileError if nothing claims it."""
    from pytest_loadbudget.formats.base import file_problem

    if not path.exists():
        raise ModelFileError(path, file_problem(path))
    for fmt in _registry().values():
        if fmt.matches(path):
            return fmt
    if path.is_dir():
        raise ModelFileError(
            path, "a directory with neither saved_model.pb (SavedModel) nor model.json (TF.js): not a model"
        )
    raise ModelFileError(
        path,
        "unknown model format; expected .keras, .h5, .tflite, a TF.js model.json or a SavedModel directory "
        "(or pass format=...)",
    )


__all__ = [
    "FORMATS",
    "ModelFormat",
    "TFJSGraphArtifact",
    "TFLiteModel",
    "detect_format",
    "format_named",
]
