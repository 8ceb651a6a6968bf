"""Loads of the baseline artifact (A) and the candidate (B) in balanced, shuffled AB/BA pairs.

Both sides load in the test process, one after the other within a pair, on
own time: a host's slow spell that lasts longer than a pair slows both sides
alike and cancels in the pair's ratio. Half the pairs run A first, half B
first, in a shuffled order, so that whatever the first load of a pair pays
(a cache the other side warmed, an allocator's state) lands on both sides
equally. Before each load the previous model is collected, outside the
times (as the timed rounds do, ``measure/loads.py``): a collection of the
last model's reference cycles inside the next load was what made the pairs
of sub-second Keras loads vary far more than their medians.

Pairs come in blocks (11, then up to 21, 41, 81, ...): after each block every
figure is judged (``paired/verdict.py``), and more pairs are measured only
while some figure is undecided and the time budget allows another block.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_loadbudget.measure import clock
from pytest_loadbudget.measure.devices import placed, prepare_framework
from pytest_loadbudget.measure.tracing import untraced
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.paired.stats import PairedEstimate, estimate

#: The totals of pairs after each block: an interval that straddles the
#: threshold roughly halves its width with four times the pairs.
BLOCKS = (11, 21, 41, 81, 161, 321, 641, 1281)
#: The paired figures, in the order lines show them.
PAIRED_TIMES = ("ms", "warm_ms")


@dataclass
class Side:
    """One side's own times (wall where own time is not measured), ms, per pair."""

    load: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)


@dataclass
class Pairs:
    """What the pairs measured: each side's times, the order of each pair, the clock, the seconds spent."""

    a: Side = field(default_factory=Side)
    b: Side = field(default_factory=Side)
    orders: list[str] = field(default_factory=list)
    clock: str = "own"
    seconds: float = 0.0
    #: The time budget ran out with a figure still undecided.
    out_of_time: bool = False
    #: What was paused around the pairs ("coverage"), and what still traced them (measure/tracing.py).
    paused: list[str] = field(default_factory=list)
    traced: list[str] = field(default_factory=list)

    def log_ratios(self, figure: str) -> list[float]:
        """log(B / A) of each pair for ``figure`` ("ms" or "warm_ms"); empty where a side lacks it."""
        import math

        a, b = (self.a.load, self.b.load) if figure == "ms" else (self.a.warm, self.b.warm)
        if len(a) != len(b):
            return []
        return [math.log(new / old) for old, new in zip(a, b) if old > 0 and new > 0]

    def estimate(self, figure: str) -> PairedEstimate | None:
        ratios = self.log_ratios(figure)
        return estimate(ratios) if ratios else None


def balanced_orders(count: int, rng: random.Random) -> list[str]:
    """``count`` pair orders, half "AB" and half "BA" (one more of either, at random, when odd), shuffled."""
    orders = ["AB", "BA"] * (count // 2)
    if count % 2:
        orders.append(rng.choice(("AB", "BA")))
    rng.shuffle(orders)
    return orders


def measure_pairs(
    baseline: LoadRequest,
    candidate: LoadRequest,
    *,
    wall_clock: bool,
    seconds: float,
    decided: Callable[[Pairs], bool],
    rng: random.Random | None = None,
    blocks: tuple[int, ...] = BLOCKS,
) -> Pairs:
    """Pairs in blocks until ``decided(pairs)`` says every figure is decided, or ``seconds`` would run out.

    ``wall_clock``: judge wall time (``--loadbudget-clock=wall``); else own
    time where the system measures it. The first block always runs whole;
    another runs only if, at the pace so far, it fits in what is left.
    """
    rng = rng if rng is not None else random.Random()
    pairs = Pairs(clock="wall" if wall_clock else "own")
    for request in (baseline, candidate):
        request.format.import_framework()
        prepare_framework(request.format_name, request.device)
    frozen_by_the_suite = gc.get_freeze_count() > 0
    gc.freeze()
    started = time.perf_counter()
    try:
        # One untimed load and warm-up of each side first: lazy imports and registries are the cold start's.
        for request in (baseline, candidate):
            _load_once(request, None, wall_clock)
        # The warm-up models collected before what they left for good is frozen, as the timed rounds do.
        gc.collect()
        gc.freeze()
        # Coverage set aside around the pairs, as around the timed rounds: a tracer would dilute the ratios.
        _, tracing = untraced(lambda: _run_blocks(baseline, candidate, pairs, wall_clock, seconds, decided, rng,
                                                  blocks, started))
        pairs.paused, pairs.traced = tracing.paused, tracing.traced
    finally:
        if not frozen_by_the_suite:
            gc.unfreeze()
        pairs.seconds = time.perf_counter() - started
    if pairs.clock == "own" and not _own_time_measured():
        pairs.clock = "wall"
    return pairs


def _run_blocks(
    baseline: LoadRequest, candidate: LoadRequest, pairs: Pairs, wall_clock: bool, seconds: float,
    decided: Callable[[Pairs], bool], rng: random.Random, blocks: tuple[int, ...], started: float,
) -> None:
    done = 0
    for total in blocks:
        spent = time.perf_counter() - started
        if done and spent / done * (total - done) > seconds - spent:
            pairs.out_of_time = True
            return
        for order in balanced_orders(total - done, rng):
            first, second = (baseline, candidate) if order == "AB" else (candidate, baseline)
            first_side, second_side = (pairs.a, pairs.b) if order == "AB" else (pairs.b, pairs.a)
            _load_once(first, first_side, wall_clock)
            _load_once(second, second_side, wall_clock)
            pairs.orders.append(order)
        done = total
        if decided(pairs):
            return


def _load_once(request: LoadRequest, side: Side | None, wall_clock: bool) -> None:
    """Load and warm up once; the times go to ``side`` (None: untimed)."""
    model: Any = None
    gc.collect()  # the previous model's reference cycles, outside the times
    with placed(request.format_name, request.device):
        start = clock.stamp()
        model = request.load()
        load_span = clock.span(start, clock.end_stamp())
        warm_up = request.warm_up_call(model)
        warm_span = None
        if warm_up is not None:
            warm_start = clock.stamp()
            warm_up()
            warm_span = clock.span(warm_start, clock.end_stamp())
    del model, warm_up
    if side is None:
        return
    side.load.append(_value(load_span, wall_clock))
    if warm_span is not None:
        side.warm.append(_value(warm_span, wall_clock))


def _value(span: clock.Span, wall_clock: bool) -> float:
    own = span.own_ms
    return span.wall_ms if wall_clock or own is None else own


def _own_time_measured() -> bool:
    return clock.thread_wait_ns() is not None
