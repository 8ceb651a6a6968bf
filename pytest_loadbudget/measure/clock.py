"""Own time: wall time less the time the working thread waited for a CPU.

Linux keeps, per thread, the time spent on a CPU and the time spent
*runnable but waiting on a run queue* (``/proc/thread-self/schedstat``:
``on-CPU ns``, ``run-queue wait ns``, ``timeslices``). Time stolen by other
processes on the machine is that wait; what is left, **own time** = wall -
wait, is what the load costs whoever else runs there. Sleeping, disk reads
and lock waits are not run-queue waits: they stay in own time.

Whose wait: the thread that runs the load (the calling thread). A
multi-threaded restore (a SavedModel's variables, TensorFlow's inter-op pool)
keeps its critical path on that thread: while it blocks on its helpers it
sleeps, and their run-queue waits stay in its own time. So own time is never
below the load's real cost: it may keep some contention, it never takes away
work. The sum over every thread of the process (``process_schedstat``) is
the wrong figure to subtract: helper threads waiting side by side can add up
to more than the wall time (shown by ``benchmarks/contention.py``).

Where schedstat is missing (macOS, Windows, a kernel without
``CONFIG_SCHED_INFO``) the readers return None: own time is not measured and
budgets judge wall time, saying so. Stdlib only: the cold-start child imports
this module during its start-up.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

THREAD_SCHEDSTAT = "/proc/thread-self/schedstat"
#: Waiting for a CPU above this share of the wall time is worth saying (a
#: quiet machine stays under 1%; two busy neighbours on 2 cores made it 37%).
NOTABLE_WAIT = 0.05
TASKS = "/proc/self/task"


class SchedStat(NamedTuple):
    """A thread's (or the sum of a process's threads') scheduler counters, ns since it started."""

    on_cpu_ns: int
    wait_ns: int


def _read(path: str) -> SchedStat | None:
    try:
        with open(path, "rb") as file:
            fields = file.read().split()
        return SchedStat(int(fields[0]), int(fields[1]))
    except (OSError, ValueError, IndexError):
        return None


def thread_schedstat() -> SchedStat | None:
    """The calling thread's counters, or None where the system does not keep them."""
    return _read(THREAD_SCHEDSTAT)


def process_schedstat() -> SchedStat | None:
    """The sum over the process's live threads (a thread that ended takes its counters with it)."""
    try:
        tasks = os.listdir(TASKS)
    except OSError:
        return None
    readings = [stat for task in tasks if (stat := _read(f"{TASKS}/{task}/schedstat")) is not None]
    if not readings:
        return None
    return SchedStat(sum(stat.on_cpu_ns for stat in readings), sum(stat.wait_ns for stat in readings))


def thread_wait_ns() -> int | None:
    """Run-queue wait of the calling thread so far, ns; None without schedstat.

    The one reader every timed round goes through (tests replace it to inject
    contention or its absence).
    """
    stat = thread_schedstat()
    return None if stat is None else stat.wait_ns


class Stamp(NamedTuple):
    """The clocks at one instant: perf_counter, process CPU time and the thread's run-queue wait, ns."""

    wall_ns: int
    cpu_ns: int
    wait_ns: int | None


class Span(NamedTuple):
    """One timed stretch, in ms: wall, the process's CPU time, the thread's run-queue wait."""

    wall_ms: float
    cpu_ms: float
    wait_ms: float | None

    @property
    def own_ms(self) -> float | None:
        """Wall time less the run-queue wait; None where the wait is unknown.

        Never negative, whatever a coarse counter says about a tiny span.
        """
        return None if self.wait_ms is None else max(self.wall_ms - self.wait_ms, 0.0)


def stamp() -> Stamp:
    """Read every clock before the work: the wall first, so that the wait counted lies inside the wall span."""
    wall = time.perf_counter_ns()
    cpu = time.process_time_ns()
    return Stamp(wall, cpu, thread_wait_ns())


def end_stamp() -> Stamp:
    """Read every clock after the work: the wait first, the wall last (the mirror of ``stamp``).

    A wait that fell between two reads is left in own time, never taken
    from it: own time errs towards the wall, not below the load's cost.
    """
    wait = thread_wait_ns()
    cpu = time.process_time_ns()
    return Stamp(time.perf_counter_ns(), cpu, wait)


def span(start: Stamp, end: Stamp) -> Span:
    """The stretch between two stamps; its wait is None unless both stamps read one."""
    wait = None if start.wait_ns is None or end.wait_ns is None else (end.wait_ns - start.wait_ns) / 1e6
    return Span((end.wall_ns - start.wall_ns) / 1e6, (end.cpu_ns - start.cpu_ns) / 1e6, wait)


def waited_share(wall_ms: float, own_ms: float) -> float:
    """The part of ``wall_ms`` spent waiting for a CPU (0..1)."""
    return 0.0 if wall_ms <= 0 else max(wall_ms - own_ms, 0.0) / wall_ms
