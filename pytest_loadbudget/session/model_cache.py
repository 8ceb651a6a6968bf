"""The session's models: each loaded, measured and warmed once, then shared.

A model is identified by its request key (format, resolved path or loader,
options). Timings are taken on first use; memory figures, which need a fresh
process, only when a budget asks for them (or ``--loadbudget-memory=all``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_loadbudget.errors import LoadBudgetError, ModelFileError
from pytest_loadbudget.fresh.cold import measure_cold
from pytest_loadbudget.fresh.fleet import measure_fleet
from pytest_loadbudget.fresh.memory_child import measure_memory_in_child
from pytest_loadbudget.fresh.protocol import NotReplayable
from pytest_loadbudget.measure.devices import placed, prepare_framework
from pytest_loadbudget.measure.loads import time_loads
from pytest_loadbudget.measure.memory import measure_memory
from pytest_loadbudget.measure.predictions import measure_prediction_growth
from pytest_loadbudget.measure.tracing import joined
from pytest_loadbudget.model.entry import Entry
from pytest_loadbudget.model.identity import artifact_digest
from pytest_loadbudget.model.placement import PYTHON
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.predictions import PredictionGrowth
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.session.tfjs_sessions import RuntimeSessions
from pytest_loadbudget.settings import Settings


#: The record's time series (wall, own, CPU of loads and warm-ups): every Samples field.
TIME_SERIES = tuple(item.name for item in dataclasses.fields(ModelRecord) if item.type in ("Samples", Samples))


class ModelCache:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.entries: dict[str, Entry] = {}
        self.runtimes = RuntimeSessions(settings)

    def get(
        self, request: LoadRequest, rounds: int | None, memory_cycles: int | None,
        cold: tuple[int, bool] | None = None, predictions: int | None = None,
        fleet: tuple[int, bool] | None = None,
    ) -> Entry:
        """The entry for ``request``, loading and measuring on first use.

        ``memory_cycles``: None when no memory figure is wanted, else the
        load/release cycles to run (1 for the peak alone). ``cold``: None, or
        the fresh processes to run and whether to evict the files first.
        ``predictions``: None, or the predictions to run on the warm model for
        the per-prediction growth (again only when more are asked for).
        ``fleet``: None, or the processes to start at once and whether to
        evict the files first (after ``cold``, its single reference). A
        failed load is kept in ``entry.error`` and not tried again in this session.
        """
        entry = self.entries.get(request.key)
        if entry is None:
            entry = self._first_load(request, rounds, predictions)
            self.entries[request.key] = entry
        if entry.error is None and memory_cycles is not None and not self.settings.disable \
                and entry.memory_cycles < memory_cycles:
            self._measure_memory(entry, memory_cycles)
        if entry.error is None and cold is not None and not self.settings.disable and entry.cold_key != cold:
            self._measure_cold(entry, *cold)
        if entry.error is None and fleet is not None and not self.settings.disable and entry.fleet_key != fleet:
            self._measure_fleet(entry, *fleet)
        grown = entry.record.predictions
        if entry.error is None and predictions and not self.settings.disable and (grown is None or grown.count < predictions):
            self._measure_predictions(entry, predictions)
        return entry

    def _measure_predictions(self, entry: Entry, count: int) -> None:
        """The per-prediction growth: on the warm model in Python, in a fresh runtime run for TF.js."""
        request, record = entry.request, entry.record
        try:
            if request.runtime != PYTHON:
                figures = self.runtimes.measure(request, 1, predictions=count)
                record.predictions = _runtime_growth(figures, record.runtime, count)
            else:
                record.predictions = measure_prediction_growth(request, entry.model, count, record.runtime)
        except Exception as error:  # the model failing on its Nth call: the test that asked fails
            entry.error = error
            record.error = str(error) if isinstance(error, LoadBudgetError) else f"{type(error).__name__}: {error}"

    def _measure_fleet(self, entry: Entry, size: int, evict: bool) -> None:
        single = entry.record.cold
        if single is None:  # not loadable in Python, or not replayable: the cold note says why
            return
        try:
            entry.record.fleet = measure_fleet(entry.request, size, evict=evict, timeout=self.settings.timeout,
                                               single=single, single_runs=len(single.runs))
        except LoadBudgetError as error:
            entry.error = error
            entry.record.error = str(error)
        entry.fleet_key = (size, evict)

    def _measure_cold(self, entry: Entry, runs: int, evict: bool) -> None:
        request = entry.request
        if not request.format.loadable or request.runtime != PYTHON:
            entry.record.cold_note = "cold starts are measured for models that load in Python"
            return
        traced: list[str] = []
        try:
            profile = measure_cold(request, runs, evict=evict, timeout=self.settings.timeout, traced=traced)
        except NotReplayable as why:
            entry.record.cold = None
            entry.record.cold_note = f"the loader cannot be replayed in a fresh process ({why})"
        except LoadBudgetError as error:
            entry.error = error
            entry.record.error = str(error)
        else:
            entry.record.cold, entry.record.cold_note = profile, ""
            # A fleet's processes start as these do: what traced these traced them too.
            entry.record.fresh_traced = joined(entry.record.fresh_traced, traced)
        entry.cold_key = (runs, evict)

    def failed(self, key: str, name: str, error: LoadBudgetError) -> Entry:
        """Record a model that could not even be resolved (no such path, unknown format)."""
        entry = self.entries.get(key)
        if entry is None:
            record = ModelRecord(key=key, name=name, format="unknown", error=str(error))
            entry = self.entries[key] = Entry(request=LoadRequest(format_name="callable", name=name), record=record,
                                             error=error)
        return entry

    def _first_load(self, request: LoadRequest, rounds: int | None, predictions: int | None = None) -> Entry:
        record = ModelRecord(
            key=request.key,
            identity=request.identity,
            name=request.name,
            format=request.format_name,
            device=request.device_label,
            runtime=request.placement.label,
            interpreter=request.interpreter,
            interpreter_version=request.interpreter_version,
            path=str(request.path) if request.path is not None else None,
        )
        entry = Entry(request=request, record=record)
        try:
            missing = [path for path in request.extra_files if not path.is_file()]
            if missing:
                raise ModelFileError(missing[0], "does not exist (named in load_model(files=...))")
            files = request.extra_files + (request.format.artifact_files(request.path) if request.path else [])
            record.files = len(files)
            record.size_bytes = sum(path.stat().st_size for path in files) if files else None
            if files and (self.settings.save is not None or self.settings.autosave or self.settings.compare is not None):
                root = request.path if request.path is not None and request.path.is_dir() else None
                record.artifact_sha256 = artifact_digest(files, root or (request.path.parent if request.path else None))
            if request.runtime != PYTHON:
                # In a TF.js runtime the load is the measurement: once when disabled.
                # Predictions asked for at the first load ride on its run, not a second one.
                wanted = None if self.settings.disable else predictions
                self._measure_in_runtime(entry, 1 if self.settings.disable else rounds, wanted)
            elif self.settings.disable:
                request.format.import_framework()
                prepare_framework(request.format_name, request.device)
                with placed(request.format_name, request.device):
                    entry.model = request.load()
            else:
                entry.model = self._time_in_process(request, record, rounds)
        except LoadBudgetError as error:
            entry.error = error
            record.error = str(error)
        except Exception as error:  # the user's loader or warm-up: kept with its traceback
            entry.error = error
            record.error = f"{type(error).__name__}: {error}"
        return entry

    @staticmethod
    def _time_in_process(request: LoadRequest, record: ModelRecord, rounds: int | None) -> Any:
        """Timed rounds in the test process into ``record``; returns the last, warm model."""
        model, timings = time_loads(request, rounds)
        record.first_load_ms = timings.first_load_ms
        # New lists: a second measurement's record starts as a copy of the first's.
        record.paused, record.traced = list(timings.tracing.paused), list(timings.tracing.traced)
        load, warm = timings.load, timings.warm
        record.load_ms, record.load_own_ms, record.load_cpu_ms = load.wall, load.own, load.cpu
        record.warm_ms, record.warm_own_ms, record.warm_cpu_ms = warm.wall, warm.own, warm.cpu
        record.speed_ms = timings.speed_ms
        record.refill_ms = timings.refill_ms
        record.stream_ms = timings.stream_ms
        if not request.format.loadable:  # reading a manifest is not a load
            for series in (record.load_ms, record.load_own_ms, record.load_cpu_ms):
                series.values.clear()
        return model

    def _measure_in_runtime(self, entry: Entry, rounds: int | None, predictions: int | None = None) -> None:
        entry.model = self._time_in_runtime(entry.request, entry.record, rounds, predictions)

    def _time_in_runtime(
        self, request: LoadRequest, record: ModelRecord, rounds: int | None, predictions: int | None = None,
    ) -> Any:
        """The model's rounds in its TF.js runtime into ``record``; returns the RuntimeFigures."""
        figures = self.runtimes.measure(request, rounds, predictions=predictions or 0)
        if predictions:
            record.predictions = _runtime_growth(figures, record.runtime, predictions)
        record.load_ms = Samples(list(figures.load_ms))
        record.warm_ms = Samples(list(figures.warm_ms))
        record.load_own_ms = Samples(list(figures.load_own_ms))
        record.warm_own_ms = Samples(list(figures.warm_own_ms))
        record.runtime_figures = figures.to_dict()
        # Kept once, typed, in record.predictions.
        record.runtime_figures.pop("prediction_growth", None)
        return figures

    def remeasure_timings(self, key: str, rounds: bool = True, cold: bool = False) -> ModelRecord | None:
        """A second measurement of a model measured in this session, for the regression gate to confirm with.

        A copy of the model's record with fresh timed ``rounds`` (as many as
        the first measurement, in the test process or the model's TF.js
        runtime) and, when ``cold``, fresh cold runs (as many, as evicted);
        the times of a part not measured again are empty.
        Each part is taken at most once per session, whichever tests ask: the
        gate's extra cost is bounded by one measurement of the models it
        suspects. The record's ``error`` says why a part failed; None for a
        model with nothing to measure again (unknown, failed, disabled).
        """
        entry = self.entries.get(key)
        if entry is None or entry.error is not None or self.settings.disable:
            return None
        if entry.second is None:
            # No time of the first measurement: a part not measured again must not confirm itself.
            blank: dict[str, Any] = {name: Samples() for name in TIME_SERIES}
            entry.second = dataclasses.replace(entry.record, tests=[], comparisons=[], first_load_ms=None, cold=None,
                                               fleet=None, runtime_figures=None, **blank)
        second, request = entry.second, entry.request
        wanted = {"rounds"} if rounds else set()
        if cold and entry.cold_key is not None and entry.record.cold is not None:
            wanted.add("cold")
        for part in sorted(wanted - entry.second_parts):
            entry.second_parts.add(part)
            count = max(entry.record.load_ms.count, entry.record.warm_ms.count) or None
            try:
                if part == "cold" and entry.cold_key is not None:
                    runs, evict = entry.cold_key
                    traced: list[str] = []
                    second.cold = measure_cold(request, runs, evict=evict, timeout=self.settings.timeout,
                                               traced=traced)
                    second.fresh_traced = joined([], traced)
                    if entry.fleet_key is not None and entry.record.fleet is not None:  # a fleet's figures are cold too
                        size, evict = entry.fleet_key
                        second.fleet = measure_fleet(request, size, evict=evict, timeout=self.settings.timeout,
                                                     single=second.cold, single_runs=runs)
                elif request.runtime != PYTHON:
                    self._time_in_runtime(request, second, count)
                else:
                    self._time_in_process(request, second, count)  # the model is dropped: the first one serves
            except Exception as error:  # the loader failing the second time: the gate says so
                second.error = str(error) if isinstance(error, LoadBudgetError) else f"{type(error).__name__}: {error}"
        return second

    def _measure_memory(self, entry: Entry, cycles: int) -> None:
        request = entry.request
        if not request.format.loadable or request.runtime != PYTHON:
            return
        traced: list[str] = []
        try:
            try:
                figures = measure_memory_in_child(request, cycles, self.settings.timeout, traced)
            except NotReplayable as why:
                figures = measure_memory(request, cycles, where="in-process")
                figures.note = f"measured in the test process: the loader cannot be replayed in a fresh one ({why})"
        except Exception as error:
            entry.error = error
            entry.record.error = str(error) if isinstance(error, LoadBudgetError) else f"{type(error).__name__}: {error}"
            return
        entry.record.memory = figures
        entry.record.fresh_traced = joined(entry.record.fresh_traced, traced)
        entry.memory_cycles = cycles


def _runtime_growth(figures: Any, where: str, count: int) -> PredictionGrowth:
    """The growth a TF.js runtime measured; a run that returned none says so rather than passing."""
    series = figures.prediction_growth
    if not series:
        return PredictionGrowth(count=count, where=where, note=f"the {where} runtime reported no prediction series")
    return PredictionGrowth.from_runtime(series, where)
