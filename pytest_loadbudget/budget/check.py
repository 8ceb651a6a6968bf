"""Budget checks: which figures of a model exceed a test's budget, and why a missing one is missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.diagnose.advice import miss_fix
from pytest_loadbudget.diagnose.fleet import fleet_fix, starts_words, verdict_words
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.measure.clock import NOTABLE_WAIT, waited_share
from pytest_loadbudget.results.phases import PHASE_LABELS
from pytest_loadbudget.results.predictions import byte_text
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB, compact_ms, format_mib, format_ms, format_number

if TYPE_CHECKING:
    from pytest_loadbudget.results.cold_profile import ColdProfile


@dataclass(frozen=True)
class Miss:
    """One line for the test's failure: a figure over its budget, or a limited figure not measured.

    ``figure``: the budget keyword (several, comma-separated, for figures a
    failed load left unmeasured); ``hint``: what usually fixes a figure over
    its budget ("" for one not measured: its line says what to do).
    """

    figure: str
    line: str
    hint: str = ""


#: A figure as measured: its value in the budget's unit, and what a line says of it after the name.
Reading = tuple[float, str]
#: Reads one figure of a record (and its cold profile) against a limit, on a clock ("own" or "wall").
ReadingFunction = Callable[[ModelRecord, "ColdProfile | None", float, str], "Reading | None"]


def check(budget: Budget, record: ModelRecord, clock: str = "own") -> list[Miss]:
    """The figures of ``record`` over ``budget``, each as one readable line.

    ``clock``: "own" judges times (``ms``, ``warm_ms``, ``cold_ms``,
    ``import_ms``) on own time where it was measured, wall time elsewhere;
    "wall" always on wall time. A line names the clock it judged.
    A budget on a figure that could not be measured is a miss too: a limit
    that is never checked must not pass silently. Figures missing because the
    load failed make one line together: the failure itself is the test's error.
    """
    limits = budget.limits()
    cold = record.cold
    misses: list[Miss] = []
    unmeasured: list[str] = []
    for figure, limit in limits.items():
        reading = READINGS[figure](record, cold, limit, clock)
        if reading is None:
            unmeasured.append(figure)
            continue
        value, line = reading
        if value > limit:
            dominant = cold.dominant_phase if cold is not None else None
            # A fleet's fix follows the resource its processes fought over, not the single start's phases.
            hint = fleet_fix(record.fleet) if figure == "fleet_ms" and record.fleet is not None else \
                miss_fix(figure, record.format, dominant)
            misses.append(Miss(figure, f"{record.name} {line}", hint))
    if unmeasured and record.error is not None:
        labels = ", ".join(FIGURES[figure].label for figure in unmeasured)
        failed = "the load failed" if not record.load_ms and record.runtime_figures is None else "its measurement failed"
        misses.append(Miss(", ".join(unmeasured), f"{record.name} {labels} not measured: {failed}"))
    else:
        misses.extend(Miss(figure, _unmeasured_line(figure, record)) for figure in unmeasured)
    return misses


def _spread(samples: Samples, of: str = "") -> str:
    if not samples:
        return ""
    return f"median of {samples.count}{of}, {compact_ms(samples.minimum)}..{compact_ms(samples.maximum)}"


def _mib(num_bytes: int | None, limit: float, figure: str, details: str) -> Reading | None:
    if num_bytes is None:
        return None
    label = FIGURES[figure].label
    return num_bytes / MIB, f"{label} {format_mib(num_bytes)} > budget {format_number(limit)} MiB ({details})"


def _timing(
    judged: tuple[Samples, str], wall: Samples, clock: str, limit: float, figure: str, of: str = "", more: str = ""
) -> Reading | None:
    """A time of ``figure`` against its budget, on the clock ``judged`` is in; says how much of the wall was waiting."""
    samples, used = judged
    if not samples:
        return None
    details = _spread(samples, of)
    if used == "own":
        share = waited_share(sum(wall.values), sum(samples.values))
        if share >= NOTABLE_WAIT:
            details += f"; wall {format_ms(wall.median)}, {share:.0%} waiting for a CPU"
    elif clock == "own":
        details += "; own time not measured"
    details += more
    return samples.median, (f"{FIGURES[figure].label} {format_ms(samples.median)} {used} time "
                            f"> budget {format_number(limit)} ms ({details})")


def _size(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    files = f"{record.files} file{'s' if record.files != 1 else ''}"
    return _mib(record.size_bytes, limit, "mb", files)


def _load(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    return _timing(record.timing("ms", clock), record.load_ms, clock, limit, "ms")


def _warm_up(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    return _timing(record.timing("warm_ms", clock), record.warm_ms, clock, limit, "warm_ms")


def _peak(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    memory = record.memory
    if memory is None:
        return None
    return _mib(memory.peak_bytes, limit, "peak_mb", f"load + warm-up, {memory.where}")


def _leak(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    memory = record.memory
    if memory is None or memory.leak_bytes is None:
        return None
    details = (f"after {memory.cycles} load/release cycles, {format_mib(memory.leak_per_cycle)} per cycle, "
               f"{memory.where}")
    return _mib(memory.leak_bytes, limit, "leak_mb", details)


def _gpu(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    if record.runtime_figures is not None:
        details = f"numBytesInGPU after warm-up, {record.runtime}"
    else:
        where = record.memory.where if record.memory is not None else ""
        details = f"load + warm-up, {record.gpu_source or '?'}, {where}"
    return _mib(record.gpu_bytes, limit, "gpu_mb", details)


def _tensors(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    leaked = record.leak_tensors
    if leaked is None:
        return None
    plural = "s" if leaked != 1 else ""
    return leaked, (f"leaks {leaked} tensor{plural} > budget {format_number(limit)} "
                    f"(alive after model.dispose(), {record.runtime})")


def _cold_phase(phase: str | None, figure: str) -> ReadingFunction:
    def reading(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
        if cold is None:
            return None
        wall = cold.total if phase is None else cold.phase(phase)
        dominant = f"; dominant phase: {PHASE_LABELS[cold.dominant_phase]}"
        return _timing(cold.timing(phase, clock), wall, clock, limit, figure, " fresh processes", dominant)

    return reading


def _prediction_tensors(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    growth = record.predictions
    grown = growth.tensor_growth if growth is not None else None
    if growth is None or grown is None:
        return None
    return grown, (f"live tensors grew by {grown} over {growth.count} predictions > budget {format_number(limit)} "
                   f"({grown / growth.count:.3g} per prediction, {growth.where})")


def _prediction_memory(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    growth = record.predictions
    grown = growth.memory_growth if growth is not None else None
    if growth is None or grown is None:
        return None
    return grown / MIB, (f"memory grew by {byte_text(grown)} over {growth.count} predictions > budget "
                         f"{format_number(limit)} MiB ({byte_text(grown / growth.count)} per prediction, "
                         f"{growth.memory_source}, {growth.where})")


def _fleet(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    """The fleet's p95 cold start, always wall time: its processes' wait for a CPU is what it measures."""
    fleet = record.fleet
    if fleet is None:
        return None
    return fleet.p95_ms, (f"{FIGURES['fleet_ms'].label} p95 {format_ms(fleet.p95_ms)} wall time "
                          f"> budget {format_number(limit)} ms "
                          f"({fleet.size} processes at once: {starts_words(fleet)}; {verdict_words(fleet)})")


def _block(record: ModelRecord, cold: ColdProfile | None, limit: float, clock: str) -> Reading | None:
    """The longest main-thread task of the loads and warm-ups: wall time, the only clock a page has."""
    block = record.block_ms
    figures = record.runtime_figures or {}
    if block is None:
        return None
    where = "the model in a Web Worker" if figures.get("worker") else "the model on the page"
    # Which source the tasks came from: Chrome's trace, or the Long Tasks API where tracing failed.
    source = {"trace": ", from Chrome's trace", "long-tasks": ", from the Long Tasks API"}.get(
        str(figures.get("block_source")), "")
    tasks = sum(1 for task in figures.get("long_tasks", []) if task.get("blocking_ms"))
    return block, (f"{FIGURES['block_ms'].label} {format_ms(block)} > budget {format_number(limit)} ms "
                   f"(longest task during {figures.get('rounds', '?')} loads and warm-ups on the page's main "
                   f"thread, {where}{source}; {tasks} long tasks, total blocking time "
                   f"{format_ms(figures.get('total_blocking_ms'))}, {record.runtime})")


#: How each limited figure is read from a record (None: not measured), on the clock the user asked for.
READINGS: dict[str, ReadingFunction] = {
    "mb": _size, "ms": _load, "warm_ms": _warm_up, "peak_mb": _peak, "leak_mb": _leak, "gpu_mb": _gpu,
    "leak_tensors": _tensors, "cold_ms": _cold_phase(None, "cold_ms"), "import_ms": _cold_phase("import", "import_ms"),
    "predict_leak_tensors": _prediction_tensors, "predict_leak_mb": _prediction_memory,
    "fleet_ms": _fleet, "block_ms": _block,
}


def _unmeasured_line(figure: str, record: ModelRecord) -> str:
    verb = "counted" if FIGURES[figure].kind == "count" else "measured"
    return f"{record.name} {FIGURES[figure].label} not {verb}: {_why_unmeasured(figure, record)}"


def _why_unmeasured(figure: str, record: ModelRecord) -> str:
    """Why a figure of a model that loaded is missing, and what to do about it."""
    in_python = record.runtime == "python"
    memory = record.memory
    if figure == "mb":
        return "the loader reads no files the plugin knows of: name them with load_model(..., files=[...])"
    if figure in ("cold_ms", "import_ms", "fleet_ms"):
        if not in_python or record.format == "tfjs-graph":
            return "cold starts are measured for models that load in Python"
        return record.cold_note or "the loader cannot be replayed in a fresh process (a lambda or a local function?)"
    if figure in ("predict_leak_tensors", "predict_leak_mb"):
        growth = record.predictions
        if growth is None:
            return "the predictions did not run"
        if growth.note:
            return growth.note
        if in_python and figure == "predict_leak_tensors":
            return ("tensors are counted where TensorFlow or PyTorch is imported (predict_leak_mb limits "
                    "the resident memory of any model)")
        return "this system cannot read resident memory" if in_python else f"the {record.runtime} runtime reported none"
    if figure == "block_ms":
        note = (record.runtime_figures or {}).get("block_note")
        return note or "the main thread's long tasks are observed on runtime='browser' only"
    if figure == "leak_tensors":
        if in_python:
            return "tensors are counted in a TF.js runtime: set runtime='node' or runtime='browser'"
        return f"the {record.runtime} runtime reported no tensor count"
    if not in_python:
        if figure == "gpu_mb":
            return "numBytesInGPU is counted on runtime='browser' with backend='webgl' only"
        if figure in ("peak_mb", "leak_mb"):
            return "resident memory is measured for models that load in Python; a TF.js runtime counts tensors " \
                   "(leak_tensors)"
        return f"the {record.runtime} runtime reported no {FIGURES[figure].label} time"
    if record.format == "tfjs-graph":
        return "a TF.js graph model has no Python runtime: measure it with runtime='node' or runtime='browser'"
    if figure == "warm_ms":
        return "no warm-up input could be made from the model's signature; pass warmup=... to load_model"
    if figure == "gpu_mb":
        return "the model did not run on a GPU; set device='gpu' (NVML needs nvidia-ml-py)"
    if figure in ("peak_mb", "leak_mb") and memory is not None:
        if memory.note:
            return memory.note
        if figure == "leak_mb":
            return f"{len(memory.rss_after_cycles)} load/release cycle(s) ran; a leak needs at least 2"
    return "the measurement did not run"
