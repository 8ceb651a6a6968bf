"""Memory figures of a load: resident peak, growth over reloads, device memory."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


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
    #: Device memory of load plus warm-up, one entry per source, the figure
    #: budgets apply to first (NVML in a fresh process, the allocator in the test process):
    #: {"source": "nvml" | "nvml-device" | "tensorflow" | "torch", "peak_bytes": int}.
    device_memory: list[dict[str, Any]] = field(default_factory=list)
    #: The frameworks and interpreters the fresh process had imported when done
    #: (``fresh.protocol.FRAMEWORK_MODULES``); empty in the test process.
    frameworks: list[str] = field(default_factory=list)

    @property
    def gpu_peak(self) -> dict[str, Any] | None:
        """The device figure budgets apply to (see ``device_memory``)."""
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
