"""Model formats, each detected from the path or named explicitly."""

from __future__ import annotations

from pathlib import Path

from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats.base import ModelFormat, file_problem
from pytest_loadbudget.formats.callable import CallableFormat
from pytest_loadbudget.formats.keras import H5Format, KerasFormat
from pytest_loadbudget.formats.savedmodel import SavedModelFormat
from pytest_loadbudget.formats.tfjs import TFJSGraphArtifact, TFJSGraphFormat, TFJSLayersFormat
from pytest_loadbudget.formats.tflite import TFLiteFormat, TFLiteModel

FORMATS: dict[str, ModelFormat] = {
    fmt.name: fmt
    for fmt in (
        KerasFormat(),
        H5Format(),
        SavedModelFormat(),
        TFJSGraphFormat(),
        TFJSLayersFormat(),
        TFLiteFormat(),
        CallableFormat(),
    )
}


def format_named(name: str) -> ModelFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown model format {name!r}; known formats: {', '.join(FORMATS)}") from None


def detect_format(path: Path) -> ModelFormat:
    """The format of ``path``; raises ModelFileError if nothing claims it."""
    if not path.exists():
        raise ModelFileError(path, file_problem(path))
    for fmt in FORMATS.values():
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
