"""One model's figures and the tests that budgeted it, as data that travels.

Records cross from pytest-xdist workers to the controller as plain dicts
(``workeroutput``) and end in the JSON report, so every field is JSON-safe.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pytest_loadbudget.results.cold_profile import ColdProfile
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.fleet_profile import FleetProfile
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.predictions import PredictionGrowth
from pytest_loadbudget.results.samples import Samples


@dataclass
class TestUse:
    """A test that used the model: its budget and what it missed."""

    nodeid: str
    budget: dict[str, Any]
    misses: list[str] = field(default_factory=list)


@dataclass
class ModelRecord:
    key: str
    name: str
    format: str
    #: How the model is known across runs (``LoadRequest.identity``): what its baseline is looked up by.
    identity: str = ""
    #: Where the figures come from: "cpu", "gpu: <name> (driver <version>)" or "default".
    device: str = "cpu"
    #: "python", or a TF.js runtime with its backend: "node wasm", "browser webgl no-store".
    runtime: str = "python"
    #: What ran a .tflite model ("litert", "tensorflow", "tflite-runtime") and its version; "" otherwise.
    interpreter: str = ""
    interpreter_version: str = ""
    path: str | None = None
    size_bytes: int | None = None
    files: int = 0
    #: SHA-256 of the files the load reads: tells a changed artifact from a slower load.
    artifact_sha256: str | None = None
    #: Wall time of each timed round (``time.perf_counter``), ms.
    load_ms: Samples = field(default_factory=Samples)
    warm_ms: Samples = field(default_factory=Samples)
    #: The same rounds less the time the working thread waited on a run queue
    #: for a CPU (``/proc/thread-self/schedstat``): what the load costs,
    #: whoever else runs on the machine. Empty where the system cannot tell.
    load_own_ms: Samples = field(default_factory=Samples)
    warm_own_ms: Samples = field(default_factory=Samples)
    #: CPU time of the process during each round, ms (``time.process_time``).
    load_cpu_ms: Samples = field(default_factory=Samples)
    warm_cpu_ms: Samples = field(default_factory=Samples)
    #: A fixed workload's own time after each timed round (``measure/speed.py``): how fast the machine
    #: itself ran, which the guest's clocks cannot otherwise tell. Empty in a TF.js runtime. Runs saved
    #: by earlier versions kept one cold run of it as ``probe_ms``, which read what the round left behind
    #: (up to 2.5x slower after a pause): not read, so that they are judged without a speed correction
    #: rather than with a wrong one.
    speed_ms: Samples = field(default_factory=Samples)
    #: The same workload's first run after each round, before the runs ``speed_ms`` keeps: the caches the
    #: round and the machine's other tenants left, refilled (slower under a memory-bandwidth neighbour).
    refill_ms: Samples = field(default_factory=Samples)
    #: Copies of a buffer the size of the last-level cache, before the first load and after the last round
    #: (``measure/speed.py``): the memory bus's speed, which a neighbour streaming memory takes a share of.
    stream_ms: Samples = field(default_factory=Samples)
    #: The second measurement's timed rounds, by series, where a suspected time regression was measured
    #: again (``baseline/confirm.py``): what confirmed or cleared it, kept so that the verdict can be
    #: checked and judged again (``benchmarks/trust_replay.py``). Empty where none was taken.
    remeasured: dict[str, Samples] = field(default_factory=dict)
    #: The first load in the test process, before the rounds: one-time costs included.
    first_load_ms: float | None = None
    memory: MemoryFigures | None = None
    error: str | None = None
    tests: list[TestUse] = field(default_factory=list)
    #: The cold start in fresh processes, when measured.
    cold: ColdProfile | None = None
    #: Why the cold start was asked for and not measured (the loader cannot be replayed, and why).
    cold_note: str = ""
    #: Processes started at once, each doing the cold start, against the single one; when measured.
    fleet: FleetProfile | None = None
    #: Everything a TF.js runtime measured (RuntimeFigures as a dict); None in Python.
    runtime_figures: dict[str, Any] | None = None
    #: Against the baseline: one per figure compared.
    comparisons: list[Comparison] = field(default_factory=list)
    #: What the warm model left alive after each of N predictions, when a budget asked for them.
    predictions: PredictionGrowth | None = None
    #: What traced or slowed the timed rounds in the test process, in words ("a trace function
    #: (conftest.trace)"): a debugger, a profiler, dev mode (``measure/tracing.py``); empty where nothing did.
    #: The gate never judges traced figures against untraced ones.
    traced: list[str] = field(default_factory=list)
    #: The same of the fresh processes (cold start, fleet, memory): their environment is the test
    #: process's, less what would start coverage in them.
    fresh_traced: list[str] = field(default_factory=list)
    #: What was paused around the timed rounds and resumed after ("coverage"): the rounds ran untraced,
    #: the first load under it.
    paused: list[str] = field(default_factory=list)

    @property
    def leak_tensors(self) -> int | None:
        return self.runtime_figures.get("leak_tensors") if self.runtime_figures else None

    @property
    def block_ms(self) -> float | None:
        """Browser: the page's longest main-thread task during loads and warm-ups, ms; None elsewhere.

        Runs saved before it was measured have no such figure: None too.
        """
        value = self.runtime_figures.get("block_ms") if self.runtime_figures else None
        return float(value) if value is not None else None

    @property
    def gpu_bytes(self) -> int | None:
        """Device memory: TF.js numBytesInGPU in a runtime, else the fresh process's first source."""
        if self.runtime_figures is not None:
            return self.runtime_figures.get("gpu_bytes")
        gpu = self.memory.gpu_peak if self.memory is not None else None
        return int(gpu["peak_bytes"]) if gpu else None

    @property
    def gpu_source(self) -> str:
        """Where ``gpu_bytes`` comes from: "webgl" (TF.js numBytesInGPU in a browser), the memory
        measurement's source ("nvml", "torch", ...), or "" where nothing measured device memory."""
        if self.runtime_figures is not None:
            in_webgl = self.runtime.split()[:2] == ["browser", "webgl"]
            return "webgl" if in_webgl and self.runtime_figures.get("gpu_bytes") is not None else ""
        gpu = self.memory.gpu_peak if self.memory is not None else None
        return str(gpu["source"]) if gpu else ""

    def rounds(self, figure: str) -> tuple[Samples, Samples, Samples]:
        """The timed rounds of ``figure`` ("ms" or "warm_ms"): wall, own and process CPU time."""
        if figure == "ms":
            return self.load_ms, self.load_own_ms, self.load_cpu_ms
        return self.warm_ms, self.warm_own_ms, self.warm_cpu_ms

    def timing(self, figure: str, clock: str) -> tuple[Samples, str]:
        """The samples that budgets and the gate judge for ``figure`` ("ms" or "warm_ms").

        ``clock`` is what the user asked for ("own" or "wall"); the second
        value is the clock the samples are in: "wall" where own time was not
        measured (no schedstat on this system, a TF.js browser run).
        """
        wall, own, _ = self.rounds(figure)
        if clock == "own" and own:
            return own, "own"
        return wall, "wall"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON: the one place its typed parts become dicts."""
        data = dataclasses.asdict(self)
        for name in ROUND_SERIES:
            data[name] = _samples_dict(getattr(self, name))
        if self.memory is not None:
            data["memory"]["leak_bytes"] = self.memory.leak_bytes
        data["cold"] = self.cold.to_dict() if self.cold is not None else None
        data["fleet"] = self.fleet.to_dict() if self.fleet is not None else None
        data["predictions"] = self.predictions.to_dict() if self.predictions is not None else None
        data["comparisons"] = [comparison.to_dict() for comparison in self.comparisons]
        data["remeasured"] = {name: _samples_dict(samples) for name, samples in self.remeasured.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRecord:
        memory = data.get("memory")
        return cls(
            key=data["key"],
            name=data["name"],
            format=data["format"],
            identity=data.get("identity", ""),
            device=data.get("device", "cpu"),
            runtime=data.get("runtime", "python"),
            interpreter=data.get("interpreter", ""),
            interpreter_version=data.get("interpreter_version", ""),
            runtime_figures=data.get("runtime_figures"),
            cold=ColdProfile.from_dict(data["cold"]) if data.get("cold") else None,
            cold_note=data.get("cold_note", ""),
            fleet=FleetProfile.from_dict(data["fleet"]) if data.get("fleet") else None,
            path=data.get("path"),
            size_bytes=data.get("size_bytes"),
            files=data.get("files", 0),
            artifact_sha256=data.get("artifact_sha256"),
            **{name: Samples(list(data.get(name, {}).get("samples", []))) for name in ROUND_SERIES},
            remeasured={name: Samples(list(value.get("samples", [])))
                        for name, value in (data.get("remeasured") or {}).items() if name in ROUND_SERIES},
            first_load_ms=data.get("first_load_ms"),
            memory=_memory_from_dict(memory) if memory else None,
            error=data.get("error"),
            tests=[TestUse(**use) for use in data.get("tests", [])],
            comparisons=[Comparison.from_dict(item) for item in data.get("comparisons", [])],
            predictions=PredictionGrowth.from_dict(data["predictions"]) if data.get("predictions") else None,
            traced=[str(what) for what in data.get("traced") or []],
            fresh_traced=[str(what) for what in data.get("fresh_traced") or []],
            paused=[str(what) for what in data.get("paused") or []],
        )


#: The timing series of a record, one value per timed round (the memory copies: before and after the
#: rounds), each saved with its raw samples and summary; a second measurement joins them.
ROUND_SERIES = ("load_ms", "warm_ms", "load_own_ms", "warm_own_ms", "load_cpu_ms", "warm_cpu_ms", "speed_ms",
               "refill_ms", "stream_ms")


def _samples_dict(samples: Samples) -> dict[str, Any]:
    if not samples:
        return {"samples": []}
    return {"samples": list(samples.values), **samples.summary()}


def _memory_from_dict(data: dict[str, Any]) -> MemoryFigures:
    known = {f.name for f in dataclasses.fields(MemoryFigures)}
    return MemoryFigures(**{k: v for k, v in data.items() if k in known})


def merge_records(records: list[ModelRecord]) -> list[ModelRecord]:
    """One record per model: workers that measured the same model keep the first figures."""
    merged: dict[str, ModelRecord] = {}
    for record in records:
        kept = merged.get(record.key)
        if kept is None:
            merged[record.key] = dataclasses.replace(record, tests=list(record.tests))
            continue
        kept.tests.extend(record.tests)
        if kept.memory is None and record.memory is not None:
            kept.memory = record.memory
        if not kept.comparisons:
            # The verdicts and the second measurement they rest on travel together.
            kept.comparisons, kept.remeasured = record.comparisons, record.remeasured
        if kept.cold is None and (record.cold is not None or not kept.cold_note):
            kept.cold, kept.cold_note = record.cold, record.cold_note
        if kept.fleet is None:
            kept.fleet = record.fleet
        if record.predictions is not None and (kept.predictions is None or record.predictions.count > kept.predictions.count):
            kept.predictions = record.predictions
    return list(merged.values())
