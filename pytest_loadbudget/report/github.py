"""The report where GitHub Actions users look: the job's step summary, and github-action-benchmark's charts.

``$GITHUB_STEP_SUMMARY`` names a Markdown file the runner shows on the job's
page; every step appends to it. ``--loadbudget-github-json`` writes every
figure in github-action-benchmark's ``customSmallerIsBetter`` format: a
JSON list of ``{"name", "unit", "value", "range", "extra"}``, one entry per
model and figure, which the action charts across commits and compares with
the previous commit's (alert-threshold, comment-on-alert).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_loadbudget.atomic import write_atomically
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.results.phases import PHASE_LABELS, PHASES
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB

#: Decimals kept: a microsecond, a tenth of a KiB; the action charts what it is given.
MS_DECIMALS = 3
MIB_DECIMALS = 4


def append_step_summary(path: Path, markdown: str) -> None:
    """Append ``markdown`` to the job summary at ``path``, apart from what earlier steps wrote.

    Appended in one write, never replaced: the file holds every step's summary.
    """
    separator = "\n" if path.exists() and path.stat().st_size > 0 else ""
    with path.open("a", encoding="utf-8") as summary:
        summary.write(separator + markdown)


def model_label(record: ModelRecord, repeated: bool = False) -> str:
    """The model as a chart names it: its name, and where it ran when not in Python on the CPU.

    ``repeated``: another record of the run has the same label (two files of
    one name in different folders): the identity, stable across runs, tells them apart.
    """
    label = record.name
    if record.runtime != "python":
        label += f" [{record.runtime}]"
    elif record.device != "cpu":
        label += f" [{record.device.split(' (driver')[0]}]"  # a driver upgrade must not start a new chart
    return f"{label} ({record.identity})" if repeated else label


def github_benchmarks(records: list[ModelRecord], clock: str = "own") -> list[dict[str, Any]]:
    """Every figure of every model as a customSmallerIsBetter entry.

    Times in ms (the median, on ``clock`` where the record has it: the
    entry's name says which), memory and sizes in MiB (2**20 bytes), TF.js
    tensors as a count. ``range`` is half the interquartile range of a
    figure with several samples; ``extra`` says how many and their span.
    """
    labels = Counter(model_label(record) for record in records)
    entries: list[dict[str, Any]] = []
    for record in records:
        label = model_label(record, repeated=labels[model_label(record)] > 1)
        entries.extend({"name": f"{label} {figure}", **rest} for figure, rest in _figures(record, clock))
    return entries


def write_github_json(path: Path, records: list[ModelRecord], clock: str = "own") -> None:
    write_atomically(path, json.dumps(github_benchmarks(records, clock), indent=2) + "\n")


def _figures(record: ModelRecord, clock: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for figure in ("ms", "warm_ms"):
        samples, used = record.timing(figure, clock)
        if samples:
            yield f"{FIGURES[figure].label} ({used})", _time_entry(samples)
    figures = record.runtime_figures or {}
    first_load = record.first_load_ms if record.first_load_ms is not None else figures.get("first_load_ms")
    if first_load is not None:
        yield FIGURES["first_load_ms"].label, _time_entry(Samples([float(first_load)]))
    if record.size_bytes is not None:
        files = f"{record.files} file{'s' if record.files != 1 else ''}"
        yield FIGURES["mb"].label, _mib_entry(record.size_bytes, files)
    memory = record.memory
    if memory is not None and memory.peak_bytes is not None:
        yield FIGURES["peak_mb"].label, _mib_entry(memory.peak_bytes, memory.where)
    if memory is not None and memory.leak_bytes is not None:
        yield FIGURES["leak_mb"].label, _mib_entry(memory.leak_bytes, f"over {memory.cycles} load/release cycles")
    if record.gpu_bytes is not None:
        yield FIGURES["gpu_mb"].label, _mib_entry(record.gpu_bytes, f"measured by {record.gpu_source or 'unknown'}")
    if record.leak_tensors is not None:
        tensors = FIGURES["leak_tensors"]
        yield tensors.label, {"unit": tensors.unit, "value": record.leak_tensors}
    yield from _cold_figures(record, clock)
    yield from _runtime_figures(figures)


def _cold_figures(record: ModelRecord, clock: str) -> Iterator[tuple[str, dict[str, Any]]]:
    cold = record.cold
    if cold is None or not cold.runs:
        return
    total, used = cold.timing(None, clock)
    if total:
        yield f"{FIGURES['cold_ms'].label} ({used})", _time_entry(total, counted="fresh processes")
    for phase in PHASES:
        samples, used = cold.timing(phase, clock)
        if samples:
            yield f"cold {PHASE_LABELS[phase]} ({used})", _time_entry(samples, counted="fresh processes")
    if cold.peak_bytes:
        peaks = Samples([float(peak) for peak in cold.peak_bytes])
        yield "cold peak", _mib_entry(round(peaks.median), f"median of {peaks.count} fresh processes")


def _runtime_figures(figures: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """A TF.js runtime's own figures beside the timed rounds: its start-up, cached loads, predictions."""
    if figures.get("cached_load_ms") is not None:
        reloads = [float(value) for value in figures.get("reload_ms", [])] or [float(figures["cached_load_ms"])]
        yield FIGURES["cached_load_ms"].label, _time_entry(Samples(reloads))
    if figures.get("startup_ms") is not None:
        yield "runtime start-up", _time_entry(Samples([float(figures["startup_ms"])]))
    predictions = [float(value) for value in figures.get("predict_ms", [])]
    if predictions:
        yield "predict", _time_entry(Samples(predictions), counted="calls")
    after_load = figures.get("memory", {}).get("after_load", {})
    if after_load.get("numTensors") is not None:
        yield "tensors after load", {"unit": "tensors", "value": int(after_load["numTensors"])}
    if after_load.get("numBytes") is not None:
        yield "TF.js memory after load", _mib_entry(int(after_load["numBytes"]), "tf.memory().numBytes")


def _time_entry(samples: Samples, counted: str = "rounds") -> dict[str, Any]:
    """The median in ms; the spread where there is one."""
    entry: dict[str, Any] = {"unit": "ms", "value": round(samples.median, MS_DECIMALS)}
    count = samples.count
    if count > 1:
        q1, q3 = samples.iqr
        entry["range"] = f"± {(q3 - q1) / 2:.{MS_DECIMALS}f}"
        entry["extra"] = (f"median of {count} {counted}, "
                          f"min {samples.minimum:.{MS_DECIMALS}f} ms, max {samples.maximum:.{MS_DECIMALS}f} ms")
    return entry


def _mib_entry(num_bytes: int, extra: str) -> dict[str, Any]:
    return {"unit": "MiB", "value": round(num_bytes / MIB, MIB_DECIMALS), "extra": extra}
