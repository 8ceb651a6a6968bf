"""The regression gate: the baseline a run compares with, and the run it saves.

Workers of pytest-xdist read the baseline to judge their own tests; only the
controller saves, once, with every worker's records merged.
"""

from __future__ import annotations

from pathlib import Path

from pytest_loadbudget.baseline.storage import BaselineStore, SavedRun, read_run
from pytest_loadbudget.baseline.compare import Threshold, compare, parse_compare_fail
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.baseline.fingerprint import machine_facts, machine_id
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.settings import DEFAULT_COMPARE_FAIL, Settings

DEFAULT_STORAGE = ".loadbudget"


class RegressionGate:
    def __init__(self, settings: Settings, rootpath: Path) -> None:
        self.settings = settings
        storage = Path(settings.storage) if settings.storage else rootpath / DEFAULT_STORAGE
        self.store = BaselineStore(storage if storage.is_absolute() else rootpath / storage)
        self.machine = machine_facts()
        self.machine_id = machine_id(self.machine)
        self.thresholds = settings.compare_fail or parse_compare_fail(DEFAULT_COMPARE_FAIL)
        #: Problems to show at the end of the run (an unreadable baseline, a failed save).
        self.problems: list[str] = []
        self.messages: list[str] = []
        self._baseline: SavedRun | None = None
        self._loaded = False

    @property
    def comparing(self) -> bool:
        return self.settings.compare is not None

    def baseline(self) -> SavedRun | None:
        """The saved run to compare with, read once; None (and a problem noted) if unreadable."""
        if not self._loaded and self.comparing:
            self._loaded = True
            try:
                path = self.store.find(self.settings.compare or None, self.machine_id)
                self._baseline = read_run(path)
            except BaselineError as error:
                self.problems.append(f"no comparison: {error}")
        return self._baseline

    @property
    def same_machine(self) -> bool:
        baseline = self._baseline
        return baseline is None or baseline.machine_id == self.machine_id

    def check(self, budget: Budget | None, record: ModelRecord) -> list[Comparison]:
        """Compare ``record`` with its baseline; regressions fail unless the machines differ."""
        baseline = self.baseline()
        old = baseline.record(record.key) if baseline is not None else None
        if old is None or record.error is not None:
            return []
        thresholds: dict[str, Threshold] = self.thresholds
        if budget is not None and budget.compare_fail is not None:
            thresholds = {**thresholds, **parse_compare_fail(budget.compare_fail)}
        same = self.same_machine or self.settings.compare_any_machine
        record.comparisons = compare(old, record, thresholds, same_machine=same)
        return record.comparisons

    def describe_baseline(self) -> str | None:
        baseline = self._baseline
        if baseline is None:
            return None
        where = "this machine" if self.same_machine else f"another machine ({baseline.machine_id})"
        return f"compared with {baseline.path} ({baseline.name}, {baseline.created}, {where})"

    def save(self, records: list[ModelRecord]) -> None:
        if self.settings.save is None:
            return
        name = self.settings.save
        try:
            path = self.store.save(name, self.machine, records)
        except (BaselineError, OSError) as error:
            self.problems.append(f"the run was not saved: {error}")
        else:
            self.messages.append(f"saved this run's figures of {len(records)} model(s) to {path}")
