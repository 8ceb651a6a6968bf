"""The extra work an injected time regression adds to a load, in one place.

Used by ``sitecustomize`` (around every format's load, in every process the
plugin runs) and by the suites ``benchmarks/trustworthiness.py`` generates
(around their own loader functions and the loads pytest-benchmark times), so
that both tools judge the very same slowdown. Off unless set:

- LOADBUDGET_INJECT_CPU=1.2: the load does 20% more CPU work: after it, the
  calling thread spins until its own CPU time has advanced by 0.2x the load's
  wall time. Under contention the spin itself waits for a CPU, as real work
  would; on an idle machine the load takes 1.2x as long.
- LOADBUDGET_INJECT_SLOWDOWN=1.5: the load takes 1.5x as long without using a
  CPU (it sleeps half its duration again): an I/O-like slowdown, where only
  wall time grows.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _factor(variable: str) -> float:
    return float(os.environ.get(variable, "1") or 1)


#: Read once at start-up: a scenario sets them for the whole process.
CPU_FACTOR = _factor("LOADBUDGET_INJECT_CPU")
SLEEP_FACTOR = _factor("LOADBUDGET_INJECT_SLOWDOWN")
ACTIVE = CPU_FACTOR != 1 or SLEEP_FACTOR != 1


def extra_work(load_seconds: float) -> None:
    """Add the injected work for a load that took ``load_seconds`` of wall time."""
    if CPU_FACTOR > 1:
        # Thread CPU time, not wall time: the spin is CPU work that a busy
        # machine slows down, not a fixed delay that contention would hide.
        # Arithmetic between the clock's readings: a loop of nothing but
        # clock reads (a system call each) left the machine's speed gauge
        # reading 1.3x slower afterwards, unlike more of a load's own work.
        until = time.thread_time() + load_seconds * (CPU_FACTOR - 1)
        value = 0
        while time.thread_time() < until:
            for step in range(1000):
                value = (value * 31 + step) & 0xFFFF
    if SLEEP_FACTOR > 1:
        time.sleep(load_seconds * (SLEEP_FACTOR - 1))


def injected(load: F) -> F:
    """``load`` with the injected work after every call (``load`` itself when nothing is injected)."""
    if not ACTIVE:
        return load

    @functools.wraps(load)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = load(*args, **kwargs)
        extra_work(time.perf_counter() - start)
        return result

    return wrapper  # type: ignore[return-value]
