"""The measurements: load and warm-up timings, size on disk, peak and leaked memory."""

from __future__ import annotations

import contextlib
import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .devices import FrameworkPeak, NVMLSampler, placed, prepare_framework
from .memory import PeakTracker, current_rss, release_free_heap
from .request import LoadRequest
from .stats import Samples

#: With rounds left to adapt: never fewer than this, so the median means something.
MIN_ROUNDS = 5
#: ... and more rounds while the timed work stays under this many seconds.
ADAPTIVE_SECONDS = 2.0
MAX_ROUNDS = 25


@dataclass
class Timings:
    """Milliseconds per round: the load, and the first inference on the loaded model."""

    load_ms: Samples = field(default_factory=Samples)
    warm_ms: Samples = field(default_factory=Samples)
    #: The first load and warm-up, before the rounds and not among them.
    first_load_ms: float | None = None
    first_warm_ms: float | None = None


@dataclass
class MemoryFigures:
    """Resident memory of a load, in bytes.

    ``peak_bytes``: the high-water mark of load plus warm-up above the RSS before it.
    ``rss_after_cycles``: RSS after each load/release cycle (with freed heap
    handed back to the system where the C library allows). ``leak_per_cycle``
    is the median growth between consecutive cycles, and ``leak_bytes`` that
    times the cycles after the first: what keeps growing with every reload,
    not the one-time growth of caches and allocator pools.
    ``where``: ``"fresh process"`` or ``"in-process"`` (a lower bound: freed
    heap of earlier loads is reused).
    """

    #: None where the high-water mark cannot be reset (see ``note``).
    peak_bytes: int | None
    method: str
    where: str
    cycles: int
    rss_after_cycles: list[int] = field(default_factory=list)
    note: str = ""
    #: Device memory of load plus warm-up, one entry per source, NVML first:
    #: {"source": "nvml" | "nvml-device" | "tensorflow" | "torch", "peak_bytes": int}.
    device_memory: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gpu_peak(self) -> dict[str, Any] | None:
        """The device figure budgets apply to: the driver's view where there is one."""
        return self.device_memory[0] if self.device_memory else None

    @property
    def leak_per_cycle(self) -> float | None:
        rss = self.rss_after_cycles
        if len(rss) < 2:
            return None
        return float(statistics.median(after - before for before, after in zip(rss, rss[1:])))

    @property
    def leak_bytes(self) -> int | None:
        per_cycle = self.leak_per_cycle
        return None if per_cycle is None else round(per_cycle * (len(self.rss_after_cycles) - 1))


def time_loads(request: LoadRequest, rounds: int | None) -> tuple[Any, Timings]:
    """Load ``rounds`` times (adaptive when None); return the last, warm model.

    A first load and warm-up comes before the rounds and is not among them.
    Each round is load, then warm-up on that fresh model: the warm-up time is
    the first inference a freshly loaded model pays (tracing, kernel compilation).
    """
    fmt = request.format
    fmt.import_framework()
    prepare_framework(request.format_name, request.device)
    timings = Timings()
    fixed = rounds is not None
    wanted = rounds if rounds is not None else MIN_ROUNDS
    spent = 0.0
    model: Any = None
    index = 0
    # One load and warm-up before the timed rounds, as benchmark tools do: the
    # first load in a process pays one-time costs (lazy imports, registries;
    # 486 and 515 ms against 280 ms for MobileNetV2 .h5 here) that belong to
    # the cold start (cold_ms), and would otherwise blur the rounds.
    with placed(request.format_name, request.device):
        start = time.perf_counter()
        first = request.load()
        timings.first_load_ms = (time.perf_counter() - start) * 1e3
        first_warm_up = request.warm_up_call(first)
        if first_warm_up is not None:
            start = time.perf_counter()
            first_warm_up()
            timings.first_warm_ms = (time.perf_counter() - start) * 1e3
    del first, first_warm_up
    # The young generations only: with TensorFlow imported a full collection
    # takes ~0.4 s (the harness would cost more than a TFLite load), while
    # reference counting frees a dropped model without one.
    gc.collect(1)
    warm_up = None
    while True:
        # Never hold two copies while the next one loads: the warm-up call
        # closes over the previous model too.
        model = warm_up = None
        with placed(request.format_name, request.device):
            start = time.perf_counter()
            model = request.load()
            loaded = time.perf_counter()
            timings.load_ms.values.append((loaded - start) * 1e3)
            warm_up = request.warm_up_call(model)
            if warm_up is not None:
                warm_start = time.perf_counter()
                warm_up()
                timings.warm_ms.values.append((time.perf_counter() - warm_start) * 1e3)
        spent += time.perf_counter() - start
        index += 1
        if index >= wanted and (fixed or spent >= ADAPTIVE_SECONDS or index >= MAX_ROUNDS):
            return model, timings


def reset_framework_state() -> None:
    """What a long-lived process does between reloads: drop Keras's global state."""
    for module_name in ("keras", "tf_keras"):
        module = sys.modules.get(module_name)
        if module is not None:
            module.backend.clear_session()
    gc.collect()


def measure_memory(request: LoadRequest, cycles: int, where: str) -> MemoryFigures:
    """Peak RSS of one load plus warm-up, then RSS after each of ``cycles`` cycles.

    Run in a fresh process (``child.py``) this is the figure users mean; run
    in the test process it is a lower bound, because heap freed by earlier
    loads is reused.
    """
    fmt = request.format
    fmt.import_framework()
    prepare_framework(request.format_name, request.device)
    gc.collect()
    on_gpu = request.device == "gpu"
    sampler = NVMLSampler() if on_gpu else None
    framework_peak = FrameworkPeak()
    if on_gpu:
        framework_peak.reset()
    tracker = PeakTracker()
    tracker.start()
    with placed(request.format_name, request.device), (sampler.sampling() if sampler else contextlib.nullcontext()):
        model = request.load()
        _warm(request, model)
    peak: int | None = tracker.peak_bytes()
    note = ""
    if tracker.method != "vmhwm" and where == "fresh process":
        # A child's ru_maxrss starts at its parent's high-water mark (it is
        # inherited across exec), so it says nothing about this load.
        peak = None
        note = "no peak: this system cannot reset the memory high-water mark (/proc/self/clear_refs)"
    figures = MemoryFigures(peak_bytes=peak, method=tracker.method, where=where, cycles=cycles, note=note)
    if on_gpu:
        for reading in (sampler.result() if sampler else None, framework_peak.read()):
            if reading is not None:
                figures.device_memory.append({"source": reading.source, "peak_bytes": reading.peak_bytes})
    if cycles < 2:
        return figures
    for cycle in range(cycles):
        if cycle > 0:
            with placed(request.format_name, request.device):
                model = request.load()
                _warm(request, model)
        fmt.release(model)
        model = None
        reset_framework_state()
        release_free_heap()
        figures.rss_after_cycles.append(current_rss())
    return figures


def _warm(request: LoadRequest, model: Any) -> None:
    warm_up = request.warm_up_call(model)
    if warm_up is not None:
        warm_up()
