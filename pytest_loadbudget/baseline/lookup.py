"""The baseline of each model: which saved figures a run is judged against, and what it says about them.

``--loadbudget-compare=NAME`` names one saved run. A bare ``--loadbudget-compare``
compares each model with its own newest saved figures on this machine:
suites sharded over CI jobs (a matrix, ``-k``, ``--lf``) save runs that each
hold some of the models, and the newest run alone would leave the others
without a baseline. Without any run of this machine, the newest run of
another is shown, and the gate is said, loudly, not to be enforced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_loadbudget.baseline.fingerprint import software_changes
from pytest_loadbudget.baseline.provenance import describe as describe_provenance
from pytest_loadbudget.baseline.storage import SavedRun
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ModelRecord

#: Names listed in a "new" or "not measured" line before "and N more".
LISTED = 10


class Baseline:
    """Saved runs, newest first; a model's baseline is its figures in the first that has them.

    Runs are read as lookups need them: a suite whose newest run holds every
    model reads that one, however many runs the storage keeps, and "not
    measured" speaks of the runs consulted, not of every model ever saved.
    """

    def __init__(
        self, paths: list[Path], read: Callable[[Path], SavedRun | None], *, per_model: bool, machine_id: str,
    ) -> None:
        self._pending = list(paths)
        self._read = read
        self.runs: list[SavedRun] = []
        #: True for a bare --loadbudget-compare (each model its newest figures), False for one named run.
        self.per_model = per_model
        self.machine_id = machine_id
        #: The runs a baseline lookup consulted (``find``, ``typical``), from the newest: the runs "not
        #: measured" speaks of. Reading further back for a history (``lineage(consult=False)``) leaves it.
        self._consulted = 0

    def read_next(self) -> bool:
        """Read the next run that can be read (an unreadable one is the reader's to report); False when none is left."""
        while self._pending:
            run = self._read(self._pending.pop(0))
            if run is not None:
                self.runs.append(run)
                return True
        return False

    def find(self, identity: str) -> tuple[ModelRecord, SavedRun] | None:
        index = 0
        while index < len(self.runs) or self.read_next():
            run = self.runs[index]
            record = run.record(identity)
            if record is not None:
                self._consulted = max(self._consulted, index + 1)
                return record, run
            index += 1
        self._consulted = len(self.runs)
        return None

    def typical(
        self, identity: str, newest: ModelRecord, run: SavedRun, depth: int, clock: str,
    ) -> tuple[ModelRecord, tuple[ModelRecord, ...]]:
        """Of the newest ``depth`` runs that measured this model alike, the one with the median load time.

        On a shared machine a whole run can read 10-25% slow or fast, and a
        baseline saved in such a run hides a real regression or invents one.
        The runs before ``newest``'s count while they measured the same
        artifact, on the same device, on this machine, in the same software:
        the history stops at a change, so a change that was accepted is judged
        against figures taken after it. The chosen run's rounds are judged as
        they were measured (joining the runs' rounds would mix their offsets,
        and a rank test over such a mixture loses its power). A run named
        by ``--loadbudget-compare=NAME`` is read alone, and judged alone.
        Returns the baseline record and the records it was chosen from (itself
        alone where there was no choice): their spread is how far this
        machine's unchanged runs stray (``compare._within_machine_noise``).
        """
        if depth <= 1 or not self.same_machine(run):
            return newest, (newest,)
        candidates = [record for record, _ in self.lineage(identity, newest, run, depth)]
        timed = [record for record in candidates if record.timing("ms", clock)[0]]
        if len(timed) < 2:
            return newest, (newest,)
        ranked = sorted(timed, key=lambda record: record.timing("ms", clock)[0].median)
        # Of two middle runs (an even count), the newer: two runs alone are judged as before, by the newest.
        middle = ranked[(len(ranked) - 1) // 2], ranked[len(ranked) // 2]
        return min(middle, key=timed.index), tuple(timed)

    def lineage(
        self, identity: str, newest: ModelRecord, run: SavedRun, limit: int, *, consult: bool = True,
    ) -> list[tuple[ModelRecord, SavedRun]]:
        """The model's saved records, ``newest`` (saved in ``run``) first, back to the last change of its
        artifact, device or software on this machine, at most ``limit``, each with its run; runs are read
        only as far as that. ``consult``: the runs it looked at count among those the baseline consulted."""
        lineage = [(newest, run)]
        index = self.runs.index(run) + 1
        while len(lineage) < limit and (index < len(self.runs) or self.read_next()):
            older = self.runs[index]
            index += 1
            if not self.same_machine(older):
                continue
            record = older.record(identity)
            if record is None:
                continue  # a shard or a -k run that did not load this model
            if (record.artifact_sha256 != newest.artifact_sha256 or record.device != newest.device
                    or older.software != run.software):
                break
            lineage.append((record, older))
        if consult:
            self._consulted = max(self._consulted, index)
        return lineage

    def saved_models(self) -> list[tuple[ModelRecord, list[str], SavedRun]]:
        """Every model the runs consulted hold, once: the newest figures of each identity."""
        seen: set[str] = set()
        models = []
        for run in self.runs[:max(self._consulted, 1)]:
            for record, identities in run.entries:
                if identities and not seen.intersection(identities):
                    seen.update(identities)
                    models.append((record, identities, run))
        return models

    def same_machine(self, run: SavedRun) -> bool:
        return run.machine_id == self.machine_id


def environment_note(run: SavedRun, software: dict[str, Any], old: ModelRecord, new: ModelRecord) -> str:
    """``env changed: tensorflow 2.19.0 → 2.21.0``: what differs from the baseline's software; "" if nothing."""
    changes = software_changes(run.software, software) if run.software else []
    if old.device != new.device:
        changes.append(f"device {old.device} → {new.device}")  # a GPU driver: the identity leaves it out
    return f"env changed: {', '.join(changes)}" if changes else ""


def annotate(comparisons: list[Comparison], note: str) -> None:
    """Add ``note`` inside each line's parentheses: ``(+35%, p=0.001, same artifact; env changed: ...)``."""
    if not note:
        return
    for comparison in comparisons:
        line = comparison.line
        comparison.line = f"{line[:-1]}; {note})" if line.endswith(")") else f"{line} ({note})"


@dataclass(frozen=True)
class GateSummary:
    """What the report says about the comparison as a whole.

    ``described``: the run(s) compared with; ``not_enforced``: the loud line
    when regressions cannot fail (other hardware), else ""; ``new``: models
    of this run without a baseline; ``not_measured``: baseline models this
    run did not load.
    """

    described: str
    not_enforced: str = ""
    new: tuple[str, ...] = ()
    not_measured: tuple[str, ...] = ()
    #: Each figure whose saved runs crept: "model [format, device] load: why" (``baseline/creep.py``).
    crept: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The "new", "not measured" and "crept" lines, when there are any."""
        lines = []
        if self.new:
            lines.append(f"new (no baseline, nothing compared): {_listed(self.new)}")
        if self.not_measured:
            lines.append(f"not measured (in the baseline, not loaded by this run): {_listed(self.not_measured)}")
        lines.extend(f"crept: {entry}" for entry in self.crept)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"described": self.described, "not_enforced": self.not_enforced, "new": list(self.new),
                "not_measured": list(self.not_measured), "crept": list(self.crept)}


def summarize(baseline: Baseline, records: list[ModelRecord], enforce_any_machine: bool) -> GateSummary:
    """The summary of a run's ``records`` against ``baseline``."""
    measured: set[str] = set()
    new: list[str] = []
    crept = [f"{_label(record)} {comparison.label}: {comparison.crept}"
             for record in records for comparison in record.comparisons if comparison.crept]
    models_from: Counter[Path] = Counter()
    for record in records:
        if record.error is not None or not record.identity:
            continue
        measured.add(record.identity)
        found = baseline.find(record.identity)
        if found is None:
            new.append(_label(record))
            continue
        models_from[found[1].path] += 1
    not_measured = [
        f"{_label(record)} ({run.path.name})" if baseline.per_model and len(baseline.runs) > 1 else _label(record)
        for record, identities, run in baseline.saved_models() if not measured.intersection(identities)
    ]
    # Newest first, as the runs were searched.
    counted = [(run, models_from[run.path]) for run in baseline.runs if run.path in models_from]
    runs = [run for run, _ in counted] or baseline.runs[:1]
    return GateSummary(
        described=_described(baseline, counted or [(run, 0) for run in runs]),
        not_enforced="" if enforce_any_machine else _not_enforced(baseline, runs),
        new=tuple(new), not_measured=tuple(not_measured), crept=tuple(crept),
    )


def _described(baseline: Baseline, used: list[tuple[SavedRun, int]]) -> str:
    if len(used) == 1:
        (run, _), = used
        where = "this machine" if baseline.same_machine(run) else f"another machine ({run.machine_id or 'unknown'})"
        return f"compared with {run.path} ({_about(run)}, {where})"
    parts = "; ".join(f"{run.path} ({_about(run)}): {count} model(s)" for run, count in used)
    return f"compared each model with its newest saved figures on this machine ({baseline.machine_id}): {parts}"


def _about(run: SavedRun) -> str:
    return ", ".join(part for part in (run.name, run.created, describe_provenance(run.provenance)) if part)


def _not_enforced(baseline: Baseline, runs: list[SavedRun]) -> str:
    others = [run for run in runs if not baseline.same_machine(run)]
    if not others:
        return ""
    run = others[0]
    theirs = run.machine_id or "unknown hardware"
    return (f"REGRESSION GATE NOT ENFORCED: the baseline {run.path.name} comes from other hardware ({theirs}; "
            f"this is {baseline.machine_id}): verdicts are shown, nothing fails "
            "(--loadbudget-compare-any-machine to enforce, --loadbudget-machine=NAME to name one machine)")


def _label(record: ModelRecord) -> str:
    where = record.runtime if record.runtime != "python" else record.device.split(" (driver")[0]
    via = f", {record.interpreter}" if record.interpreter else ""  # two interpreters are two models
    return f"{record.name} [{record.format}, {where}{via}]"


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")
