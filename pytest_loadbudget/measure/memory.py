"""Peak and leaked memory of a load: one load plus warm-up, then load/release cycles.

Run in a fresh process (``fresh/memory_child.py``) this is the figure users
mean; run in the test process it is a lower bound.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from typing import Any

from pytest_loadbudget.measure.devices import FrameworkPeak, NVMLSampler, placed, prepare_framework
from pytest_loadbudget.measure.rss import PeakTracker, current_rss, release_free_heap, unavailable_reason
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.memory import MemoryFigures


def reset_framework_state() -> None:
    """What a long-lived process does between reloads: drop Keras's global state."""
    for module_name in ("keras", "tf_keras"):
        module = sys.modules.get(module_name)
        if module is not None:
            module.backend.clear_session()
    gc.collect()


def measure_memory(request: LoadRequest, cycles: int, where: str) -> MemoryFigures:
    """Peak RSS of one load plus warm-up, then RSS after each of ``cycles`` cycles.

    Run in a fresh process (``fresh/memory_child.py``) this is the figure
    users mean; run in the test process it is a lower bound, because heap
    freed by earlier loads is reused. Where resident memory cannot be read
    (native Windows) the load still runs, for the device memory, and
    ``note`` says why there is no peak and no cycles.
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
    peak = tracker.peak_bytes()
    note = unavailable_reason() if tracker.method == "unavailable" else ""
    if tracker.method == "ru_maxrss" and where == "fresh process":
        # A child's ru_maxrss starts at its parent's high-water mark (it is
        # inherited across exec), so it says nothing about this load.
        peak = None
        note = "no peak: this system cannot reset the memory high-water mark (/proc/self/clear_refs)"
    figures = MemoryFigures(peak_bytes=peak, method=tracker.method, where=where, cycles=cycles, note=note)
    if on_gpu:
        driver, framework = sampler.result() if sampler else None, framework_peak.read()
        # In a fresh process the driver's view is the whole cost (context, weights,
        # workspace). In the test process the allocators' caches already hold
        # the memory of earlier rounds, so the driver sees no growth: the
        # allocator's own peak comes first there.
        readings = (driver, framework) if where == "fresh process" else (framework, driver)
        for reading in readings:
            if reading is not None:
                figures.device_memory.append({"source": reading.source, "peak_bytes": reading.peak_bytes})
    if cycles < 2 or tracker.method == "unavailable":
        return figures  # without a way to read RSS the cycles would measure nothing
    for cycle in range(cycles):
        if cycle > 0:
            with placed(request.format_name, request.device):
                model = request.load()
                _warm(request, model)
        fmt.release(model)
        model = None
        reset_framework_state()
        release_free_heap()
        rss = current_rss()
        if rss is not None:
            figures.rss_after_cycles.append(rss)
    return figures


def _warm(request: LoadRequest, model: Any) -> None:
    warm_up = request.warm_up_call(model)
    if warm_up is not None:
        warm_up()
