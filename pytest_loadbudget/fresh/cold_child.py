"""The fresh interpreter of a cold load: ``python -m pytest_loadbudget.fresh.cold_child``.

The parent (``cold.py``) sends its envelope through ``fresh.protocol``, as
the memory child's parent does, and reads lines back: one ``LOADBUDGET-PHASE <phase>`` line as each
phase starts (progress, and where a crash or a timeout happened), then one
result line with the boundaries of each phase in ``time.monotonic_ns``, a
clock shared by every process on Linux, so that the parent can measure the
start-up from its own clock. After the cold load come the steady calls and
the reloads (the same load again, with the framework warm), which are not
part of the cold time.

Anything the framework or the loader prints to stdout goes to stderr: the
protocol runs on a private copy of the original stdout, so a stray ``print``
without a newline cannot break a result line.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import IO, Any

from pytest_loadbudget.fresh import protocol
from pytest_loadbudget.measure.clock import thread_wait_ns
from pytest_loadbudget.measure.floor import read_fully
from pytest_loadbudget.measure.rss import PeakTracker, current_rss
from pytest_loadbudget.measure.tracing import distortions
from pytest_loadbudget.results.phases import AT_BARRIER, COLD_DONE

PHASE_PREFIX = "LOADBUDGET-PHASE "


def _private_stdout() -> IO[str]:
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return channel


def _announce(channel: IO[str], phase: str) -> None:
    channel.write(PHASE_PREFIX + phase + "\n")
    channel.flush()


class GCClock:
    """Nanoseconds the garbage collector has run since ``start()``.

    Importing a framework creates objects by the million, and the collector
    runs again and again over them: worth telling apart from the import itself.
    """

    def __init__(self) -> None:
        self.total_ns = 0
        self._since = 0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._since = time.perf_counter_ns()
        else:
            self.total_ns += time.perf_counter_ns() - self._since

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


class WaitClock:
    """Run-queue wait of this (the loading) thread at each phase boundary, ns since the process began.

    The thread's counters start at zero when the process is created, so the
    first reading, at ``main()``, is the start-up's wait. A boundary that ends a
    phase is read before the phase's end stamp, one that starts a phase after
    its start stamp: the wait counted lies inside the phase's wall time.
    """

    def __init__(self) -> None:
        self.marks: dict[str, int | None] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = thread_wait_ns()

    def phases(self, first_call: bool) -> dict[str, int] | None:
        """Each phase's wait, ns; None where the system keeps no scheduler statistics."""
        known = {name: value for name, value in self.marks.items() if value is not None}
        if len(known) < len(self.marks):
            return None
        spans = {"import": ("import_start", "import_end"), "read": ("read_start", "read_end"),
                 "load": ("load_start", "load_end")}
        if first_call:
            spans["first_call"] = ("first_start", "first_end")
        return {"startup": known["main"], **{phase: known[end] - known[start] for phase, (start, end) in spans.items()}}

