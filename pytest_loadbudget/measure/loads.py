"""Load and warm-up timings in the test process: a first load kept apart, then timed rounds."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_loadbudget.measure.devices import placed, prepare_framework
from pytest_loadbudget.session.request import LoadRequest
from pytest_loadbudget.results.samples import Samples

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


