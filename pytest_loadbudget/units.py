"""One place for the units every figure is printed in.

Sizes and memory are MiB (2**20 bytes) everywhere, on disk and in RAM, so
that a size budget and a memory budget read the same way as ``du -m`` and
``/proc/<pid>/status``.
"""

from __future__ import annotations

MIB = 1 << 20


def format_mib(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "-"
    value = num_bytes / MIB
    if abs(value) >= 100:
        return f"{value:.0f} MiB"
    if abs(value) >= 10:
        return f"{value:.1f} MiB"
    if abs(value) >= 1 or value == 0:
        return f"{value:.2f} MiB"
    return f"{value:.3g} MiB"  # a small model is not "0.00 MiB"


def compact_ms(milliseconds: float) -> str:
    """Milliseconds without the unit, with the decimals that matter at that size."""
    if milliseconds >= 100:
        return f"{milliseconds:.0f}"
    if milliseconds >= 10:
        return f"{milliseconds:.1f}"
    return f"{milliseconds:.2f}"


def format_ms(milliseconds: float | None) -> str:
    return "-" if milliseconds is None else f"{compact_ms(milliseconds)} ms"


def format_number(value: float) -> str:
    """A budget as the user wrote it: ``500`` not ``500.0``."""
    return f"{value:g}"
