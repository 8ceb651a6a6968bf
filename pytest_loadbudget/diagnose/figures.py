"""What a diagnosis reads: a model's figures gathered from its record and cold profile."""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_loadbudget.errors import LoadBudgetError
from pytest_loadbudget.formats.graph_stats import GraphStats, graph_stats
from pytest_loadbudget.formats.tfjs_quantization import QuantizationEstimate, estimate_quantization
from pytest_loadbudget.measure.floor import Bandwidth
from pytest_loadbudget.results.cold_profile import ColdProfile
from pytest_loadbudget.results.fleet_profile import FleetProfile
from pytest_loadbudget.results.predictions import PredictionGrowth
from pytest_loadbudget.results.samples import Samples

if TYPE_CHECKING:
    from pytest_loadbudget.results.record import ModelRecord


@dataclass
class Figures:
    """What ``diagnose`` reads; every figure optional.

    ``load_ms``: warm loads (framework imported), ``warm_ms``: the first call
    on a freshly loaded model in a warm process, ``steady_ms``: later calls,
    all in ms. ``leak_per_cycle_bytes``: RSS growth per load/release cycle.
    """

    name: str
    format: str
    size_bytes: int | None = None
    cold: ColdProfile | None = None
    load_ms: Samples = field(default_factory=Samples)
    warm_ms: Samples = field(default_factory=Samples)
    steady_ms: Samples = field(default_factory=Samples)
    leak_per_cycle_bytes: float | None = None
    cycles: int = 0
    quantization: QuantizationEstimate | None = None
    graph: GraphStats | None = None
    #: None: measured on first need (``floor.read_bandwidth``, cached).
    bandwidth: Bandwidth | None = None
    #: What ran a .tflite model ("litert", "tensorflow", ...); "" for other formats and older runs.
    interpreter: str = ""
    #: "python", or the TF.js runtime the record was measured in ("node cpu").
    runtime: str = "python"
    #: What N predictions on the warm model left alive, when measured.
    predictions: PredictionGrowth | None = None
    #: Processes started at once against the single cold start, when measured.
    fleet: FleetProfile | None = None


def figures_for(
    record: ModelRecord | None = None,
    cold: ColdProfile | None = None,
    bandwidth: Bandwidth | None = None,
) -> Figures:
    """Figures from a session's record and/or a cold profile of the same model.

    Reads the TF.js manifest for the quantization estimate, and counts the
    graph where the cold profile did not (a SavedModel only where TensorFlow
    is imported already).
    """
    if record is None and cold is None:
        raise ValueError("figures_for needs a record, a cold profile or both")
    name = record.name if record is not None else cold.name  # type: ignore[union-attr]
    fmt = record.format if record is not None else cold.format  # type: ignore[union-attr]
    figures = Figures(name=name, format=fmt, cold=cold, bandwidth=bandwidth)
    figures.interpreter = record.interpreter if record is not None else cold.interpreter  # type: ignore[union-attr]
    figures.size_bytes = record.size_bytes if record is not None else cold.size_bytes  # type: ignore[union-attr]
    figures.steady_ms = _steady_calls(record, cold)
    if record is not None:
        figures.load_ms, figures.warm_ms = record.load_ms, record.warm_ms
        figures.runtime, figures.predictions = record.runtime, record.predictions
        figures.fleet = record.fleet
        if record.memory is not None:
            figures.leak_per_cycle_bytes = record.memory.leak_per_cycle
            figures.cycles = record.memory.cycles
    figures.graph = cold.graph if cold is not None else None
    path = Path(record.path) if record is not None and record.path else None
    if path is not None:
        figures.quantization, graph = _artifact_facts(path, fmt, want_graph=figures.graph is None)
        figures.graph = figures.graph or graph
    return figures


def _steady_calls(record: ModelRecord | None, cold: ColdProfile | None) -> Samples:
    """Calls after the first on a loaded model, to set the first call against.

    A TF.js runtime's predictions after the warm-up, else the steady calls of
    the cold profile's fresh processes; the test process times no such calls.
    """
    if record is not None and record.runtime_figures is not None:
        return Samples([float(value) for value in record.runtime_figures.get("predict_ms") or []])
    return cold.steady_call if cold is not None else Samples()


def _artifact_facts(path: Path, fmt: str, want_graph: bool) -> tuple[QuantizationEstimate | None, GraphStats | None]:
    quantization = graph = None
    try:
        if fmt in ("tfjs-graph", "tfjs-layers"):
            quantization = estimate_quantization(path / "model.json" if path.is_dir() else path)
        if want_graph and (fmt != "savedmodel" or "tensorflow" in sys.modules):
            graph = graph_stats(path, fmt)
    except (LoadBudgetError, OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # advice is a hint: a fact that cannot be read leaves its item out
    return quantization, graph
