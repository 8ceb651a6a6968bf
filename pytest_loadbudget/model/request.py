"""What to load: a path in a format, or a loader function, with its options.

``session/resolve.py`` builds it from what ``load_model`` was given; the
measuring code, in the test process and in fresh ones, loads through it.
A request is picklable whenever its loader and warm-up are importable, so
that the memory measurement can replay it in a fresh process.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_loadbudget.formats import FORMATS, ModelFormat
from pytest_loadbudget.formats.tflite_interpreters import interpreter_label
from pytest_loadbudget.model.identity import model_identity
from pytest_loadbudget.model.placement import PYTHON, Placement

#: The warm-up that feeds the format's sample input (zeros shaped like the model's inputs).
AUTO = "auto"


# eq=False: a request's warm-up may be an array, whose == is elementwise; the key is its identity.
@dataclass(frozen=True, eq=False)
class LoadRequest:
    """What to load, built complete by ``make_request`` (``session/resolve.py``): it never changes afterwards."""

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


def loader_device_argument(device: str) -> str:
    """The value passed to a loader function's ``device`` parameter."""
    return "cuda" if device == "gpu" else "cpu"
