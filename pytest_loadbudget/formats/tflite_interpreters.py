"""Which interpreter runs a ``.tflite`` model: LiteRT, TensorFlow's ``tf.lite``, or tflite-runtime.

A ``.tflite`` model needs only an interpreter, not TensorFlow: LiteRT
(``ai-edge-litert``) imports in a fraction of the time TensorFlow takes, and
it is what edge and mobile deployments run. Unless one is asked for, a model
goes to the first installed of ``PREFERENCE``. Which one ran is part of the
model's identity: figures of two interpreters are never compared.

Nothing here imports an interpreter until a model is loaded: whether one is
installed is read from the import system and package metadata.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from dataclasses import dataclass
from typing import Any

from pytest_loadbudget.errors import LoadBudgetError, MarkerError


@dataclass(frozen=True)
class TFLiteInterpreter:
    """One interpreter: what its import phase imports and where its ``Interpreter`` class lives.

    ``module``: the module a cold start imports; ``attribute``: the class's
    dotted path inside it; ``distributions``: the packages that provide it, the
    first installed giving the version; ``install``: how to get it.
    """

    name: str
    module: str
    attribute: str
    distributions: tuple[str, ...]
    install: str

    def installed(self) -> bool:
        """Whether its package can be imported here (read without importing it)."""
        try:
            return importlib.util.find_spec(self.module.split(".")[0]) is not None
        except (ImportError, ValueError):
            return False

    def version(self) -> str:
        """The installed version, "" where no distribution records one."""
        from importlib import metadata  # a pytest start that never loads a .tflite model skips it

        for distribution in self.distributions:
            try:
                return metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
        return ""

    def label(self) -> str:
        return interpreter_label(self.name, self.version())

    def import_module(self) -> Any:
        return importlib.import_module(self.module)

    def create(self, model_path: str, **options: Any) -> Any:
        """An ``Interpreter`` of the model, tensors not yet allocated."""
        target: Any = self.import_module()
        for part in self.attribute.split("."):
            target = getattr(target, part)
        with warnings.catch_warnings():
            # tf.lite.Interpreter warns on every instance that it moves to ai_edge_litert.
            warnings.simplefilter("ignore", UserWarning)
            return target(model_path=model_path, **options)


LITERT = TFLiteInterpreter(
    "litert", "ai_edge_litert.interpreter", "Interpreter", ("ai-edge-litert",),
    "pip install 'pytest-loadbudget[litert]' (the ai-edge-litert package)",
)
TENSORFLOW = TFLiteInterpreter(
    "tensorflow", "tensorflow", "lite.Interpreter", ("tensorflow", "tensorflow-cpu", "tf-nightly", "tensorflow-macos"),
    "pip install 'pytest-loadbudget[tensorflow]'",
)
TFLITE_RUNTIME = TFLiteInterpreter(
    "tflite-runtime", "tflite_runtime.interpreter", "Interpreter", ("tflite-runtime",), "pip install tflite-runtime",
)
#: Every interpreter by the name ``interpreter=`` takes, in the order an unforced model tries them:
#: LiteRT first (it imports in tens of milliseconds, TensorFlow in seconds), then TensorFlow's, then tflite-runtime.
INTERPRETERS = {interpreter.name: interpreter for interpreter in (LITERT, TENSORFLOW, TFLITE_RUNTIME)}


def interpreter_label(name: str, version: str) -> str:
    """``litert 2.3.0``: an interpreter and its version as the report shows them; "" for neither."""
    return " ".join(part for part in (name, version) if part)


class InterpreterUnavailable(LoadBudgetError):
    """The interpreter asked for, or every TFLite interpreter, is not installed; a test skips with it.

    ``what`` names the missing interpreter and ``install`` how to get it; the
    message holds both.
    """

    def __init__(self, what: str, install: str) -> None:
        self.what = what
        self.install = install
        super().__init__(f"{what}: {install}")


def check_name(keyword: str, value: Any) -> None:
    """Raise MarkerError naming ``keyword`` unless ``value`` is an interpreter's name."""
    if value not in INTERPRETERS:
        raise MarkerError(f"{keyword}={value!r} must be one of {', '.join(map(repr, INTERPRETERS))}")


def choose_interpreter(requested: str | None) -> TFLiteInterpreter:
    """The interpreter ``requested`` (a name), or the first installed; raises InterpreterUnavailable.

    Raises MarkerError, naming the ``interpreter`` keyword, for an unknown name.
    """
    if requested is not None:
        check_name("interpreter", requested)
        interpreter = INTERPRETERS[requested]
        if not interpreter.installed():
            raise InterpreterUnavailable(
                f"the TFLite interpreter {requested!r} (interpreter={requested!r}) is not installed",
                interpreter.install,
            )
        return interpreter
    for interpreter in INTERPRETERS.values():
        if interpreter.installed():
            return interpreter
    raise InterpreterUnavailable(
        "no TFLite interpreter is installed (ai-edge-litert, tensorflow or tflite-runtime)", LITERT.install,
    )
