"""Cold start: a model loaded by a fresh interpreter, phase by phase.

What a new server worker, a serverless function or a CLI pays before its
first answer: starting Python, importing the framework, reading the
artifact, loading it, and the first call. Each run spawns a fresh
``python -m pytest_loadbudget.cold_child`` (spawned, never forked: a fork
would inherit an imported framework and warm caches) and times:

- ``startup``: from the parent's spawn to the child's ``main()``: the
  interpreter, and the harness's own modules;
- ``import``: rebuilding the request (which imports a loader function's
  module) and ``format.import_framework()``;
- ``read``: reading every byte of the artifact's files, so that the load
  that follows is deserialization, not storage;
- ``load``: ``request.load()``, deserialize and restore;
- ``first_call``: the first inference (tracing, kernel set-up);

then a few more calls of the same inference (``steady``) and a second load
in the same process (``reload``: the load without the framework's first-use
set-up), neither part of the cold time. The cold total is the sum of the five phases, and it matches the wall
time the parent measures from spawn to the end of the first call within
``add_up_tolerance_ms`` (see ``ColdRun.unaccounted_ms``).

``evict=True`` (cold on disk) drops the artifact's pages from the page cache
before each run (``posix_fadvise(DONTNEED)``, best effort) and reports how
much of the artifact was still resident when the child started. Only the
artifact is evicted: the framework's own files stay cached, as on a server
that restarts a worker.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import mmap
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from .child import RESULT_PREFIX, UNPICKLABLE_EXIT, NotReplayable, exit_reason, replay_payload
from .cold_child import COLD_DONE, PHASE_PREFIX
from .diagnose import GraphStats
from .errors import MeasurementError
from .floor import read_fully
from .request import LoadRequest
from .stats import Samples
from .units import format_mib

CHILD_MODULE = "pytest_loadbudget.cold_child"
#: The phases whose sum is the cold time, in the order they happen.
PHASES = ("startup", "import", "read", "load", "first_call")
PHASE_LABELS = {"startup": "start-up", "import": "import", "read": "read", "load": "load", "first_call": "first call"}
DEFAULT_RUNS = 3
#: Calls after the first whose median is the steady call: enough for a
#: median, few enough to cost nothing next to a load.
STEADY_CALLS = 5
#: One reload tells the framework's first-use set-up from the load's own work.
RELOADS = 1
#: As the memory child's default (``--loadbudget-timeout``), per fresh process.
DEFAULT_TIMEOUT_S = 600.0
#: The phases may miss the parent's wall time by the in-child time between
#: phases (the peak reset, building the sample input: a few ms) plus the pipe
#: hand-off of the last phase line to a reader thread, which a loaded machine
#: can delay by a scheduler tick or two.
ADD_UP_TOLERANCE_MS = 20.0
ADD_UP_TOLERANCE_FRACTION = 0.01

#: What the import phase imports, for progress lines.
FRAMEWORKS = {
    "keras": "keras",
    "h5": "keras",
    "savedmodel": "tensorflow",
    "tflite": "tensorflow",
    "tfjs-layers": "tensorflowjs",
    "tfjs-graph": "nothing (a graph model has no Python runtime)",
    "callable": "the loader's module",
}
_DOING = {
    "startup": "starting",
    "import": "importing the framework",
    "read": "reading the artifact",
    "load": "loading",
    "first_call": "in the first call",
    COLD_DONE: "reading its peak memory",
    "steady": "in the steady calls",
    "reload": "loading again",
}


def add_up_tolerance_ms(wall_ms: float) -> float:
    """How far the phases of a run may fall short of its wall time, in ms."""
    return max(ADD_UP_TOLERANCE_MS, ADD_UP_TOLERANCE_FRACTION * wall_ms)


@dataclass
class PageCache:
    """The artifact's bytes in the page cache when a run started.

    ``resident_before``: resident bytes before eviction (before the run when
    nothing was evicted); ``resident_after``: at the child's start. None where
    residency cannot be read (no ``mincore``, or a file this user may not
    write, whose residency Linux hides). ``problem`` says why eviction was not
    tried or failed.
    """

    total_bytes: int
    resident_before: int | None
    resident_after: int | None
    evicted: bool
    problem: str = ""

    @property
    def evicted_fraction(self) -> float | None:
        """Share of what was cached that eviction dropped (1.0 = all of it)."""
        if not self.evicted or self.resident_before is None or self.resident_after is None:
            return None
        if self.resident_before == 0:
            return 1.0 if self.resident_after == 0 else 0.0
        return 1.0 - self.resident_after / self.resident_before

    @property
    def resident_fraction(self) -> float | None:
        """Share of the artifact in the page cache as the child started."""
        if self.resident_after is None or not self.total_bytes:
            return None
        return self.resident_after / self.total_bytes


@dataclass
class ColdRun:
    """One fresh process: phase times in ms, memory in bytes.

    ``first_call_ms`` is None when the request has no warm-up (nothing to
    call). ``wall_ms`` is the parent's own clock from spawn to the end of the
    first call; ``harness_ms`` the in-child time between phases.
    ``peak_bytes``: the high-water mark of read + load + first call above the
    RSS after the import; ``import_rss_bytes``: RSS after the import.
    """

    startup_ms: float
    import_ms: float
    read_ms: float
    load_ms: float
    first_call_ms: float | None
    steady_ms: list[float]
    reload_ms: list[float]
    wall_ms: float
    harness_ms: float
    read_bytes: int
    peak_bytes: int | None
    import_rss_bytes: int | None
    page_cache: PageCache | None = None
    #: Garbage collection inside the import, load and first call phases, in ms.
    gc_ms: dict[str, float] = field(default_factory=dict)

    def phase_ms(self, phase: str) -> float | None:
        value: float | None = getattr(self, f"{phase}_ms")
        return value

    @property
    def total_ms(self) -> float:
        """The cold time: start-up + import + read + load + first call."""
        return sum(self.phase_ms(phase) or 0.0 for phase in PHASES)

    @property
    def unaccounted_ms(self) -> float:
        """Wall time no phase holds; within ``add_up_tolerance_ms(wall_ms)``."""
        return self.wall_ms - self.total_ms

    @property
    def steady_median_ms(self) -> float | None:
        return Samples(self.steady_ms).median if self.steady_ms else None

    @property
    def reload_median_ms(self) -> float | None:
        return Samples(self.reload_ms).median if self.reload_ms else None


@dataclass
class ColdProfile:
    """A model's cold start over several fresh processes."""

    name: str
    format: str
    size_bytes: int
    files: int
    evict: bool
    runs: list[ColdRun] = field(default_factory=list)
    #: ``"vmhwm"`` or ``"unavailable"`` (no resettable high-water mark here).
    peak_method: str = "vmhwm"
    #: Functions, nodes or layers of the artifact (None where not counted).
    graph: GraphStats | None = None

    def phase(self, phase: str) -> Samples:
        """One phase's samples in ms, one per run (none for a first call that never ran)."""
        return Samples([value for run in self.runs if (value := run.phase_ms(phase)) is not None])

    @property
    def total(self) -> Samples:
        return Samples([run.total_ms for run in self.runs])

    @property
    def wall(self) -> Samples:
        return Samples([run.wall_ms for run in self.runs])

    @property
    def steady_call(self) -> Samples:
        """The median steady call of each run, in ms."""
        return Samples([value for run in self.runs if (value := run.steady_median_ms) is not None])

    @property
    def reload(self) -> Samples:
        """The median reload of each run: the load again, framework warm, in ms."""
        return Samples([value for run in self.runs if (value := run.reload_median_ms) is not None])

    def gc(self, phase: str) -> Samples:
        """Garbage collection inside ``phase`` (import, load, first_call), ms per run."""
        return Samples([run.gc_ms[phase] for run in self.runs if phase in run.gc_ms])

    @property
    def peak_bytes(self) -> list[int]:
        """Peak memory of each run above the RSS after the import, in bytes."""
        return [run.peak_bytes for run in self.runs if run.peak_bytes is not None]

    @property
    def dominant_phase(self) -> str:
        """The phase with the largest median."""
        return max(PHASES, key=lambda phase: self.phase(phase).median if self.phase(phase) else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the runs, and each phase summarized (median, min, max, ...)."""
        data = asdict(self)
        data["graph"] = self.graph.to_dict() if self.graph is not None else None
        summaries = {phase: self.phase(phase) for phase in PHASES}
        summaries |= {"total": self.total, "wall": self.wall, "steady_call": self.steady_call, "reload": self.reload}
        data["phases_ms"] = {name: samples.summary() for name, samples in summaries.items() if samples}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColdProfile:
        runs = []
        for run in data.get("runs", []):
            cache = run.get("page_cache")
            runs.append(ColdRun(**{**run, "page_cache": PageCache(**cache) if cache else None}))
        graph = data.get("graph")
        return cls(
            name=data["name"], format=data["format"], size_bytes=data["size_bytes"], files=data["files"],
            evict=data["evict"], runs=runs, peak_method=data.get("peak_method", "vmhwm"),
            graph=GraphStats(**graph) if graph else None,
        )


def measure_cold(
    request: LoadRequest,
    runs: int = DEFAULT_RUNS,
    *,
    evict: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    steady_calls: int = STEADY_CALLS,
    reloads: int = RELOADS,
    graph: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ColdProfile:
    """Load ``request`` in ``runs`` fresh processes, one after the other.

    ``timeout``: seconds each process may take. ``steady_calls``: calls
    after the first to time; ``reloads``: loads after the first, timed with
    the framework warm. ``graph``: count the artifact's functions, nodes or
    layers in the first process. ``progress`` gets a line as each process
    moves on (``"child 2/3: loading..."``).
    Raises NotReplayable when the request cannot travel to a child (a lambda
    loader), MeasurementError naming the model when a child crashes, fails
    to load or times out, and ModelFileError for a broken artifact.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    payload = replay_payload(request)
    files = list(request.extra_files)
    if request.path is not None:
        files += request.format.artifact_files(request.path)
    size = sum(path.stat().st_size for path in files)
    profile = ColdProfile(name=request.name, format=request.format_name, size_bytes=size, files=len(files), evict=evict)
    if not evict and files:
        read_fully(files)  # a warm-cache profile means warm from the first run on
    for index in range(1, runs + 1):
        envelope = pickle.dumps({
            "sys_path": sys.path,
            "request": payload,
            "files": [str(path) for path in files],
            "steady_calls": steady_calls,
            "reloads": reloads,
            "graph": graph and index == 1,
        })
        child = _ChildRun(request, index, runs, timeout, progress, size)
        if files:
            if evict:
                child.say("evicting the artifact from the page cache...")
            cache = evict_files(files) if evict else residency(files)
        else:
            cache = None
        run, extra = child.run(envelope)
        run.page_cache = cache
        profile.runs.append(run)
        if extra.get("graph"):
            profile.graph = GraphStats(**extra["graph"])
        if extra.get("peak_method") == "unavailable":
            profile.peak_method = "unavailable"
    return profile


class _Timeout(Exception):
    pass


class _ChildRun:
    """One fresh process: spawn, feed, follow its phase lines, collect its result."""

    def __init__(
        self, request: LoadRequest, index: int, runs: int, timeout: float,
        progress: Callable[[str], None] | None, size: int,
    ) -> None:
        self.request = request
        self.index = index
        self.runs = runs
        self.timeout = timeout
        self.progress = progress
        self.words = {
            "import": f"importing {FRAMEWORKS.get(request.format_name, 'the framework')}...",
            "read": f"reading {format_mib(size)}..." if size else "no artifact files to read...",
            "load": "loading...",
            "first_call": "first call...",
            "steady": "steady calls...",
            "reload": "loading again, framework warm...",
        }

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(f"child {self.index}/{self.runs}: {text}")

    def run(self, envelope: bytes) -> tuple[ColdRun, dict[str, Any]]:
        self.say("starting python...")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        with tempfile.TemporaryFile() as stderr:
            spawn_ns = time.monotonic_ns()
            process = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
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
                        elif phase in self.words:
                            self.say(self.words[phase])
                    elif line.startswith(RESULT_PREFIX):
                        result = json.loads(line[len(RESULT_PREFIX):])
                returncode = process.wait(timeout=max((deadline - time.monotonic_ns()) / 1e9, 0.001))
            except (_Timeout, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
                raise MeasurementError(
                    f"{self.request.name}: the cold load in a fresh process did not finish in {self.timeout:g} s "
                    f"(it was {_DOING.get(phase, phase)}; raise the timeout if the load is that slow)"
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
            stderr.seek(0)
            error_tail = stderr.read().decode(errors="replace").strip().splitlines()[-12:]
        if returncode == UNPICKLABLE_EXIT:
            raise NotReplayable("\n".join(error_tail[-1:]))
        if result is not None and "error" in result:
            raise MeasurementError(f"{self.request.name}: in a fresh process: {result['error']}")
        if result is None or cold_done_ns is None:
            raise MeasurementError(
                f"{self.request.name}: the fresh process measuring the cold load exited with "
                f"{exit_reason(returncode)} while {_DOING.get(phase, phase)}"
                + ("; its last output:\n  " + "\n  ".join(error_tail) if error_tail else "")
            )
        return _cold_run(result, spawn_ns, cold_done_ns), result


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
    return ColdRun(
        startup_ms=(result["main_ns"] - spawn_ns) / 1e6,
        import_ms=result["import_ns"] / 1e6,
        read_ms=result["read_ns"] / 1e6,
        load_ms=result["load_ns"] / 1e6,
        first_call_ms=_ms(result["first_call_ns"]),
        steady_ms=[ns / 1e6 for ns in result["steady_ns"]],
        reload_ms=[ns / 1e6 for ns in result["reload_ns"]],
        wall_ms=(cold_done_ns - spawn_ns) / 1e6,
        harness_ms=result["harness_ns"] / 1e6,
        read_bytes=result["read_bytes"],
        peak_bytes=result["peak_bytes"],
        import_rss_bytes=result["import_rss_bytes"],
        gc_ms={phase: ns / 1e6 for phase, ns in result["gc_ns"].items()},
    )


# Page cache: residency through mincore(2) on a mapping never touched (so
# mapping it reads nothing), eviction through posix_fadvise(2).

_PAGE = mmap.PAGESIZE


def _libc() -> Any:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    return libc


def resident_bytes(path: Path) -> int | None:
    """Bytes of ``path`` in the page cache now; None where this cannot be read."""
    if not sys.platform.startswith("linux"):
        return None
    stat = path.stat()
    # Since Linux 5.2 mincore shows the page cache of a file only to its owner
    # or a writer; anyone else sees nothing resident, which would read as "evicted".
    if stat.st_uid != os.geteuid() and not os.access(path, os.W_OK):
        return None
    if stat.st_size == 0:
        return 0
    try:
        libc = _libc()
    except (OSError, AttributeError):
        return None
    descriptor = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, stat.st_size, mmap.PROT_READ, mmap.MAP_SHARED, descriptor, 0)
        if address is None or address == ctypes.c_void_p(-1).value:
            return None
        try:
            pages = (stat.st_size + _PAGE - 1) // _PAGE
            vector = (ctypes.c_ubyte * pages)()
            if libc.mincore(address, stat.st_size, vector) != 0:
                return None
            # Only the lowest bit is defined (resident); the others are reserved and zero.
            resident_pages = pages - bytes(vector).count(0)
        finally:
            libc.munmap(address, stat.st_size)
    finally:
        os.close(descriptor)
    return min(resident_pages * _PAGE, stat.st_size)


def _total_resident(files: list[Path]) -> int | None:
    counts = [resident_bytes(path) for path in files]
    return None if any(count is None for count in counts) else sum(count or 0 for count in counts)


def residency(files: list[Path]) -> PageCache:
    """How much of ``files`` is in the page cache, without evicting anything."""
    resident = _total_resident(files)
    total = sum(path.stat().st_size for path in files)
    return PageCache(total_bytes=total, resident_before=resident, resident_after=resident, evicted=False)


def evict_files(files: list[Path]) -> PageCache:
    """Drop ``files`` from the page cache (best effort) and say how much went."""
    total = sum(path.stat().st_size for path in files)
    before = _total_resident(files)
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is None:
        return PageCache(total, before, before, evicted=False, problem="posix_fadvise is not available here")
    problem = ""
    for path in files:
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError as error:
            problem = f"cannot open {path}: {error.strerror}"
            continue
        try:
            try:
                # Dirty pages cannot be dropped: a freshly written artifact must reach the disk first.
                os.fdatasync(descriptor)
            except OSError:
                pass
            fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError as error:
            problem = f"posix_fadvise failed on {path}: {error.strerror}"
        finally:
            os.close(descriptor)
    after = _total_resident(files)
    if not problem and before and after is not None and after >= before:
        problem = "the pages stayed cached (a memory filesystem such as tmpfs cannot drop them)"
    return PageCache(total, before, after, evicted=True, problem=problem)
