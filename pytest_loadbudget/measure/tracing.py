"""What distorts a time while it is measured, and coverage paused around the timed rounds.

A trace function (``sys.settrace``, what coverage and debuggers install) runs
Python code at every line and call of the thread it traces; a profile function
at every call. Keras deserializes a model in Python: under ``pytest --cov=.``
a MobileNetV2 ``.keras`` load read 1.5-2.1x slower (``benchmarks/coverage_overhead.py``),
while a ``.tflite`` load, C++ throughout, did not move. Dev mode (``-X dev``)
and the debug allocators (``PYTHONMALLOC=debug``) check every allocation;
``tracemalloc`` records each one.

Coverage is paused around the timed rounds (``untraced``) and resumed after:
the first load, which comes before them, runs covered, so every line a load
runs is still in the coverage data. Anything else that traces the measuring
thread (a debugger, a profiler, a tracer of the suite's own) is left alone and
named: its figures are "traced", shown so, and never judged against untraced
ones. Stdlib only, as ``measure/clock.py``: the fresh processes import it at
their start-up.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

#: ``PYTHONMALLOC`` values that install the debug hooks on Python's allocators.
DEBUG_ALLOCATORS = ("debug", "malloc_debug", "pymalloc_debug", "mimalloc_debug")
#: The name coverage's ``sys.monitoring`` core registers its tool under (Python 3.12+).
COVERAGE_TOOL = "coverage.py"
#: ``sys.monitoring`` tool ids: 0-5 (``sys.monitoring.DEBUGGER_ID`` ... ``OPTIMIZER_ID``).
MONITORING_TOOL_IDS = range(6)
#: What starts coverage in a new Python process: coverage's own subprocess support (its ``.pth`` file
#: reads ``COVERAGE_PROCESS_START`` or, with ``[run] patch = subprocess``, ``COVERAGE_PROCESS_CONFIG``)
#: and pytest-cov's before 7 (its ``.pth`` file reads the ``COV_CORE_*`` variables). Left out of the
#: fresh processes' environment: coverage there would trace the cold start from the interpreter's
#: start-up on, and the children end through ``os._exit``, which writes no coverage data without
#: coverage's ``patch = _exit``; the lines their loads run are covered by the test process's first load.
COVERAGE_START_VARIABLES = (
    "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG",
    "COV_CORE_SOURCE", "COV_CORE_CONFIG", "COV_CORE_DATAFILE", "COV_CORE_BRANCH", "COV_CORE_CONTEXT",
)
#: What ``Tracing.paused`` says of coverage.
COVERAGE_PAUSED = "coverage"


@dataclass
class Tracing:
    """What ran alongside the timed code: ``paused`` names what was paused around it and resumed after
    ("coverage"); ``traced`` what still traced or slowed it, in words ("a trace function (conftest.trace)"),
    empty where nothing did."""

    paused: list[str] = field(default_factory=list)
    traced: list[str] = field(default_factory=list)


def distortions() -> list[str]:
    """What would slow Python code run in this thread now, in words, one entry each; [] where nothing.

    A trace or profile function of this thread, or one ``threading`` hands to
    every new thread; a ``sys.monitoring`` tool (Python 3.12+); dev mode; a
    debug allocator; ``tracemalloc``; a debug build of Python.
    """
    found: list[str] = []
    trace = sys.gettrace()
    if trace is not None:
        found.append(f"a trace function ({describe(trace)})")
    profile = sys.getprofile()
    if profile is not None:
        found.append(f"a profile function ({describe(profile)})")
    # threading's hooks (3.10+ can read them back) are set in each thread it starts, as the load may.
    thread_trace = getattr(threading, "gettrace", lambda: None)()
    if thread_trace is not None and thread_trace is not trace:
        found.append(f"a trace function for new threads ({describe(thread_trace)})")
    thread_profile = getattr(threading, "getprofile", lambda: None)()
    if thread_profile is not None and thread_profile is not profile:
        found.append(f"a profile function for new threads ({describe(thread_profile)})")
    for tool_id, name in monitoring_tools().items():
        found.append(f"sys.monitoring tool {tool_id} ({name})")
    if sys.flags.dev_mode:
        found.append("Python's development mode (-X dev or PYTHONDEVMODE)")
    allocator = os.environ.get("PYTHONMALLOC", "")
    if allocator in DEBUG_ALLOCATORS and not sys.flags.dev_mode:  # dev mode installs them itself
        found.append(f"a debug memory allocator (PYTHONMALLOC={allocator})")
    tracemalloc = sys.modules.get("tracemalloc")
    if tracemalloc is not None and tracemalloc.is_tracing():
        found.append("tracemalloc, which records every allocation")
    if hasattr(sys, "gettotalrefcount"):
        found.append("a debug build of Python")
    return found


def joined(known: list[str], found: list[str]) -> list[str]:
    """``known`` with what ``found`` adds, each once, in order: a new list."""
    return known + [what for what in dict.fromkeys(found) if what not in known]


def describe(hook: Any) -> str:
    """A trace or profile function in words: ``conftest.trace``, ``bdb.Bdb.trace_dispatch``,
    ``cProfile.Profile``; coverage's tracer as ``coverage 7.6.1 (CTracer)``."""
    owner = getattr(hook, "__self__", hook)  # a bound method's object, or the callable itself
    module = getattr(hook, "__module__", None) or type(owner).__module__
    name = getattr(hook, "__qualname__", None) or type(owner).__qualname__
    if _is_coverage(hook):
        version = getattr(sys.modules.get("coverage"), "__version__", "")
        return f"coverage{f' {version}' if version else ''} ({type(owner).__name__})"
    return f"{module}.{name}"


