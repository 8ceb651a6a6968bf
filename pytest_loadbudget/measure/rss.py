"""Resident memory of this process: current size and a resettable high-water mark.

On Linux the kernel keeps VmHWM, the peak resident set size, and writing ``5``
to /proc/self/clear_refs resets it to the current RSS. Reset, load, read VmHWM
is then the peak of that load alone, at no cost to the load. Elsewhere the
high-water mark (``ru_maxrss``) cannot be reset; a peak read from it only counts
what rose above every earlier peak of the process, which is why the plugin takes
peaks in a fresh child process. Native Windows has neither /proc nor the POSIX
``resource`` module: memory is not measured there, and the figures say so
(``unavailable_reason``). ``resource`` is imported where it is used, never at
import: a missing module must not break the plugin's entry point.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: This process in procfs (Linux): VmRSS, VmHWM and the high-water mark's reset.
_PROC_SELF = Path("/proc/self")
#: Written to reset the high-water mark; relative to ``_PROC_SELF`` (a test points it elsewhere).
_CLEAR_REFS = "clear_refs"


def _resource() -> Any:
    try:
        import resource
    except ImportError:  # native Windows
        return None
    return resource


def _status_kib(field: str) -> int | None:
    try:
        text = (_PROC_SELF / "status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def unavailable_reason() -> str:
    """Why resident memory cannot be read in this process, or "" where it can."""
    if _status_kib("VmRSS") is not None or _resource() is not None:
        return ""
    return f"not measured on this platform ({sys.platform}: no /proc and no getrusage to read resident memory)"


def current_rss() -> int | None:
    """Resident set size of this process now, in bytes; None where it cannot be read."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    return _maxrss_bytes()  # no /proc: the high-water mark is the best bound left


def _maxrss_bytes() -> int | None:
    resource = _resource()
    if resource is None:
        return None
    maxrss: int = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, Linux and the BSDs KiB.
    return maxrss if sys.platform == "darwin" else maxrss * 1024


@dataclass
class PeakTracker:
    """Peak RSS above the RSS at ``start()``, in bytes.

    ``method`` says how the peak was read: ``"vmhwm"`` (exact, Linux),
    ``"ru_maxrss"`` (counts only what rose above the process's earlier
    peaks) or ``"unavailable"`` (no way to read resident memory here).
    """

    method: str = "vmhwm"
    _start_rss: int = 0

    def start(self) -> None:
        start_rss = current_rss()
        if start_rss is None:
            self.method = "unavailable"
            return
        self._start_rss = start_rss
        try:
            (_PROC_SELF / _CLEAR_REFS).write_text("5")
        except OSError:
            self.method = "ru_maxrss"
        else:
            self.method = "vmhwm"

    def peak_bytes(self) -> int | None:
        """The peak since ``start()``; None where resident memory cannot be read."""
        if self.method == "vmhwm":
            hwm_kib = _status_kib("VmHWM")
            if hwm_kib is not None:
                return max(hwm_kib * 1024 - self._start_rss, 0)
        maxrss = _maxrss_bytes()
        return None if maxrss is None else max(maxrss - self._start_rss, 0)


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
