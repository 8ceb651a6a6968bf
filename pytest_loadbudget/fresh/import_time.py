"""How long one module's import takes in a fresh Python on this machine.

The advice for a .tflite model run by TensorFlow quotes what LiteRT's import
costs here, measured rather than promised. One fresh ``python -c`` per module
and process (cached): the import is timed inside the child, so the figure is
the import alone, comparable with a cold start's import phase.
"""

from __future__ import annotations

import functools
import subprocess
import sys

from pytest_loadbudget.formats.tflite_interpreters import TFLiteInterpreter
from pytest_loadbudget.fresh import protocol

#: Seconds the child may take; an import slower than this is not worth quoting.
IMPORT_TIMEOUT_S = 60.0

_TIMED_IMPORT = (
    "import time; start = time.perf_counter(); import {module}; "
    "print('{prefix}' + repr((time.perf_counter() - start) * 1e3))"
)


@functools.cache
def fresh_import_ms(module: str, timeout: float = IMPORT_TIMEOUT_S) -> float | None:
    """Milliseconds ``import module`` takes in a fresh Python; None when it fails or times out."""
    code = _TIMED_IMPORT.format(module=module, prefix=protocol.RESULT_PREFIX)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", code], stdin=subprocess.DEVNULL,
            capture_output=True, timeout=timeout, env=protocol.child_environment(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in completed.stdout.decode(errors="replace").splitlines():
        if line.startswith(protocol.RESULT_PREFIX):
            try:
                return float(line[len(protocol.RESULT_PREFIX):])
            except ValueError:
                return None
    return None


def interpreter_import_ms(interpreter: TFLiteInterpreter) -> float | None:
    """What importing ``interpreter``'s module takes in a fresh Python here; None where it is not installed."""
    return fresh_import_ms(interpreter.module) if interpreter.installed() else None
