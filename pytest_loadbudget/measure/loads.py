"""Load and warm-up timings in the test process: a first load kept apart, then timed rounds.

Each round records wall time, own time (wall less the loading thread's run-queue wait) and
the process's CPU time: see ``measure/clock.py``; after each, outside its times, a fixed
workload gauges the machine's speed, and before the first load and after the last round, copies
past the last-level cache gauge the memory bus's (``measure/speed.py``). Coverage is paused around the
rounds and the gauges, never around the first load (``measure/tracing.py``).
"""

from __future__ import annotations

import functools
import gc
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_loadbudget.measure import clock, speed
from pytest_loadbudget.measure.clock import Span
from pytest_loadbudget.measure.devices import placed, prepare_framework
from pytest_loadbudget.measure.tracing import Tracing, untraced
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.samples import Samples

#: With rounds left to adapt: never fewer than this, so the median means something.
MIN_ROUNDS = 5
#: ... and more rounds while the timed work stays under this many seconds.
ADAPTIVE_SECONDS = 2.0
MAX_ROUNDS = 25


@dataclass
class Series:
    """One timed figure over the rounds, ms: wall, own (wall less run-queue wait) and process CPU time.

    ``own`` stays empty where the system keeps no scheduler statistics.
    """

    wall: Samples = field(default_factory=Samples)
    own: Samples = field(default_factory=Samples)
    cpu: Samples = field(default_factory=Samples)

    def add(self, span: Span) -> None:
        self.wall.values.append(span.wall_ms)
        self.cpu.values.append(span.cpu_ms)
        if span.own_ms is not None:
            self.own.values.append(span.own_ms)


@dataclass
class Timings:
    """Each round's load, and the first inference on the loaded model."""

    load: Series = field(default_factory=Series)
    warm: Series = field(default_factory=Series)
    #: The first load and warm-up (wall, ms), before the rounds and not among them.
    first_load_ms: float | None = None
    first_warm_ms: float | None = None
    #: The speed workload after each round, own time in ms (``measure/speed.py``): the machine's speed, and
    #: the first run straight after the round.
    speed_ms: Samples = field(default_factory=Samples)
    refill_ms: Samples = field(default_factory=Samples)
    #: Copies past the last-level cache before the first load and after the last round, own time in ms: the
    #: memory bus's speed (``speed.stream_readings``).
    stream_ms: Samples = field(default_factory=Samples)
    #: What was paused around the rounds (coverage), and what still traced them (``measure/tracing.py``).
    tracing: Tracing = field(default_factory=Tracing)

    @property
    def load_ms(self) -> Samples:
        return self.load.wall

    @property
    def warm_ms(self) -> Samples:
        return self.warm.wall


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
    # The memory bus before the first load rather than before the first round: the copies leave the
    # last-level cache flushed, which the untimed first load absorbs.
    readings, _ = untraced(speed.stream_readings)
    timings.stream_ms.values.extend(readings)
    # Collections during the first load and the rounds cover what they create, not the framework's and the
    # test session's objects: a full collection in a MobileNetV2 .h5 round took 570-605 ms over those,
    # 160-200 ms frozen (benchmarks/gc_rounds.py), and the former grows with whatever the session
    # loaded before. gc.freeze() is also what a server does after its imports (the cold-start advice
    # says so). A suite that froze its own objects keeps them frozen: unfreezing would hand them all
    # to the collector again, and what the harness froze cannot be told apart from them.
    frozen_by_the_suite = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        # Covered under ``pytest --cov``: the lines a load runs are in the coverage data from here.
        _first_load(request, timings)
        # What the first load left for good (registries, lazily imported modules) is frozen too; the
        # first model itself was collected just before, outside everything timed.
        gc.freeze()
        # Untraced by coverage, which made a Keras load's rounds 1.5-2.1x slower; what else traces them is named.
        (model, timings), seen = untraced(functools.partial(_timed_rounds, request, timings, rounds))
        timings.tracing = seen
        return model, timings
    finally:
        if not frozen_by_the_suite:
            gc.unfreeze()


def _first_load(request: LoadRequest, timings: Timings) -> None:
    """One load and warm-up before the timed rounds, as benchmark tools do, then the model collected.

    The first load in a process pays one-time costs (lazy imports,
    registries; 486 and 515 ms against 280 ms for MobileNetV2 .h5 here) that
    belong to the cold start (cold_ms), and would otherwise blur the rounds.
    """
    with placed(request.format_name, request.device):
        first_start = time.perf_counter()
        first = request.load()
        timings.first_load_ms = (time.perf_counter() - first_start) * 1e3
        first_warm_up = request.warm_up_call(first)
        if first_warm_up is not None:
            first_start = time.perf_counter()
            first_warm_up()
            timings.first_warm_ms = (time.perf_counter() - first_start) * 1e3
    del first, first_warm_up
    # A Keras model is reference cycles that only a full collection frees once its objects are old: the
    # young generations alone left the first model in memory, frozen, through every round. With the
    # session's objects frozen a full collection walks what the first load made, not TensorFlow's objects
    # (0.4 s with them).
    gc.collect()


def _timed_rounds(request: LoadRequest, timings: Timings, rounds: int | None) -> tuple[Any, Timings]:
    fixed = rounds is not None
    wanted = rounds if rounds is not None else MIN_ROUNDS
    spent = 0.0
    model: Any = None
    index = 0
    warm_up = None
    while True:
        # Never hold two copies while the next one loads: the warm-up call
        # closes over the previous model too.
        model = warm_up = None
        # A dropped Keras model is a graph of reference cycles that only a collection frees: left to the
        # collector, a full collection over the last rounds' models landed in one round of several (80 ms
        # of a 500 ms MobileNetV2 .h5 load), splitting the rounds into two speeds. Collected here, outside
        # the times (the session's objects are frozen: it walks the rounds' leftovers alone), each round
        # pays only the collections its own allocations trigger, as a model loaded once in a server does.
        gc.collect()
        with placed(request.format_name, request.device):
            # Wall, process CPU and this thread's run-queue wait around each
            # timed call: own time is the wall less that wait (measure/clock.py).
            start = clock.stamp()
            model = request.load()
            timings.load.add(clock.span(start, clock.end_stamp()))
            warm_up = request.warm_up_call(model)
            if warm_up is not None:
                warm_start = clock.stamp()
                warm_up()
                timings.warm.add(clock.span(warm_start, clock.end_stamp()))
        spent += (time.perf_counter_ns() - start.wall_ns) / 1e9
        reading = speed.read()  # outside the round's times, and its spent seconds
        timings.speed_ms.values.append(reading.speed_ms)
        timings.refill_ms.values.append(reading.refill_ms)
        index += 1
        if index >= wanted and (fixed or spent >= ADAPTIVE_SECONDS or index >= MAX_ROUNDS):
            timings.stream_ms.values.extend(speed.stream_readings())
            return model, timings


