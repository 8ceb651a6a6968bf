"""Memory figures taken in a fresh interpreter, the figure users mean.

The parent sends a pickled ``LoadRequest`` on stdin; the child replays it and
prints one result line. A fresh interpreter (spawned, not forked) starts with
no heap that earlier loads freed, so the peak it sees is the whole peak.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import tempfile
from typing import Any

from .errors import MeasurementError
from .measure import MemoryFigures, measure_memory
from .request import LoadRequest

RESULT_PREFIX = "LOADBUDGET-RESULT "
UNPICKLABLE_EXIT = 3


class NotReplayable(Exception):
    """The request cannot travel to a child (a lambda, a local function)."""


def measure_memory_in_child(request: LoadRequest, cycles: int, timeout: float) -> MemoryFigures:
    """Replay ``request`` in a fresh Python; raises NotReplayable or MeasurementError."""
    payload = replay_payload(request)
    envelope = pickle.dumps({"sys_path": sys.path, "request": payload, "cycles": cycles})
    with tempfile.TemporaryFile() as stderr:
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "pytest_loadbudget.child"],
                input=envelope,
                stdout=subprocess.PIPE,
                stderr=stderr,
                timeout=timeout,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")},
            )
        except subprocess.TimeoutExpired:
            raise MeasurementError(
                f"{request.name}: the memory measurement in a fresh process did not finish in {timeout:g} s "
                "(raise --loadbudget-timeout if the load is that slow)"
            ) from None
        stderr.seek(0)
        error_tail = stderr.read().decode(errors="replace").strip().splitlines()[-12:]
    if completed.returncode == UNPICKLABLE_EXIT:
        raise NotReplayable("\n".join(error_tail[-1:]))
    for line in completed.stdout.decode(errors="replace").splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if "error" in result:
                raise MeasurementError(f"{request.name}: in a fresh process: {result['error']}")
            return MemoryFigures(**result)
    raise MeasurementError(
        f"{request.name}: the fresh process measuring memory exited with {exit_reason(completed.returncode)}"
        + ("; its last output:\n  " + "\n  ".join(error_tail) if error_tail else "")
    )


def replay_payload(request: LoadRequest) -> bytes:
    """``request`` pickled for a fresh process; NotReplayable when it cannot travel."""
    try:
        return pickle.dumps(request)
    except Exception as error:  # pickling fails with TypeError, AttributeError or PicklingError
        raise NotReplayable(f"{type(error).__name__}: {error}") from None


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        signal_number = -returncode
        if signal_number == 9:
            return "signal 9 (SIGKILL: out of memory?)"
        return f"signal {signal_number}"
    return f"code {returncode}"


def main() -> int:
    envelope = pickle.loads(sys.stdin.buffer.read())
    sys.path[:] = envelope["sys_path"]
    try:
        request: LoadRequest = pickle.loads(envelope["request"])
    except Exception as error:
        print(f"cannot rebuild the load request: {type(error).__name__}: {error}", file=sys.stderr)
        return UNPICKLABLE_EXIT
    try:
        figures = measure_memory(request, envelope["cycles"], where="fresh process")
        result: dict[str, Any] = dataclasses.asdict(figures)
    except Exception as error:
        result = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # Skip interpreter teardown: TensorFlow's can take seconds and adds nothing.
    os._exit(code)
