"""The floor of a load: how long merely reading its bytes takes on this machine.

A load cannot be faster than reading the artifact, so ``load_ms / floor_ms``
("x floor") says how much of a load is work beyond the bytes: deserializing,
rebuilding layers, instantiating functions. A 100 MB model whose bytes read
in 15 ms and that loads in 450 ms is 30x its floor; at 2x the size is the cost,
at 30x the graph is.

The bandwidth is measured once per process (``read_bandwidth`` is cached):
a temporary file is written and read back hot, best of a few reads, with the
same reads as the cold child's read phase so that the two compare.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_loadbudget.units import MIB

#: Big enough that per-call overhead vanishes and the read outlasts timer
#: resolution many times over; small enough to write in well under a second.
PROBE_BYTES = 64 * MIB
#: Best of this many hot reads: the fastest read is the one the machine's
#: other work disturbed least, and that is the floor.
PROBE_READS = 5
#: Reads go through one buffer of this size: a large buffer makes fewer system
#: calls, and reusing it keeps the read from adding to the peak memory.
CHUNK_BYTES = 1 * MIB


def read_fully(paths: Iterable[Path], buffer: bytearray | None = None) -> int:
    """Read every byte of ``paths`` and discard it; returns the bytes read.

    This is the read phase of a cold load and the read of the bandwidth
    probe: the same unbuffered ``readinto`` so that the figures compare.
    """
    total = 0
    view: memoryview | None = None if buffer is None else memoryview(buffer)
    for path in paths:
        if view is None:
            view = memoryview(bytearray(CHUNK_BYTES))  # on first need: no files, no buffer
        with open(path, "rb", buffering=0) as stream:
            while True:
                count = stream.readinto(view)
                if not count:
                    break
                total += count
    return total


@dataclass(frozen=True)
class Bandwidth:
    """Hot read bandwidth of this machine: bytes per second from the page cache."""

    bytes_per_s: float
    probe_bytes: int
    reads: int
    directory: str

    def floor_ms(self, num_bytes: float) -> float:
        """Milliseconds that reading ``num_bytes`` takes at this bandwidth."""
        return num_bytes / self.bytes_per_s * 1e3

    def describe(self) -> str:
        return f"{self.bytes_per_s / MIB / 1024:.1f} GiB/s"


@functools.cache
def read_bandwidth(directory: str | None = None) -> Bandwidth:
    """This machine's hot read bandwidth, measured on first call, then cached.

    ``directory``: where the probe file goes (default: the temp directory).
    Raises OSError when the probe file cannot be written.
    """
    where = directory or tempfile.gettempdir()
    block = os.urandom(CHUNK_BYTES)  # random so that a compressing filesystem cannot shrink the probe
    handle, name = tempfile.mkstemp(prefix="loadbudget-floor-", dir=where)
    try:
        with os.fdopen(handle, "wb") as stream:
            for _ in range(PROBE_BYTES // CHUNK_BYTES):
                stream.write(block)
        buffer = bytearray(CHUNK_BYTES)
        probe = [Path(name)]
        read_fully(probe, buffer)  # the write left it in the page cache; this makes sure every page is
        best = float("inf")
        for _ in range(PROBE_READS):
            start = time.perf_counter()
            read_fully(probe, buffer)
            best = min(best, time.perf_counter() - start)
    finally:
        os.unlink(name)
    return Bandwidth(bytes_per_s=PROBE_BYTES / best, probe_bytes=PROBE_BYTES, reads=PROBE_READS, directory=where)


def bandwidth_or_none() -> Bandwidth | None:
    """The read bandwidth, or None where the probe file cannot be written: a report goes on without it."""
    try:
        return read_bandwidth()
    except OSError:
        return None


def floor_ms(num_bytes: float, bandwidth: Bandwidth | None = None) -> float:
    """Milliseconds to read ``num_bytes`` hot on this machine."""
    return (bandwidth or read_bandwidth()).floor_ms(num_bytes)


def times_floor(load_ms: float, num_bytes: float | None, bandwidth: Bandwidth | None = None) -> float | None:
    """``load_ms`` as a multiple of the floor for ``num_bytes`` (None without bytes to read)."""
    if not num_bytes:
        return None
    return load_ms / floor_ms(num_bytes, bandwidth)