def _measure(
    request: Any, envelope: dict[str, Any], channel: IO[str], import_start: int, gc_clock: GCClock, waits: WaitClock
) -> dict[str, Any]:
    fmt = request.format
    fmt.import_framework()
    waits.mark("import_end")
    import_end = time.monotonic_ns()
    gc_import = gc_clock.total_ns
    rss_after_import = current_rss()
    # Reset the high-water mark here, not at start-up: the peak is the load's, not the framework's.
    tracker = PeakTracker()
    tracker.start()
    _announce(channel, "read")
    read_start = time.monotonic_ns()
    waits.mark("read_start")
    read_bytes = read_fully(Path(name) for name in envelope["files"])
    waits.mark("read_end")
    read_end = time.monotonic_ns()
    _announce(channel, "load")
    gc_load_start = gc_clock.total_ns
    load_start = time.monotonic_ns()
    waits.mark("load_start")
    model = request.load()
    waits.mark("load_end")
    load_end = time.monotonic_ns()
    gc_load_end = gc_clock.total_ns
    warm_up = request.warm_up_call(model)  # builds the sample input: harness time, not the first call's
    first_start = first_end = time.monotonic_ns()
    first_call_ns = None
    gc_first_start = gc_clock.total_ns
    if warm_up is not None:
        _announce(channel, "first_call")
        first_start = time.monotonic_ns()
        waits.mark("first_start")
        warm_up()
        waits.mark("first_end")
        first_end = time.monotonic_ns()
        first_call_ns = first_end - first_start
    gc_cold_end = gc_clock.total_ns
    gc_clock.stop()
    _announce(channel, COLD_DONE)
    # What the cold start imported (read after its end, outside every phase), before the graph count may add more.
    frameworks = protocol.frameworks_imported()
    # VmHWM is exact; the other method, ru_maxrss, is useless here: a child
    # keeps the high-water mark of the process it was forked from across exec.
    peak = tracker.peak_bytes() if tracker.method == "vmhwm" else None
    steady_ns: list[int] = []
    if warm_up is not None and envelope["steady_calls"] > 0:
        _announce(channel, "steady")
        for _ in range(envelope["steady_calls"]):
            start = time.monotonic_ns()
            warm_up()
            steady_ns.append(time.monotonic_ns() - start)
    reload_ns: list[int] = []
    for _ in range(envelope["reloads"]):
        _announce(channel, "reload")
        request.format.release(model)
        # The warm-up closure holds the model too: drop both, never two copies alive.
        model = warm_up = None
        start = time.monotonic_ns()
        model = request.load()
        reload_ns.append(time.monotonic_ns() - start)
    graph = None
    if envelope["graph"] and request.path is not None:
        graph = _graph(request)
    return {
        "import_ns": import_end - import_start,
        "read_ns": read_end - read_start,
        "load_ns": load_end - load_start,
        "first_call_ns": first_call_ns,
        "steady_ns": steady_ns,
        "reload_ns": reload_ns,
        # In-child time between phases (the peak reset, building the sample
        # input, the phase lines): neither phase's, and shown so the sum is honest.
        # Run-queue wait of the loading thread inside each phase (None
        # without schedstat): own time = the phase's wall time less this.
        "wait_ns": waits.phases(first_call_ns is not None),
        "harness_ns": (read_start - import_end) + (load_start - read_end) + (first_start - load_end),
        # Garbage collection inside each phase (ns; import counts from main()).
        "gc_ns": {
            "import": gc_import,
            "load": gc_load_end - gc_load_start,
            "first_call": gc_cold_end - gc_first_start,
        },
        "read_bytes": read_bytes,
        "peak_bytes": peak,
        "peak_method": tracker.method if peak is not None else "unavailable",
        "import_rss_bytes": rss_after_import,
        "frameworks": frameworks,
        "graph": graph,
    }


def _graph(request: Any) -> dict[str, Any] | None:
    # Counted here, where the framework is already imported: in the parent,
    # parsing saved_model.pb would cost a TensorFlow import of its own.
    from pytest_loadbudget.formats.graph_stats import graph_stats

    try:
        stats = graph_stats(request.path, request.format_name)
    except Exception:  # a count is a hint; a model it cannot parse still gets its timings
        return None
    return None if stats is None else stats.to_dict()


def main() -> int:
    main_ns = time.monotonic_ns()
    waits = WaitClock()
    waits.mark("main")
    # What traces this process from its start (a tracer of sitecustomize's, dev mode, a debug allocator):
    # coverage's variables are left out of its environment, the rest is inherited.
    traced = distortions()
    gc_clock = GCClock()
    gc_clock.start()
    channel = _private_stdout()
    envelope = protocol.read_envelope_fields()
    import_start, barrier_wait = main_ns, 0
    if envelope.get("barrier_fd") is not None:
        # One of a fleet: the framework import, the first read of the
        # artifact, starts when every sibling is ready; the wait is no phase's.
        _announce(channel, AT_BARRIER)
        protocol.wait_at_barrier(envelope["barrier_fd"])
        import_start = time.monotonic_ns()
        barrier_wait = import_start - main_ns
        waits.mark("import_start")
    else:
        waits.marks["import_start"] = waits.marks["main"]
    _announce(channel, "import")
    request = protocol.rebuild_request(envelope)
    try:
        result = _measure(request, envelope, channel, import_start, gc_clock, waits)
    except Exception as error:
        result = protocol.error_result(error)
    # The parent times the start-up from its spawn to main(), and the wall time less the barrier's wait.
    result |= {"main_ns": main_ns, "import_start_ns": import_start, "barrier_wait_ns": barrier_wait,
               "traced": traced}
    protocol.write_result(channel, result)
    return 0


if __name__ == "__main__":
    protocol.exit_now(main())
