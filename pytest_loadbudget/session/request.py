"""What to load: a path in a format, or a loader function, with its options.

A request is picklable whenever its loader and warm-up are importable, so
that the memory measurement can replay it in a fresh process.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_loadbudget.baseline.fingerprint import display_name, model_identity
from pytest_loadbudget.errors import MarkerError
from pytest_loadbudget.formats import FORMATS, ModelFormat, detect_format, format_named
from pytest_loadbudget.formats.tflite_interpreters import choose_interpreter, interpreter_label
from pytest_loadbudget.measure.devices import device_label, loader_device_argument

AUTO = "auto"
#: The runtime of a model loaded in the test process, as opposed to a TF.js runtime ("node", "browser").
PYTHON = "python"


@dataclass(frozen=True)
class Placement:
    """Where a model is measured: Python on a device, or a TF.js runtime with its backend.

    ``device``: "cpu" or "gpu" when asked for, "" to leave placement to the
    framework (Python only). ``cache_policy``: the Cache-Control of the model
    files in the browser (or "indexeddb"), "" elsewhere. ``worker``: in the
    browser, loaded in a dedicated Web Worker rather than on the page's thread.
    """

    runtime: str = PYTHON
    backend: str = ""
    cache_policy: str = ""
    device: str = ""
    worker: bool = False

    @property
    def label(self) -> str:
        """"python", or the TF.js runtime with its backend: "node wasm", "browser webgl no-store worker"."""
        if self.runtime == PYTHON:
            return PYTHON
        text = f"{self.runtime} {self.backend}"
        if self.runtime != "browser":
            return text
        return f"{text} {self.cache_policy}" + (" worker" if self.worker else "")


# eq=False: a request's warm-up may be an array, whose == is elementwise; the key is its identity.
@dataclass(frozen=True, eq=False)
class LoadRequest:
    """What to load, built complete by ``make_request``: it never changes afterwards."""

    format_name: str
    path: Path | None = None
    loader: Callable[..., Any] | None = None
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    #: "auto", None (no warm-up), an input batch, or a function of the model.
    warmup: Any = AUTO
    extra_files: list[Path] = field(default_factory=list)
    #: Paths in the key are relative to this directory (the rootdir), so that a
    #: baseline saved in one checkout matches the same model in another.
    root: Path | None = None
    #: "cpu" or "gpu" when asked for, "" to leave placement to the framework.
    device: str = ""
    #: Where the figures come from: "cpu", "gpu: <name> (driver <version>)" or
    #: "default" (the framework's choice on a machine with a GPU); in a TF.js
    #: runtime its label ("node wasm"). Part of the key: figures of different
    #: devices are never compared.
    device_label: str = "cpu"
    #: PYTHON, or the TF.js runtime ("node", "browser") with its backend and,
    #: in the browser, the Cache-Control of the model files.
    runtime: str = PYTHON
    backend: str = ""
    cache_policy: str = ""
    #: In the browser: loaded in a dedicated Web Worker (part of the key: the page and the worker are measured apart).
    worker: bool = False
    #: Whether ``name`` was given to ``load_model`` (else it is the file's or the loader's own name).
    named: bool = False
    #: The interpreter of a .tflite model ("litert", "tensorflow", "tflite-runtime"), "" for other
    #: formats: part of the key and the identity, so that figures of two interpreters are never
    #: compared. Its version is recorded beside it, and an upgrade is judged like any other.
    interpreter: str = ""
    interpreter_version: str = ""
    #: The model in the session: one load per key. Computed once.
    key: str = field(init=False, repr=False)
    #: The model across runs, what its baseline is looked up by: its ``name=``
    #: when given, else the path relative to the rootdir (or the loader) with
    #: the options; then where it runs. Computed once.
    identity: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        origin, options, where = self._origin(), self._options_text(), self._where()
        via = f" via {self.interpreter}" if self.interpreter else ""
        object.__setattr__(self, "key", f"{self.format_name}:{origin}:{self.name}:{options}@{where}{via}")
        object.__setattr__(self, "identity", model_identity(
            where, name=self.name if self.named else "", format_name=self.format_name, origin=origin, options=options,
            interpreter=self.interpreter,
        ))

    @property
    def format(self) -> ModelFormat:
        fmt = FORMATS[self.format_name]
        return fmt.with_interpreter(self.interpreter) if self.interpreter else fmt

    @property
    def interpreter_label(self) -> str:
        """``litert 2.3.0``; "" for a model without a choice of interpreter."""
        return interpreter_label(self.interpreter, self.interpreter_version)

    @property
    def placement(self) -> Placement:
        return Placement(self.runtime, self.backend, self.cache_policy, self.device, self.worker)

    def _origin(self) -> str:
        """The loader's module and name, or the path relative to the rootdir (absolute outside it)."""
        if self.loader is not None:
            module = getattr(self.loader, "__module__", "?")
            qualname = getattr(self.loader, "__qualname__", repr(self.loader))
            return f"{module}.{qualname}"
        if self.path is None:
            return ""  # the stand-in of a model that could not be resolved
        resolved = Path(os.path.realpath(self.path))
        root = Path(os.path.realpath(self.root)) if self.root is not None else None
        return str(resolved.relative_to(root)) if root is not None and resolved.is_relative_to(root) else str(resolved)

    def _options_text(self) -> str:
        options = ",".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        return options + f";warmup={_warmup_identity(self.warmup)}"

    def _where(self) -> str:
        # ":worker" only when set: the models measured on the page keep the identity of their baselines.
        in_worker = ":worker" if self.worker else ""
        return self.device_label if self.runtime == PYTHON else \
            f"{self.runtime}:{self.backend}:{self.cache_policy}{in_worker}"

    def load(self) -> Any:
        if self.loader is not None:
            options = self.options
            if self.device and "device" not in options and _takes_device(self.loader):
                options = {**options, "device": loader_device_argument(self.device)}
            return self.loader(**options)
        assert self.path is not None  # a request has a loader or a path
        return self.format.load(self.path, **self.options)

    def warm_up_call(self, model: Any) -> Callable[[], Any] | None:
        """The warm-up for ``model`` as a call to time, or None without one.

        The sample input is built here, outside the timed call.
        """
        warmup = self.warmup
        if warmup is None or warmup is False:
            return None
        if callable(warmup) and not _is_array_like(warmup):
            return lambda: warmup(model)
        inputs = self.format.sample_input(model) if isinstance(warmup, str) and warmup == AUTO else warmup
        if inputs is None:
            return None
        fmt = self.format
        return lambda: fmt.infer(model, inputs)


def _warmup_identity(warmup: Any) -> str:
    """Part of the key: the same model warmed up differently is measured apart."""
    if warmup is None or warmup is False:
        return "none"
    if isinstance(warmup, str):
        return warmup
    if _is_array_like(warmup):
        return f"array{tuple(warmup.shape)}:{warmup.dtype}"
    if callable(warmup):
        return f"{getattr(warmup, '__module__', '?')}.{getattr(warmup, '__qualname__', type(warmup).__name__)}"
    if isinstance(warmup, dict):
        return "{" + ",".join(f"{k}:{_warmup_identity(v)}" for k, v in sorted(warmup.items())) + "}"
    if isinstance(warmup, (list, tuple)):
        return "[" + ",".join(_warmup_identity(v) for v in warmup) + "]"
    return type(warmup).__name__


def _takes_device(loader: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        return False
    return "device" in parameters


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


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

