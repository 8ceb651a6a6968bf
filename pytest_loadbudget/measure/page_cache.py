"""The page cache: how much of an artifact is cached, and dropping it for a cold-disk start.

Residency through mincore(2) on a mapping never touched (so mapping it reads
nothing), eviction through posix_fadvise(2).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import sys
from pathlib import Path
from typing import Any

from pytest_loadbudget.results.cold_profile import PageCache

_PAGE = mmap.PAGESIZE


def _libc() -> Any:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    return libc


def resident_bytes(path: Path) -> int | None:
    """Bytes of ``path`` in the page cache now; None where this cannot be read."""
    if not sys.platform.startswith("linux"):
        return None
    stat = path.stat()
    # Since Linux 5.2 mincore shows the page cache of a file only to its owner
    # or a writer; anyone else sees nothing resident, which would read as "evicted".
    if stat.st_uid != os.geteuid() and not os.access(path, os.W_OK):
        return None
    if stat.st_size == 0:
        return 0
    try:
        libc = _libc()
    except (OSError, AttributeError):
        return None
    descriptor = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, stat.st_size, mmap.PROT_READ, mmap.MAP_SHARED, descriptor, 0)
        if address is None or address == ctypes.c_void_p(-1).value:
            return None
        try:
            pages = (stat.st_size + _PAGE - 1) // _PAGE
            vector = (ctypes.c_ubyte * pages)()
            if libc.mincore(address, stat.st_size, vector) != 0:
                return None
            # Only the lowest bit is defined (resident); the others are reserved and zero.
            resident_pages = pages - bytes(vector).count(0)
        finally:
            libc.munmap(address, stat.st_size)
    finally:
        os.close(descriptor)
    return min(resident_pages * _PAGE, stat.st_size)


def _total_resident(files: list[Path]) -> int | None:
    counts = [resident_bytes(path) for path in files]
    return None if any(count is None for count in counts) else sum(count or 0 for count in counts)


def residency(files: list[Path]) -> PageCache:
    """How much of ``files`` is in the page cache, without evicting anything."""
    resident = _total_resident(files)
    total = sum(path.stat().st_size for path in files)
    return PageCache(total_bytes=total, resident_before=resident, resident_after=resident, evicted=False)


def evict_files(files: list[Path]) -> PageCache:
    """Drop ``files`` from the page cache (best effort) and say how much went."""
    total = sum(path.stat().st_size for path in files)
    before = _total_resident(files)
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is None:
        return PageCache(total, before, before, evicted=False, problem="posix_fadvise is not available here")
    problem = ""
    for path in files:
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError as error:
            problem = f"cannot open {path}: {error.strerror}"
            continue
        try:
            try:
                # Dirty pages cannot be dropped: a freshly written artifact must reach the disk first.
                os.fdatasync(descriptor)
            except OSError:
                pass
            fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError as error:
            problem = f"posix_fadvise failed on {path}: {error.strerror}"
        finally:
            os.close(descriptor)
    after = _total_resident(files)
    if not problem and before and after is not None and after >= before:
        problem = "the pages stayed cached (a memory filesystem such as tmpfs cannot drop them)"
    return PageCache(total, before, after, evicted=True, problem=problem)