def monitoring_tools() -> dict[int, str]:
    """The ``sys.monitoring`` tools registered now, by id (Python 3.12+; {} before)."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return {}
    tools = {tool_id: monitoring.get_tool(tool_id) for tool_id in MONITORING_TOOL_IDS}
    return {tool_id: str(name) for tool_id, name in tools.items() if name is not None}


def running_coverage() -> Any | None:
    """Coverage's instance that is collecting now (``coverage.Coverage.current()``), or None.

    Coverage is never imported here: a process that has not imported it runs none.
    """
    coverage = sys.modules.get("coverage")
    current = getattr(getattr(coverage, "Coverage", None), "current", None)
    return current() if current is not None else None


def untraced(function: Callable[[], T]) -> tuple[T, Tracing]:
    """``function()`` with coverage paused in this thread, resumed after; its result, and what still traced it.

    With coverage's trace-function cores (its C and Python tracers: Python up
    to 3.11 always, 3.12+ by default) this thread's tracer is set aside with
    ``sys.settrace(None)``, and ``threading``'s hook with it (it would trace the
    threads the load starts), then handed back: coverage's tracers are written
    to be given back to ``sys.settrace`` (each frame's ``f_trace`` is the
    tracer), so the lines the frames on the stack run afterwards (the test's
    own, after ``load_model``) are still recorded. Both happen in this
    function's own frame, around the call: the Python tracer keeps a stack of
    the calls it saw, and a helper (or a ``with`` block's ``__enter__``) that set
    it aside would be a call whose return it never sees: every line after the
    pause then went to the wrong frame, and the test's lines after the load
    were missing from the data. ``Coverage.stop()`` and ``start()`` pause it
    too, but the new tracer that ``start()`` installs knows none of the frames
    on the stack: their lines after the pause went missing with either tracer
    (coverage 7.18). Other threads keep their tracers. With the
    ``sys.monitoring`` core (3.12+) there is no trace function and no stack:
    coverage's collector is paused and resumed, which sets its events again on
    the code it traced; where it has none, ``stop()`` and ``start()``.
    """
    coverage = running_coverage()
    trace = sys.gettrace() if coverage is not None else None
    if trace is not None and _is_coverage(trace):
        thread_trace = _set_aside_thread_trace()
        sys.settrace(None)
        try:
            seen = Tracing(paused=[COVERAGE_PAUSED], traced=distortions())
            result = function()
        finally:
            sys.settrace(trace)
            if thread_trace is not None:
                threading.settrace(thread_trace)
        return result, seen
    if coverage is not None and COVERAGE_TOOL in monitoring_tools().values():
        collector = _Collector(coverage)
        collector.pause()
        try:
            seen = Tracing(paused=[COVERAGE_PAUSED], traced=distortions())
            result = function()
        finally:
            collector.resume()
        return result, seen
    # No coverage, or collecting but not in this thread (another thread started it; a test marked no_cover).
    seen = Tracing(traced=distortions())
    return function(), seen


def _set_aside_thread_trace() -> Any:
    """Coverage's hook for new threads, unset; None where ``threading`` hands them none of coverage's."""
    thread_trace = getattr(threading, "gettrace", lambda: None)()
    if thread_trace is None or not _is_coverage(thread_trace):
        return None
    threading.settrace(None)
    return thread_trace


class _Collector:
    """Coverage's collector paused and resumed (its ``sys.monitoring`` core), else coverage stopped and started."""

    def __init__(self, coverage: Any) -> None:
        self.coverage = coverage
        collector = getattr(coverage, "_collector", None)
        self.collector = collector if hasattr(collector, "pause") and hasattr(collector, "resume") else None

    def pause(self) -> None:
        if self.collector is not None:
            self.collector.pause()
        else:
            self.coverage.stop()

    def resume(self) -> None:
        if self.collector is not None:
            self.collector.resume()
        else:
            self.coverage.start()


def _is_coverage(hook: Any) -> bool:
    """Whether ``hook`` is coverage's tracer: a ``CTracer``, or a ``PyTracer``'s bound method."""
    owner = getattr(hook, "__self__", hook)
    return type(owner).__module__.split(".")[0] == "coverage"
