"""A machine's saved runs as each model's history: its figures run after run, and what changed between.

A model is followed across runs by its identity (schema 1 runs by every
identity ``legacy.py`` maps them to), so a renamed file or another device
is another model, as for the regression gate. Runs are taken oldest first
by the creation time written in each; a run that cannot be read is named in
``problems`` and left out, never guessed at. The run in progress can be
added last, as "this run", before or after it was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_loadbudget.baseline.fingerprint import software_changes
from pytest_loadbudget.baseline.provenance import SHORT_COMMIT
from pytest_loadbudget.baseline.storage import BaselineStore, SavedRun, read_run
from pytest_loadbudget.baseline.times import time_series
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import MIB

#: The label of the run in progress, after the saved ones.
THIS_RUN = "this run"


@dataclass(frozen=True)
class RunInfo:
    """One run of the history. ``label``: the short commit where the run was saved in a git
    checkout ("*" after it with uncommitted changes), else the run's name; ``software``: its facts."""

    label: str
    created: str
    software: dict[str, Any]
    path: Path | None = None


@dataclass
class Point:
    """A model's figures in one run; what changed since the model's previous point."""

    run: RunInfo
    record: ModelRecord
    artifact_changed: bool = False
    #: "tensorflow 2.18.0 → 2.19.0", one per software fact that differs (and the device).
    environment_changes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        """What to mark at this point: "artifact changed", "env changed: ..."."""
        marks = ["artifact changed"] if self.artifact_changed else []
        return marks + ([f"env changed: {', '.join(self.environment_changes)}"] if self.environment_changes else [])


@dataclass
class ModelHistory:
    """One model's points, oldest first; ``identity`` as the first run that has it knew it."""

    identity: str
    points: list[Point] = field(default_factory=list)

    @property
    def record(self) -> ModelRecord:
        """The newest figures."""
        return self.points[-1].record

    @property
    def label(self) -> str:
        """``name [format, where]``: where is the TF.js runtime, or the device in Python."""
        record = self.record
        where = record.runtime if record.runtime != "python" else record.device.split(" (driver")[0]
        return f"{record.name} [{record.format}, {where}]"

    def values(self, figure: str, clock: str = "own") -> tuple[list[float | None], str]:
        """``figure`` at each point (None where a run lacks it), and the clock of the times.

        Own time only where every point that has the time has it: one series
        mixing own and wall time would show a step where nothing changed.
        """
        if FIGURES[figure].kind != "time":
            return [figure_value(figure, point.record, "wall") for point in self.points], ""
        if clock == "own":
            measured = [point.record for point in self.points if time_series(figure, point.record, "wall")[0]]
            clock = "own" if all(time_series(figure, record, "own")[1] == "own" for record in measured) else "wall"
        return [figure_value(figure, point.record, clock) for point in self.points], clock

    def some_own(self, figure: str) -> bool:
        """Whether any point has ``figure`` in own time (so a wall time series left some out)."""
        return any(time_series(figure, point.record, "own")[1] == "own" for point in self.points)


def figure_value(figure: str, record: ModelRecord, clock: str) -> float | None:
    """One figure of a record (every figure of ``figures.FIGURES``): a time's median in ms, a size or
    memory in MiB, a tensor count.

    The growth over a record's predictions is over however many it ran (``predictions=N``).
    """
    unit = FIGURES[figure].unit
    if FIGURES[figure].kind == "time":
        samples, _ = time_series(figure, record, clock)
        return samples.median if samples else None
    memory, predictions = record.memory, record.predictions
    count = {
        "leak_tensors": record.leak_tensors,
        "predict_leak_tensors": predictions.tensor_growth if predictions is not None else None,
        "mb": record.size_bytes,
        "peak_mb": memory.peak_bytes if memory is not None else None,
        "leak_mb": memory.leak_bytes if memory is not None else None,
        "gpu_mb": record.gpu_bytes,
        "predict_leak_mb": predictions.memory_growth if predictions is not None else None,
    }[figure]
    if count is None:
        return None
    return count / MIB if unit == "MiB" else float(count)


@dataclass
class History:
    """The runs of one machine, oldest first, and every model's points among them."""

    machine: str
    runs: list[RunInfo] = field(default_factory=list)
    models: list[ModelHistory] = field(default_factory=list)
    #: Runs left out, one line each naming the file and the problem.
    problems: list[str] = field(default_factory=list)
    _by_identity: dict[str, ModelHistory] = field(default_factory=dict, repr=False)

    def add_run(self, run: RunInfo, entries: list[tuple[ModelRecord, list[str]]]) -> None:
        """Append a run; each record joins the model that any of its identities already names."""
        self.runs.append(run)
        for record, identities in entries:
            model = next((self._by_identity[i] for i in identities if i in self._by_identity), None)
            if model is None:
                model = ModelHistory(identities[0])
                self.models.append(model)
            elif model.points and model.points[-1].run is run:
                continue  # two records of one run answer to the same model: the first is kept
            for identity in identities:
                self._by_identity.setdefault(identity, model)
            model.points.append(_point(run, record, model.points[-1] if model.points else None))


def _point(run: RunInfo, record: ModelRecord, previous: Point | None) -> Point:
    if previous is None:
        return Point(run, record)
    old = previous.record
    artifact_changed = bool(old.artifact_sha256 and record.artifact_sha256
                            and old.artifact_sha256 != record.artifact_sha256)
    # Software a run did not record (schema 1 before it kept any) is no change.
    changes = software_changes(previous.run.software, run.software) if previous.run.software else []
    if old.device != record.device:
        changes.append(f"device {old.device} → {record.device}")
    return Point(run, record, artifact_changed, changes)


def run_label(name: str, provenance: dict[str, Any] | None) -> str:
    """The short commit a run was saved at ("*" when the checkout had uncommitted changes), else its name."""
    commit = (provenance or {}).get("commit")
    if not commit:
        return name
    return str(commit)[:SHORT_COMMIT] + ("*" if (provenance or {}).get("dirty") else "")


def saved_run_info(run: SavedRun) -> RunInfo:
    return RunInfo(run_label(run.name, run.provenance), run.created, run.software, run.path)


def current_entries(records: list[ModelRecord]) -> list[tuple[ModelRecord, list[str]]]:
    """This run's records as a saved run's entries: by identity (a tool's record by its key)."""
    return [(record, [record.identity or record.key]) for record in records if record.error is None]


def read_history(
    store: BaselineStore, machine: str, *, last: int | None = None, leave_out: Path | None = None,
) -> History:
    """The saved runs of ``machine`` (its schema 1 folders too), oldest first; the newest ``last`` of them.

    ``leave_out``: a run not to read (the one this session just saved, shown as "this run").
    """
    history = History(machine)
    runs: list[SavedRun] = []
    # Newest first until ``last`` runs could be read: a file that is not a run is not one of them.
    for path in store.newest_first(store.runs(machine)):
        if last is not None and len(runs) == last:
            break
        if path == leave_out:
            continue
        try:
            runs.append(read_run(path))
        except BaselineError as error:
            history.problems.append(f"left out: {error}")
    for run in reversed(runs):
        history.problems.extend(run.problems)
        history.add_run(saved_run_info(run), run.entries)
    return history

