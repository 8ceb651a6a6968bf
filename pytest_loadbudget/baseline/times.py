"""The time figures: which samples each one compares, and on which clock.

Timed rounds (load, warm-up) have own time where the system lets the
harness read it (``/proc/thread-self/schedstat``); cold starts have it per
fresh process; a fleet, a browser and a page's main thread have wall time
only. The regression gate and a machine's history read times here alike.
"""

from __future__ import annotations

from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples

#: Timed rounds in the test process or a TF.js runtime: own time, the U test.
TIMED = ("ms", "warm_ms")
#: Figures of a few fresh processes (a fleet's: one per process started at once).
COLD = ("cold_ms", "import_ms", "fleet_ms")
#: A browser's loads: the first with an empty HTTP cache, and the median of the reloads from its cache.
BROWSER = ("first_load_ms", "cached_load_ms")
#: A browser page's longest main-thread task of each round's load and warm-up: the few-rounds rule too.
BLOCK = ("block_ms",)
#: The figures a second measurement confirms or clears: times, which a busy machine moves.
REMEASURED = TIMED + COLD + BROWSER + BLOCK


def time_series(figure: str, record: ModelRecord, clock: str) -> tuple[Samples, str]:
    """The samples of a time figure in ms, in ``clock`` where the record has it, and the clock they are in.

    ``ms``, ``warm_ms``: the timed rounds; ``cold_ms``, ``import_ms``: one per
    fresh process (phases timed inside the child); ``fleet_ms``: the cold
    start of each process of a fleet, wall time; ``first_load_ms``: a
    browser's first load (empty HTTP cache), ``cached_load_ms``: its reloads
    from the cache (none under no-store; from IndexedDB under "indexeddb"),
    ``block_ms``: each round's longest main-thread task of its load and
    warm-up, all wall time, as a page measures.
    Empty samples where the record lacks the figure.
    """
    if figure in TIMED:
        return record.timing(figure, clock)
    if figure == "fleet_ms":
        # Wall time whatever the clock: the fleet's wait for a CPU is what it measures.
        return (record.fleet.starts, "wall") if record.fleet is not None else (Samples(), "wall")
    if figure in BLOCK:
        blocks = (record.runtime_figures or {}).get("block_round_ms") if record.block_ms is not None else None
        return Samples([float(value) for value in blocks or []]), "wall"
    if figure in COLD:
        cold = record.cold
        return cold.timing(None if figure == "cold_ms" else "import", clock) if cold else (Samples(), "wall")
    figures = record.runtime_figures
    if figures is None or not record.runtime.startswith("browser"):
        return Samples(), "wall"
    if figure == "first_load_ms":
        first = figures.get("first_load_ms")
        return Samples([float(first)] if first is not None else []), "wall"
    if figures.get("cached_load_ms") is None:
        return Samples(), "wall"
    # Under "indexeddb" the cached loads are those from IndexedDB, not the HTTP-cached reload among them.
    cached = figures.get("indexeddb_load_ms") or figures.get("reload_ms", [])
    reloads = [float(value) for value in cached] or [float(figures["cached_load_ms"])]
    return Samples(reloads), "wall"


def same_clock(figure: str, old: ModelRecord, new: ModelRecord, clock: str) -> tuple[Samples, Samples, str, str]:
    """Both sides' samples in one clock, the clock, and why it is wall time where one side has own time.

    Where neither side has own time (no schedstat on either system, a
    browser) the line's "wall time" says enough.
    """
    old_samples, old_clock = time_series(figure, old, clock)
    new_samples, new_clock = time_series(figure, new, clock)
    if old_clock == new_clock:
        return old_samples, new_samples, new_clock, ""
    # Own time against wall time would judge the contention, not the load.
    if new_clock == "own":
        why = "the baseline has no own time (saved by an older version, or without schedstat)"
    else:
        why = "this run has no own time (measured without /proc/thread-self/schedstat)"
    return time_series(figure, old, "wall")[0], time_series(figure, new, "wall")[0], "wall", why


def waited_share(figure: str, record: ModelRecord) -> float | None:
    """The share of the timed rounds' wall time spent waiting for a CPU ("ms", "warm_ms"); None without own time."""
    wall, own, _ = record.rounds(figure)
    if not own or own.count != wall.count or sum(wall.values) <= 0:
        return None
    return max(sum(wall.values) - sum(own.values), 0.0) / sum(wall.values)
