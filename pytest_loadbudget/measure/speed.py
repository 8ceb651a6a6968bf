"""The machine's speed at the moment: a fixed workload timed between the rounds.

A virtual machine's CPU is shared with other machines its guest cannot see:
on a 2-core cloud VM a fixed pure-Python workload took 160 to 340 ms from
one second to the next with nothing else running in the guest, no run-queue
wait and no steal time reported, and whole runs read 10-30% slow or fast.
Own time cannot take that away (the guest believes it ran), so the harness
measures it: after every timed round the same small workload runs, and its
own time, compared with the baseline run's, says how much slower the
machine itself was. The regression gate allows that much more growth, and
says so (``baseline/compare.py``); it never tightens a threshold when the
machine was faster.

Pure Python, as Lighthouse's ``benchmarkIndex`` is plain JavaScript: the
interpreter's speed is what wandered most here (a load's own Python, layer
rebuilding and config parsing, moves with it), and it needs nothing
installed. Stdlib only.

A reading is the fastest of three runs after two untimed ones. A single run
straight after the round read what the round left behind as much as the
machine's speed: after a pure-Python load it took 1.7 ms, after the same
load followed by 25 ms of a loop reading the thread's CPU clock 2.7-3.2 ms,
and after 30 ms asleep 4.1-4.4 ms, where the warmed fastest-of-three read
1.7, 1.7 and 1.8 ms (``benchmarks/speed_gauge.py``). A gauge that slows with
the load's own work or pauses reads a regression as a slower machine and
allows it. That first run is kept beside it all the same (``refill_ms``):
what it reads beyond the warmed runs is the price of refilling caches, which
a neighbour saturating the memory bus raises for every load on the machine
(there a small CNN loaded 15-40% slower at the same warmed speed).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_loadbudget.measure import clock

#: Iterations of the workload: 2-5 ms on a 2.8 GHz Xeon core, long enough to
#: outlast the timer's resolution; its five runs after each round cost a
#: 25-round TFLite model about 0.4 s (15-17 ms a round, measured).
ITERATIONS = 8_000


#: The dict's slots: stores scattered over 64Ki entries (megabytes of objects) reach past the core's own
#: caches, as a load's object graph does. A 1Ki-entry table, held in the core's caches, tracked the
#: machine's slow spells less closely (window medians of a pure-Python load: ratio spread 0.195 against
#: 0.153 with this one).
SLOTS = 65536


def workload(iterations: int = ITERATIONS) -> int:
    """The fixed work: integer arithmetic and scattered dict stores, as an interpreter spends its time."""
    table: dict[int, int] = {}
    for index in range(iterations):
        table[(index * 40503) & (SLOTS - 1)] = (index * 2654435761) & 0xFFFFFFFF
    return len(table)


#: Runs after the first, untimed, then the fastest of the timed ones: a reading of the machine, not of the
#: caches and clock state the round left behind.
WARM_RUNS = 1
TIMED_RUNS = 3


@dataclass(frozen=True)
class SpeedReading:
    """What the workload said after one round, both own time in ms."""

    #: The fastest of ``TIMED_RUNS`` runs after the first and ``WARM_RUNS`` more: the machine's speed.
    speed_ms: float
    #: The first run, straight after the round: it refills the caches the round and the machine's other
    #: tenants left, which a memory-bandwidth neighbour slows where the warmed runs barely notice it.
    refill_ms: float


def run_ms() -> float:
    """One run of the workload, own time in ms (``own_ms``)."""
    return own_ms(workload)


def own_ms(call: Callable[[], object]) -> float:
    """``call``'s own time (wall time less the thread's run-queue wait) where the system keeps it, else wall
    time, in ms: the machine's speed, not its other processes' share of it."""
    start = clock.stamp()
    call()
    span = clock.span(start, clock.end_stamp())
    return span.own_ms if span.own_ms is not None else span.wall_ms


def read() -> SpeedReading:
    """The machine's speed now, and what refilling the caches cost straight after the round."""
    refill = run_ms()
    for _ in range(WARM_RUNS):
        workload()
    return SpeedReading(min(run_ms() for _ in range(TIMED_RUNS)), refill)


#: Where Linux describes the first CPU's caches (``index<N>/level`` and ``size``, e.g. "32768K").
CACHES = Path("/sys/devices/system/cpu/cpu0/cache")
#: The copy's size where the last-level cache's is unknown, and the bounds of it: large enough to pass
#: through the memory bus, small enough to cost a few ms a reading.
STREAM_DEFAULT_BYTES = 32 << 20
STREAM_MIN_BYTES = 16 << 20
STREAM_MAX_BYTES = 64 << 20
#: Timed copies before the first load and after the last round: their median is the run's reading.
STREAM_COPIES = 3


def stream_readings(copies: int = STREAM_COPIES) -> list[float]:
    """Own time (ms) of ``copies`` copies of a buffer the size of the last-level cache into another: the
    memory bus's speed now.

    The warmed speed workload lives in the core's caches and can miss a
    neighbour copying 64 MiB arrays: in ``benchmarks/stream_gauge.py``'s
    four phase pairs where the host's speed held (the workload within 3%),
    such a neighbour slowed a small CNN's load 1.04-1.13x; these copies read
    1.10-1.23x, the workload's first run after each round 1.06-1.16x.
    Taken before the first load and after the last round, not between
    rounds: a copy that flushes the last-level cache before a round would
    slow small loads that find their data there, and make their rounds
    incomparable with runs saved without it. Anonymous mappings, not Python
    objects: freeing a buffer of up to 32 MiB from malloc raises glibc's
    dynamic mmap threshold to its size, and with it changes where the load's
    own allocations come from.
    """
    size = _stream_bytes()
    try:
        source, target = mmap.mmap(-1, size), mmap.mmap(-1, size)
    except (OSError, MemoryError, ValueError):
        return []  # no room for the copies (a memory limit): no reading, and no allowance from it
    try:
        # A byte in every page: untouched pages all map the kernel's one zero page, which a copy reads
        # from the cache. Faulted in here, outside the timed copies, without a buffer-sized object.
        for offset in range(0, size, mmap.PAGESIZE):
            source[offset] = 1
        target[:] = source

        def copy() -> None:
            target[:] = source

        return [own_ms(copy) for _ in range(copies)]
    finally:
        source.close()
        target.close()


def _stream_bytes() -> int:
    """The last-level cache's size, kept within the bounds: source and target together twice as large."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    try:
        levels = []
        for index in CACHES.glob("index*"):
            size = (index / "size").read_text().strip()
            bytes_ = int(size[:-1]) * units[size[-1]] if size[-1:] in units else int(size)
            levels.append((int((index / "level").read_text()), bytes_))
    except (OSError, ValueError):
        return STREAM_DEFAULT_BYTES
    if not levels:
        return STREAM_DEFAULT_BYTES
    _, last_level = max(levels)
    return min(max(last_level, STREAM_MIN_BYTES), STREAM_MAX_BYTES)
