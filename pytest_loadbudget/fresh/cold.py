"""Cold start: a model loaded by a fresh interpreter, phase by phase.

What a new server worker, a serverless function or a CLI pays before its
first answer: starting Python, importing the framework, reading the
artifact, loading it, and the first call. Each run spawns a fresh
``python -m pytest_loadbudget.fresh.cold_child`` (spawned, never forked: a fork
would inherit an imported framework and warm caches) and times:

- ``startup``: from the parent's spawn to the child's ``main()``: the
  interpreter, and the harness's own modules;
- ``import``: rebuilding the request (which imports a loader function's
  module) and ``format.import_framework()`` (for a .tflite model, its
  interpreter's module alone: ``ai_edge_litert.interpreter`` for LiteRT);
- ``read``: reading every byte of the artifact's files, so that the load
  that follows is deserialization, not storage;
- ``load``: ``request.load()``, deserialize and restore;
- ``first_call``: the first inference (tracing, kernel set-up);

then a few more calls of the same inference (``steady``) and a second load
in the same process (``reload``: the load without the framework's first-use
set-up), neither part of the cold time. The cold total is the sum of the five phases, and it matches the wall
time the parent measures from spawn to the end of the first call within
``add_up_tolerance_ms`` (see ``ColdRun.unaccounted_ms``). The child also reads
its loading thread's run-queue wait at every phase boundary (``ColdRun.wait_ms``):
each phase keeps its wall time and its own time (wall less that wait), and
``cold_ms``/``import_ms`` budgets judge own time where it was measured.

``evict=True`` (cold on disk) drops the artifact's pages from the page cache
before each run (``posix_fadvise(DONTNEED)``, best effort) and reports how
much of the artifact was still resident when the child started. Only the
artifact is evicted: the framework's own files stay cached, as on a server
that restarts a worker.
"""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

from pytest_loadbudget.errors import MeasurementError
from pytest_loadbudget.formats.graph_stats import GraphStats
from pytest_loadbudget.fresh import protocol
from pytest_loadbudget.fresh.cold_child import PHASE_PREFIX
from pytest_loadbudget.measure.floor import read_fully
from pytest_loadbudget.measure.page_cache import evict_files, residency
from pytest_loadbudget.measure.progress import live_step
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun
from pytest_loadbudget.results.phases import AT_BARRIER, COLD_DONE, STEP_NAMED
from pytest_loadbudget.units import format_mib

CHILD_MODULE = "pytest_loadbudget.fresh.cold_child"
DEFAULT_RUNS = 3
#: Calls after the first whose median is the steady call: enough for a
#: median, few enough to cost nothing next to a load.
STEADY_CALLS = 5
#: One reload tells the framework's first-use set-up from the load's own work.
RELOADS = 1


def measure_cold(
    request: LoadRequest,
    runs: int = DEFAULT_RUNS,
    *,
    evict: bool = False,
    timeout: float = protocol.DEFAULT_TIMEOUT_S,
    steady_calls: int = STEADY_CALLS,
    reloads: int = RELOADS,
    graph: bool = True,
    progress: Callable[[str], None] | None = None,
    traced: list[str] | None = None,
) -> ColdProfile:
    """Load ``request`` in ``runs`` fresh processes, one after the other.

    ``timeout``: seconds each process may take. ``steady_calls``: calls
    after the first to time; ``reloads``: loads after the first, timed with
    the framework warm. ``graph``: count the artifact's functions, nodes or
    layers in the first process. ``progress`` gets a line as each process
    moves on (``"child 2/3: loading..."``). ``traced`` gets what traced or
    slowed the processes (``measure/tracing.py``), once each.
    Raises NotReplayable when the request cannot travel to a child (a lambda
    loader), MeasurementError naming the model when a child crashes, fails
    to load or times out, and ModelFileError for a broken artifact.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    payload = protocol.replay_payload(request)
    files = request_files(request)
    size = sum(path.stat().st_size for path in files)
    profile = ColdProfile(
        name=request.name, format=request.format_name, size_bytes=size, files=len(files), evict=evict,
        interpreter=request.interpreter,
    )
    if not evict and files:
        read_fully(files)  # a warm-cache profile means warm from the first run on
    for index in range(1, runs + 1):
        envelope = protocol.envelope(
            payload, files=[str(path) for path in files], steady_calls=steady_calls, reloads=reloads,
            graph=graph and index == 1,
        )
        child = ChildRun(request, index, runs, timeout, progress, size)
        if files:
            if evict:
                child.say("evicting the artifact from the page cache...")
            cache = evict_files(files) if evict else residency(files)
        else:
            cache = None
        with live_step(request.name, "cold start", index, runs):
            run, extra = child.run(envelope)
        run.page_cache = cache
        profile.runs.append(run)
        protocol.traced_in(extra, traced if traced is not None else [])
        if extra.get("graph"):
            profile.graph = GraphStats(**extra["graph"])
        if extra.get("peak_method") == "unavailable":
            profile.peak_method = "unavailable"
    return profile


def request_files(request: LoadRequest) -> list[Path]:
    """Every file the load reads: the artifact's and those named with ``files=``."""
    files = list(request.extra_files)
    if request.path is not None:
        files += request.format.artifact_files(request.path)
    return files


class _Timeout(Exception):
    pass


