"""The regression gate: the baseline a run compares with, and the run it saves.

Workers of pytest-xdist read the baseline to judge their own tests; only the
controller saves, once, with every worker's records merged.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pytest_loadbudget.baseline.compare import compare, traced_apart
from pytest_loadbudget.baseline.confirm import Remeasure, confirm
from pytest_loadbudget.baseline.creep import CREEP_LOOKBACK, crept
from pytest_loadbudget.baseline.fingerprint import hardware_facts, machine_id, software_facts
from pytest_loadbudget.baseline.lookup import Baseline, GateSummary, annotate, environment_note, summarize
from pytest_loadbudget.baseline.provenance import autosave_name, git_provenance
from pytest_loadbudget.baseline.rules import name_rules
from pytest_loadbudget.baseline.storage import BaselineStore, SavedRun, read_run
from pytest_loadbudget.baseline.times import TIMED
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.budget.thresholds import Threshold, default_thresholds, merge_thresholds, parse_compare_fail
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.settings import Settings

DEFAULT_STORAGE = ".loadbudget"


class RegressionGate:
    def __init__(self, settings: Settings, rootpath: Path) -> None:
        self.settings = settings
        storage = Path(settings.storage) if settings.storage else rootpath / DEFAULT_STORAGE
        self.store = BaselineStore(storage if storage.is_absolute() else rootpath / storage)
        self.rootpath = rootpath
        #: The machine is its hardware (or the name --loadbudget-machine gives
        #: it); the software is recorded and diffed, and judged all the same.
        self.hardware = hardware_facts()
        self.software = software_facts()
        self.machine_id = settings.machine or machine_id(self.hardware)
        self.thresholds = merge_thresholds(default_thresholds(), settings.compare_fail or {})
        #: Problems to show at the end of the run (an unreadable baseline, a failed save).
        self.problems: list[str] = []
        self.messages: list[str] = []
        #: The file this run was saved to, once saved: a history of the saved runs shows it as this run.
        self.saved_path: Path | None = None
        self._baseline: Baseline | None = None
        self._loaded = False

    @property
    def comparing(self) -> bool:
        return self.settings.compare is not None

    def baseline(self) -> Baseline | None:
        """The saved figures to compare with, read once; None (and a problem noted) without any.

        A named run is read alone; a bare --loadbudget-compare consults this
        machine's runs newest first, as far as each model's lookup needs, and
        only without any falls back to the newest run of another machine.
        """
        if not self._loaded and self.comparing:
            self._loaded = True
            try:
                self._baseline = self._read_baseline()
            except BaselineError as error:
                self.problems.append(f"no comparison: {error}")
        return self._baseline

    def _read_baseline(self) -> Baseline | None:
        spec = self.settings.compare or None
        paths = self.store.newest_first(self.store.runs(self.machine_id)) if spec is None else []
        if not paths:
            paths = [self.store.find(spec, self.machine_id)]  # a named run, or another machine's newest
        baseline = Baseline(paths, self._read_run, per_model=spec is None, machine_id=self.machine_id)
        return baseline if baseline.read_next() else None

    def _read_run(self, path: Path) -> SavedRun | None:
        try:
            run = read_run(path)
        except BaselineError as error:
            self.problems.append(f"no comparison: {error}")  # left untouched; older runs may still serve
            return None
        self.problems.extend(run.problems)
        return run

    def _find(self, record: ModelRecord) -> tuple[ModelRecord, SavedRun] | None:
        baseline = self.baseline()
        if baseline is None or record.error is not None or not record.identity:
            return None
        return baseline.find(record.identity)

    def enforced(self, run: SavedRun) -> bool:
        """Whether regressions against ``run`` fail: the same machine, or --loadbudget-compare-any-machine."""
        return run.machine_id == self.machine_id or self.settings.compare_any_machine

    def check(
        self, budget: Budget | None, record: ModelRecord, remeasure: Remeasure | None = None,
    ) -> list[Comparison]:
        """Compare ``record`` with its baseline; regressions fail unless the machines differ.

        Times are judged on the clock of ``--loadbudget-clock``; a suspected
        time regression fails only if ``remeasure`` (a second measurement,
        taken once per model) regresses too (``baseline/confirm.py``).
        """
        found = self._find(record)
        if found is None:
            return []  # a new model: the summary lists it
        old, run = found
        newest = old
        baseline = self.baseline()
        assert baseline is not None  # a model was found in it
        old, history = baseline.typical(record.identity, old, run, self.settings.baseline_runs,
                                        self.settings.clock)
        # A saved run traced unlike this one (a profiler, a debugger: ``measure/tracing.py``) is neither its
        # baseline nor part of the machine's spread; the newest alike stands in. None alike: not judged.
        alike = tuple(saved for saved in history if not traced_apart("ms", saved, record))
        if alike:
            old, history = (old if any(saved is old for saved in alike) else alike[0]), alike
        thresholds: dict[str, Threshold] = self.thresholds
        if budget is not None and budget.compare_fail is not None:
            thresholds = merge_thresholds(thresholds, parse_compare_fail(budget.compare_fail))
        same = self.enforced(run)
        comparisons = compare(old, record, thresholds, same_machine=same, clock=self.settings.clock,
                              history=history)
        if len(history) > 1:
            annotate([comparison for comparison in comparisons if comparison.figure in TIMED],
                     f"baseline: the median of {len(history)} saved runs")
        if remeasure is not None:
            confirm(comparisons, old, record, thresholds, remeasure, clock=self.settings.clock, history=history)
        annotate(comparisons, environment_note(run, self.software, old, record))
        name_rules(comparisons)
        if baseline.per_model and baseline.same_machine(run):
            # A named run is read alone; another machine's runs are not this machine's history.
            lineage = [(saved, older.name or older.path.stem) for saved, older
                       in baseline.lineage(record.identity, newest, run, CREEP_LOOKBACK, consult=False)]
            for comparison in comparisons:
                if comparison.figure in TIMED:
                    comparison.crept = crept(comparison.figure, lineage, thresholds.get(comparison.figure),
                                             self.settings.clock)
        record.comparisons = comparisons
        return record.comparisons

    def summary(self, records: list[ModelRecord]) -> GateSummary | None:
        """What the run was compared with, whether that can fail it, and which models had no counterpart.

        Computed from the records (with xdist, the workers' merged), so the
        controller, which judged nothing itself, says it too.
        """
        baseline = self.baseline()
        if baseline is None:
            return None
        return summarize(baseline, records, enforce_any_machine=self.settings.compare_any_machine)

    @functools.cached_property
    def provenance(self) -> dict[str, Any] | None:
        """The git commit, branch and dirty flag of the rootdir's checkout; None outside one."""
        return git_provenance(self.rootpath)

    def save(self, records: list[ModelRecord]) -> None:
        """Save the run under --loadbudget-save's name, or --loadbudget-autosave's commit id."""
        if self.settings.save is not None:
            name = self.settings.save
        elif self.settings.autosave:
            name = autosave_name(self.provenance)
        else:
            return
        try:
            path = self.store.save(name, {**self.hardware, **self.software}, records,
                                   provenance=self.provenance, machine=self.settings.machine)
        except (BaselineError, OSError) as error:
            self.problems.append(f"the run was not saved: {error}")
        else:
            self.saved_path = path
            self.messages.append(f"saved this run's figures of {len(records)} model(s) to {path}")
