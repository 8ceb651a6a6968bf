"""Resident memory of this process: current size and a resettable high-water mark.

On Linux the kernel keeps VmHWM, the peak resident set size, and writing ``5``
to /proc/self/clear_refs resets it to the current RSS. Reset, load, read VmHWM
is then the peak of that load alone, at no cost to the load. Elsewhere the
high-water mark (``ru_maxrss``) cannot be reset; a peak read from it only counts
what rose above every earlier peak of the process, which is why the plugin takes
peaks in a fresh child process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def current_rss() -> int:
    """Resident set size of this process now, in bytes."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    return _maxrss_bytes()  # no /proc: the high-water mark is the best bound left


def _maxrss_bytes() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, Linux and the BSDs KiB.
    return maxrss if sys.platform == "darwin" else maxrss * 1024


@dataclass
class PeakTracker:
    """Peak RSS above the RSS at ``start()``, in bytes.

    ``method`` says how the peak was read: ``"vmhwm"`` (exact, Linux) or
    ``"ru_maxrss"`` (counts only what rose above the process's earlier peaks).
    """

    method: str = "vmhwm"
    _start_rss: int = 0

    def start(self) -> None:
        self._start_rss = current_rss()
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            self.method = "ru_maxrss"
        else:
            self.method = "vmhwm"

    def peak_bytes(self) -> int:
        if self.method == "vmhwm":
            hwm_kib = _status_kib("VmHWM")
            if hwm_kib is not None:
                return max(hwm_kib * 1024 - self._start_rss, 0)
        return max(_maxrss_bytes() - self._start_rss, 0)


def release_free_heap() -> bool:
    """Hand freed heap pages back to the system (glibc ``malloc_trim``).

    Without it, RSS after freeing a model keeps the pages the allocator
    retained, which reads as a leak of the first reload. Returns False where
    the C library has no such call.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True
