"""The page cache: how much of an artifact is cached, and dropping it for a cold-disk start.

Residency through mincore(2) on a mapping never touched (so mapping it reads
nothing), eviction through posix_fadvise(2). The kernel drops neither the
pages of a memory file system (tmpfs) nor those a process has mapped (a
model the test process itself loaded: TFLite maps its file), so an eviction
that left the pages says which of the two kept them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import re
import sys
from pathlib import Path
from typing import Any

from pytest_loadbudget.results.cold_profile import PageCache

_PAGE = mmap.PAGESIZE
#: File systems whose file pages live in memory only.
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"})
#: How /proc/self/mountinfo writes a space (\040) and /proc/self/maps a newline (\012) in a path.
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


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
        problem = f"the pages stayed cached ({_why_kept(files)})"
    return PageCache(total, before, after, evicted=True, problem=problem)


def _why_kept(files: list[Path]) -> str:
    """Why the kernel kept pages it was asked to drop: a mapping in this process, a memory file system."""
    mapped = mapped_here(files)
    if mapped:
        return (f"{mapped[0]} is mapped by this process (a model loaded in it, such as a TFLite interpreter, "
                "keeps its file mapped) and the kernel keeps mapped pages")
    if any(filesystem_type(path) in MEMORY_FILESYSTEMS for path in files):
        return "a memory filesystem such as tmpfs cannot drop them"
    return "the kernel kept them: another process may have the file mapped"


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def mapped_here(files: list[Path]) -> list[Path]:
    """Those of ``files`` that this process has mapped (``/proc/self/maps``); none where it cannot be read."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    # address perms offset device inode path: the path is the sixth field, and may hold spaces.
    mapped = {_unescape(fields[5]) for line in lines if len(fields := line.split(maxsplit=5)) == 6}
    return [path for path in files if os.path.realpath(path) in mapped]


def filesystem_type(path: Path) -> str | None:
    """The type of the file system holding ``path``, from ``/proc/self/mountinfo``; None where unknown."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    found, longest = None, -1
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        mount_point = _unescape(fields[4])
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= longest:  # a later mount on the same point hides the earlier
            found, longest = fields[fields.index("-") + 1], len(mount_point)
    return found
