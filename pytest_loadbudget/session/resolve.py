"""What ``load_model`` was given, resolved into a ``LoadRequest``.

A relative path means what ``open()`` makes of it, else the test file's
directory; the format is detected from the path unless named; on Python the
device is probed here (a GPU's name and driver become part of the key); a
.tflite model gets its interpreter.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_loadbudget.errors import MarkerError
from pytest_loadbudget.formats import detect_format, format_named
from pytest_loadbudget.formats.tflite_interpreters import choose_interpreter
from pytest_loadbudget.measure.devices import device_label
from pytest_loadbudget.model.identity import display_name
from pytest_loadbudget.model.placement import PYTHON, Placement
from pytest_loadbudget.model.request import LoadRequest


def make_request(
    source: str | os.PathLike[str] | Callable[..., Any],
    *,
    format: str | None,
    name: str | None,
    warmup: Any,
    files: list[str | os.PathLike[str]] | None,
    options: dict[str, Any],
    base_dir: Path,
    root: Path | None = None,
    placement: Placement = Placement(),
    interpreter: str | None = None,
) -> LoadRequest:
    """Resolve what ``load_model`` was given; raises MarkerError or ModelFileError.

    ``placement``: where it is measured. On Python its device is probed here
    (a GPU's name and driver become part of the key). ``interpreter``: the
    TFLite interpreter asked for, None for the first installed; other formats
    ignore it. Raises InterpreterUnavailable when a .tflite model has none.
    """
    extra_files = [_resolve(base_dir, f) for f in files or []]
    where = device_label(placement.device) if placement.runtime == PYTHON else placement.label
    common: dict[str, Any] = {
        "options": options, "warmup": warmup, "extra_files": extra_files, "root": root, "device_label": where,
        **dataclasses.asdict(placement),
    }
    if callable(source) and not isinstance(source, (str, os.PathLike)):
        if format not in (None, "callable"):
            raise MarkerError(f"load_model got a function with format={format!r}; a function is its own loader")
        loader_name = name or getattr(source, "__name__", None) or type(source).__name__
        return LoadRequest(format_name="callable", loader=source, name=loader_name, named=bool(name), **common)
    if not isinstance(source, (str, os.PathLike)):
        raise MarkerError(f"load_model takes a path or a loader function, not {type(source).__name__}")
    path = _resolve(base_dir, source)
    if format is None:
        fmt = detect_format(path)
    else:
        try:
            fmt = format_named(format)
        except ValueError as error:
            raise MarkerError(str(error)) from None
    if fmt.name == "tflite":
        chosen = choose_interpreter(interpreter)
        common.update(interpreter=chosen.name, interpreter_version=chosen.version())
    return LoadRequest(format_name=fmt.name, path=path, name=name or display_name(path), named=bool(name), **common)


def _resolve(base_dir: Path, value: str | os.PathLike[str]) -> Path:
    """Relative paths mean what ``open()`` makes of them, else the test file's directory."""
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path.absolute()
    beside_test = base_dir / path
    return beside_test if beside_test.exists() else path.absolute()

