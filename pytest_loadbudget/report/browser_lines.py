"""What the report says of a browser run beyond the shared columns: the main-thread block and the storage cache."""

from __future__ import annotations

from typing import Any

from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import format_mib, format_ms

#: The table's column of the page's longest main-thread task, shown when a browser run measured one.
BLOCK_COLUMN = FIGURES["block_ms"].label
#: It follows the warm-up, whose work blocks the thread most.
BLOCK_AFTER = FIGURES["warm_ms"].label


def has_block(records: list[ModelRecord]) -> bool:
    return any(record.block_ms is not None for record in records)


def block_cell(record: ModelRecord, limit: float | None) -> str:
    """``340 ms (TBT 900 ms)``, ``0 ms worker``; (N%) of the tightest budget; "-" where not measured."""
    block = record.block_ms
    if block is None:
        return "-"
    figures: dict[str, Any] = record.runtime_figures or {}
    text = format_ms(block)
    if figures.get("total_blocking_ms"):
        text += f" (TBT {format_ms(figures['total_blocking_ms'])})"
    if limit is not None:
        text += f" ({100 * block / limit:.0f}%)"
    return text


#: Where the main-thread tasks were read, as a line names it.
SOURCES = {"trace": "Chrome's trace", "long-tasks": "the Long Tasks API"}
#: Stages left out of the per-stage line: the run's bookkeeping, not the model's.
QUIET_STAGES = ("dispose", "done")


def _block_lines(where: str, block_ms: float, figures: dict[str, Any]) -> list[str]:
    """Which thread held how long, read from which source; the page's main thread by stage."""
    during = [task for task in figures.get("long_tasks", []) if task.get("blocking_ms")]
    thread = "the page's main thread, the model in a Web Worker" if figures.get("worker") else \
        "the page's main thread"
    source = SOURCES.get(str(figures.get("block_source")), "an unknown source")
    if figures.get("block_source") != "trace" and figures.get("trace_note"):
        source += f" ({figures['trace_note']})"
    line = (f"{where} {thread}: longest task {format_ms(block_ms)}, total blocking time "
            f"{format_ms(figures.get('total_blocking_ms'))} ({len(during)} long tasks during "
            f"{figures.get('rounds')} loads and warm-ups; {source})")
    worker = figures.get("worker_thread")
    if worker:
        line += (f"; the worker's thread: longest task {format_ms(worker.get('block_ms'))}, total blocking time "
                 f"{format_ms(worker.get('total_blocking_ms'))}")
    stages = [f"{stage} {format_ms(numbers.get('longest_ms'))}"
              + (f" (TBT {format_ms(numbers['total_blocking_ms'])})" if numbers.get("total_blocking_ms") else "")
              for stage, numbers in (figures.get("block_stages") or {}).items() if stage not in QUIET_STAGES]
    if not stages:
        return [line]
    return [line, f"{where} the page's main thread, longest task by stage: {', '.join(stages)}"]


def browser_lines(records: list[ModelRecord]) -> list[str]:
    """Per browser run: which of its threads blocked how long, from which source, whether the page's
    heartbeat agrees and, under IndexedDB, its three loads side by side."""
    lines = []
    for record in records:
        figures = record.runtime_figures
        if figures is None or not record.runtime.startswith("browser"):
            continue
        where = f"{record.name} ({record.runtime})"
        if record.block_ms is not None:
            lines.extend(_block_lines(where, record.block_ms, figures))
        elif figures.get("block_note"):
            lines.append(f"{where} {FIGURES['block_ms'].label} not measured: {figures['block_note']}")
        if figures.get("heartbeat_note"):
            lines.append(f"{where} {FIGURES['block_ms'].label} cross-check: {figures['heartbeat_note']}")
        storage = figures.get("storage")
        if figures.get("cache_policy") == "indexeddb" and storage:
            lines.append(
                f"{where} loads: first {format_ms(figures.get('first_load_ms'))} over HTTP, HTTP-cached reload "
                f"{format_ms(figures.get('http_cached_load_ms'))}, IndexedDB reload "
                f"{format_ms(figures.get('cached_load_ms'))}; the IndexedDB copy takes "
                f"{format_mib(storage.get('saved_bytes'))} (origin usage grew "
                f"{format_mib(storage.get('usage_growth_bytes'))}), saved in {format_ms(storage.get('save_ms'))}"
            )
    return lines
