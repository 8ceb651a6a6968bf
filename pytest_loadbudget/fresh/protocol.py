"""The one protocol between the test process and a fresh interpreter.

The parent spawns ``python -m <child module>`` (spawned, never forked: a fork
would inherit an imported framework and a used heap), writes one pickled
envelope on stdin (``sys.path``, the pickled ``LoadRequest`` and what the
child needs besides) and reads one result line from the child's stdout. The
child exits with ``UNPICKLABLE_EXIT`` when the request cannot be rebuilt; a
result ``{"error": ...}`` says the load or the measurement failed. Both the
memory child and the cold child speak it. A fleet of cold children also
shares a ``StartBarrier``, so that their work begins at one moment.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import threading
from typing import IO, Any, NoReturn

from pytest_loadbudget.errors import MeasurementError
from pytest_loadbudget.measure.tracing import COVERAGE_START_VARIABLES

RESULT_PREFIX = "LOADBUDGET-RESULT "
UNPICKLABLE_EXIT = 3
#: Seconds one fresh process may take, unless ``--loadbudget-timeout`` says otherwise.
DEFAULT_TIMEOUT_S = 600.0
#: The most processes a fleet may start at once: beyond this a test machine
#: measures its own exhaustion (memory, PIDs), not the model's start.
MAX_FLEET = 64
#: Lines of a dead child's stderr worth quoting.
STDERR_TAIL_LINES = 12
#: The frameworks and interpreters a child reports as imported: what a load
#: really pulled in (a .tflite model run by LiteRT imports no TensorFlow).
FRAMEWORK_MODULES = (
    "tensorflow", "keras", "tf_keras", "tensorflowjs", "ai_edge_litert", "tflite_runtime", "torch", "jax",
)


class NotReplayable(Exception):
    """The request cannot travel to a child (a lambda, a local function)."""


# --- the parent's side


def replay_payload(request: Any) -> bytes:
    """``request`` pickled for a fresh process; NotReplayable when it cannot travel."""
    try:
        return pickle.dumps(request)
    except Exception as error:  # pickling fails with TypeError, AttributeError or PicklingError
        raise NotReplayable(f"{type(error).__name__}: {error}") from None


def envelope(payload: bytes, **fields: Any) -> bytes:
    """What the parent writes on the child's stdin."""
    return pickle.dumps({"sys_path": sys.path, "request": payload, **fields})


def child_command(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def child_environment() -> dict[str, str]:
    """The parent's environment, with TensorFlow's C++ start-up chatter off unless asked for, and without
    what would start coverage in the child (``tracing.COVERAGE_START_VARIABLES`` says why)."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    for name in COVERAGE_START_VARIABLES:
        environment.pop(name, None)
    return environment


def stderr_tail(stderr: IO[bytes]) -> list[str]:
    """The last lines a child wrote to its stderr (a temporary file)."""
    stderr.seek(0)
    return stderr.read().decode(errors="replace").strip().splitlines()[-STDERR_TAIL_LINES:]


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        signal_number = -returncode
        if signal_number == 9:
            return "signal 9 (SIGKILL: out of memory?)"
        return f"signal {signal_number}"
    return f"code {returncode}"


def check_result(
    name: str, returncode: int, result: dict[str, Any] | None, tail: list[str], what: str, during: str = ""
) -> dict[str, Any]:
    """The child's result, or the error that says why there is none.

    ``what`` names the measurement for the message ("measuring memory"),
    ``during`` what the child was doing when it died ("loading").
    Raises NotReplayable for a request the child could not rebuild and
    MeasurementError, naming the model, for a failed load or a dead child.
    """
    if returncode == UNPICKLABLE_EXIT:
        raise NotReplayable("\n".join(tail[-1:]))
    if result is not None and "error" in result:
        raise MeasurementError(f"{name}: in a fresh process: {result['error']}")
    if result is None:
        died(name, returncode, tail, what, during)
    return result


def died(name: str, returncode: int, tail: list[str], what: str, during: str = "") -> NoReturn:
    raise MeasurementError(
        f"{name}: the fresh process {what} exited with {exit_reason(returncode)}"
        + (f" while {during}" if during else "")
        + ("; its last output:\n  " + "\n  ".join(tail) if tail else "")
    )


class StartBarrier:
    """Lets several fresh processes begin their work at the same moment.

    Each child gets the read end of one pipe (``child_fd``, through
    ``pass_fds``), says it is ready, and blocks reading it. When every child
    has arrived (``arrive``: a child that died counts, so that it holds no one
    back), the parent closes the write end: every blocked read returns at once
    with end-of-file, a broadcast no child can see before another. Leaving the
    ``with`` block releases whoever still waits, so a failure in the parent
    strands no child.
    """

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.child_fd, self._release_fd = os.pipe()
        self._arrived: set[int] = set()
        self._lock = threading.Lock()

    def arrive(self, index: int) -> None:
        """Child ``index`` is ready (or gone); the last one releases them all. Idempotent."""
        with self._lock:
            self._arrived.add(index)
            if len(self._arrived) >= self.parties:
                self._release()

    def _release(self) -> None:
        if self._release_fd >= 0:
            os.close(self._release_fd)
            self._release_fd = -1

    def __enter__(self) -> StartBarrier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._release()
        os.close(self.child_fd)


def parse_result(line: str) -> dict[str, Any] | None:
    """The result carried by ``line``, or None for any other line."""
    if not line.startswith(RESULT_PREFIX):
        return None
    result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX):])
    return result


# --- the child's side


def read_envelope() -> tuple[dict[str, Any], Any]:
    """The envelope from stdin and the request rebuilt from it."""
    data = read_envelope_fields()
    return data, rebuild_request(data)


def read_envelope_fields() -> dict[str, Any]:
    """The envelope from stdin, the request still pickled: this imports nothing."""
    data: dict[str, Any] = pickle.loads(sys.stdin.buffer.read())
    return data


def rebuild_request(data: dict[str, Any]) -> Any:
    """The request of an envelope.

    Exits with ``UNPICKLABLE_EXIT`` (and the reason on stderr) when the
    request cannot be rebuilt. Unpickling imports the loader's module: for a
    loader function, that is its framework import.
    """
    sys.path[:] = data["sys_path"]
    try:
        request = pickle.loads(data["request"])
    except Exception as error:
        print(f"cannot rebuild the load request: {type(error).__name__}: {error}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(UNPICKLABLE_EXIT)
    return request


def wait_at_barrier(fd: int) -> None:
    """Block until the parent releases its ``StartBarrier`` (end-of-file on ``fd``), or dies."""
    while os.read(fd, 1):
        pass
    os.close(fd)


def frameworks_imported() -> list[str]:
    """Which of ``FRAMEWORK_MODULES`` this process has imported so far."""
    return [name for name in FRAMEWORK_MODULES if name in sys.modules]


def traced_in(result: dict[str, Any], found: list[str]) -> None:
    """Add what traced the child (its result's ``traced``: ``tracing.distortions()`` at its start) to
    ``found``, once each."""
    for what in result.get("traced") or []:
        if what not in found:
            found.append(str(what))


def error_result(error: Exception) -> dict[str, Any]:
    return {"error": f"{type(error).__name__}: {error}"}


def write_result(channel: IO[str], result: dict[str, Any]) -> None:
    channel.write(RESULT_PREFIX + json.dumps(result) + "\n")
    channel.flush()


def exit_now(code: int) -> NoReturn:
    """End the child without interpreter teardown: TensorFlow's can take seconds and adds nothing."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