class ChildRun:
    """One fresh process: spawn, feed, follow its phase lines, collect its result.

    With a ``barrier`` (a fleet's), the child waits at it after its start-up;
    it arrives when it says so (the caller counts a child that ended as arrived).
    """

    def __init__(
        self, request: LoadRequest, index: int, runs: int, timeout: float,
        progress: Callable[[str], None] | None, size: int, barrier: protocol.StartBarrier | None = None,
    ) -> None:
        self.request = request
        self.index = index
        self.runs = runs
        self.timeout = timeout
        self.progress = progress
        self.size = size
        self.barrier = barrier
        #: The child while it runs: a fleet kills every child when it is interrupted.
        self.process: subprocess.Popen[bytes] | None = None

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(f"child {self.index}/{self.runs}: {text}")

    def say_step(self, name: str) -> None:
        step = STEP_NAMED.get(name)
        if step is None or not step.progress:
            return
        if name == "read" and not self.size:
            self.say("no artifact files to read...")
        else:
            self.say(step.progress.format(framework=self.request.format.framework, size=format_mib(self.size)))

    def run(self, envelope: bytes) -> tuple[ColdRun, dict[str, Any]]:
        self.say_step("startup")
        with tempfile.TemporaryFile() as stderr:
            spawn_ns = time.monotonic_ns()
            process = self.process = subprocess.Popen(
                protocol.child_command(CHILD_MODULE),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=protocol.child_environment(),
                pass_fds=(self.barrier.child_fd,) if self.barrier is not None else (),
            )
            assert process.stdin is not None and process.stdout is not None  # both are pipes
            lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
            reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
            reader.start()
            try:
                process.stdin.write(envelope)
                process.stdin.close()
            except BrokenPipeError:
                pass  # it died before reading: its exit code tells why
            deadline = spawn_ns + int(self.timeout * 1e9)
            phase = "startup"
            cold_done_ns: int | None = None
            result: dict[str, Any] | None = None
            try:
                while result is None:
                    stamp, line = _next_line(lines, deadline)
                    if line is None:
                        break
                    if line.startswith(PHASE_PREFIX):
                        phase = line[len(PHASE_PREFIX):]
                        if phase == COLD_DONE:
                            cold_done_ns = stamp
                        elif phase == AT_BARRIER and self.barrier is not None:
                            self.barrier.arrive(self.index)
                        self.say_step(phase)
                    else:
                        result = protocol.parse_result(line)
                returncode = process.wait(timeout=max((deadline - time.monotonic_ns()) / 1e9, 0.001))
            except (_Timeout, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
                raise MeasurementError(
                    f"{self.request.name}: the cold load in a fresh process did not finish in {self.timeout:g} s "
                    f"(it was {_doing(phase)}; raise the timeout if the load is that slow)"
                ) from None
            except BaseException:
                # Interrupted (Ctrl-C, a test timeout): leave no framework-sized process behind.
                process.kill()
                process.wait()
                raise
            finally:
                reader.join(timeout=1.0)
                if not reader.is_alive():  # a grandchild may still hold the pipe: never close under a reader
                    process.stdout.close()
            tail = protocol.stderr_tail(stderr)
        what, during = "measuring the cold load", _doing(phase)
        result = protocol.check_result(self.request.name, returncode, result, tail, what, during)
        if cold_done_ns is None:
            protocol.died(self.request.name, returncode, tail, what, during)
        return _cold_run(result, spawn_ns, cold_done_ns), result


def _doing(phase: str) -> str:
    step = STEP_NAMED.get(phase)
    return step.doing if step is not None else phase


def _read_lines(stream: IO[bytes], lines: queue.Queue[tuple[int, str | None]]) -> None:
    # Stamped on arrival: the stamp of the cold-done line ends the wall time.
    for raw in stream:
        lines.put((time.monotonic_ns(), raw.decode(errors="replace").rstrip("\n")))
    lines.put((time.monotonic_ns(), None))


def _next_line(lines: queue.Queue[tuple[int, str | None]], deadline: int) -> tuple[int, str | None]:
    remaining = (deadline - time.monotonic_ns()) / 1e9
    if remaining <= 0:
        raise _Timeout
    try:
        return lines.get(timeout=remaining)
    except queue.Empty:
        raise _Timeout from None


def _ms(nanoseconds: float | None) -> float | None:
    return None if nanoseconds is None else nanoseconds / 1e6


def _cold_run(result: dict[str, Any], spawn_ns: int, cold_done_ns: int) -> ColdRun:
    # A fleet's child waited at the start barrier between its start-up and its import: no phase's time.
    barrier_wait_ns = result.get("barrier_wait_ns", 0)
    return ColdRun(
        startup_ms=(result["main_ns"] - spawn_ns) / 1e6,
        import_ms=result["import_ns"] / 1e6,
        read_ms=result["read_ns"] / 1e6,
        load_ms=result["load_ns"] / 1e6,
        first_call_ms=_ms(result["first_call_ns"]),
        steady_ms=[ns / 1e6 for ns in result["steady_ns"]],
        reload_ms=[ns / 1e6 for ns in result["reload_ns"]],
        wall_ms=(cold_done_ns - spawn_ns - barrier_wait_ns) / 1e6,
        harness_ms=result["harness_ns"] / 1e6,
        read_bytes=result["read_bytes"],
        peak_bytes=result["peak_bytes"],
        import_rss_bytes=result["import_rss_bytes"],
        gc_ms={phase: ns / 1e6 for phase, ns in result["gc_ns"].items()},
        wait_ms={phase: ns / 1e6 for phase, ns in (result.get("wait_ns") or {}).items()},
        frameworks=result["frameworks"],
    )


