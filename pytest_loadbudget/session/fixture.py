"""The ``load_model`` fixture: what a test calls to get a measured, warm model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats.tflite_interpreters import InterpreterUnavailable
from pytest_loadbudget.model.entry import Entry
from pytest_loadbudget.model.placement import PYTHON, Placement
from pytest_loadbudget.model.request import AUTO
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.session.model_cache import ModelCache
from pytest_loadbudget.session.resolve import make_request
from pytest_loadbudget.session.tfjs_sessions import DEFAULT_BACKEND
from pytest_loadbudget.settings import Settings
from pytest_loadbudget.stash_keys import AGAINST_KEY, BUDGET_KEY, USED_KEY
from pytest_loadbudget.tfjs_runtime.errors import RuntimeUnavailable


def requested_device(budget: Budget | None, settings: Settings) -> str:
    """"cpu", "gpu", or "" for the framework's choice; a GPU memory budget asks for the GPU."""
    if budget is not None and budget.runtime not in (None, PYTHON):
        return ""  # a TF.js runtime picks its device through its backend
    if budget is not None and budget.device:
        return budget.device
    if budget is not None and budget.gpu_mb is not None:
        return "gpu"
    return settings.device or ""


def placement(budget: Budget | None, settings: Settings) -> Placement:
    """Where the budget asks the model to be measured: a TF.js runtime, or Python on a device."""
    if budget is not None and budget.runtime not in (None, PYTHON):
        cache_policy = (budget.cache_policy or "cache") if budget.runtime == "browser" else ""
        return Placement(runtime=budget.runtime, backend=budget.backend or DEFAULT_BACKEND, cache_policy=cache_policy,
                         worker=bool(budget.worker))
    return Placement(device=requested_device(budget, settings))


class LoadModel:
    """Loads a model once per session, measures it, warms it, and hands it out.

    ``load_model(path)`` detects the format from the path; ``format=`` names it
    (keras, h5, savedmodel, tflite, tfjs-layers, tfjs-graph). A function is its
    own loader: ``load_model(my_loader, name="tokenizer", **kwargs)`` calls
    ``my_loader(**kwargs)``. ``warmup`` is ``"auto"`` (zeros shaped like the
    model's inputs), an input batch, a function of the model, or None.
    ``files`` lists extra files the load reads, counted in the size.
    ``interpreter`` runs a .tflite model ("litert", "tensorflow",
    "tflite-runtime"; default: the marker's, else the first installed); a test
    whose interpreter is not installed is skipped. ``against`` names this
    model's baseline artifact for the paired gate (a file or a directory
    model: the production model CI downloaded, say), in place of its copy at
    ``--loadbudget-against``.
    Other keyword arguments go to the loader.
    """

    def __init__(self, store: ModelCache, settings: Settings, item: pytest.Item) -> None:
        self._store = store
        self._settings = settings
        self._item = item
        self.last: ModelRecord | None = None

    @property
    def measuring(self) -> bool:
        """False under ``--loadbudget-disable``: models load once, and ``last`` holds no figures to read."""
        return not self._settings.disable

    def __call__(
        self,
        source: str | os.PathLike[str] | Callable[..., Any],
        *,
        format: str | None = None,
        name: str | None = None,
        warmup: Any = AUTO,
        files: list[str | os.PathLike[str]] | None = None,
        interpreter: str | None = None,
        against: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> Any:
        budget = self._item.stash.get(BUDGET_KEY, None)
        if interpreter is None and budget is not None:
            interpreter = budget.interpreter
        try:
            request = make_request(
                source, format=format, name=name, warmup=warmup, files=files, options=options,
                base_dir=Path(str(self._item.path)).parent, root=self._item.config.rootpath,
                placement=placement(budget, self._settings), interpreter=interpreter,
            )
        except InterpreterUnavailable as error:
            pytest.skip(str(error))
        except ModelFileError as error:
            # Reported like any broken model: in the test, the report and the JSON.
            self._hand_out(self._store.failed(f"unresolved:{error.path}", str(source), error))
            raise
        if against is not None:
            against_path = Path(against)
            if not against_path.is_absolute():
                beside_test = Path(str(self._item.path)).parent / against_path
                against_path = against_path.absolute() if against_path.exists() else beside_test
            # Kept on the test, not the session's model: another test may name another baseline for it.
            self._item.stash.setdefault(AGAINST_KEY, {})[request.key] = against_path
        rounds = budget.rounds if budget is not None and budget.rounds is not None else self._settings.rounds
        entry = self._store.get(request, rounds=rounds, memory_cycles=self._memory_cycles(budget),
                                cold=self._cold(budget),
                                predictions=budget.prediction_count if budget is not None else None,
                                fleet=self._fleet(budget))
        if isinstance(entry.error, RuntimeUnavailable):
            pytest.skip(str(entry.error))
        return self._hand_out(entry)

    def _hand_out(self, entry: Entry) -> Any:
        used = self._item.stash.setdefault(USED_KEY, [])
        if entry not in used:
            used.append(entry)
        self.last = entry.record
        if entry.error is not None:
            raise entry.error
        return entry.model

    def _cold(self, budget: Budget | None) -> tuple[int, bool] | None:
        if not (budget is not None and budget.needs_cold) and self._settings.cold != "all":
            return None
        runs = budget.cold_runs if budget is not None and budget.cold_runs else self._settings.cold_runs
        evict = budget.cold_disk if budget is not None and budget.cold_disk is not None else self._settings.cold_disk
        return runs, evict

    def _fleet(self, budget: Budget | None) -> tuple[int, bool] | None:
        """Processes to start at once, with the page cache as the single cold start has it."""
        cold = self._cold(budget)
        if budget is None or budget.fleet_size is None or cold is None:
            return None
        return budget.fleet_size, cold[1]

    def _memory_cycles(self, budget: Budget | None) -> int | None:
        wanted: int | None = None
        if budget is not None and budget.needs_memory:
            wanted = budget.cycles or (self._settings.cycles if budget.leak_mb is not None else 1)
        if self._settings.memory == "all":
            wanted = max(wanted or 0, self._settings.cycles)
        return wanted
