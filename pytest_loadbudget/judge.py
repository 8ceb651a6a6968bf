"""The verdicts of one test: its budget misses and regressions, judged in the test's call.

Judging runs inside pytest's ``CallInfo`` of the test (a wrapper of
``pytest_runtest_call``), second measurements included: an exception raised
while judging is that test's error, never an INTERNALERROR of the run, and
``--durations`` counts the time. ``pytest_runtest_makereport`` only renders
the ``Judgement`` kept on the item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from pytest_loadbudget.baseline.confirm import Remeasure
    from pytest_loadbudget.baseline.gate import RegressionGate
    from pytest_loadbudget.budget.marker import Budget
    from pytest_loadbudget.model.entry import Entry
    from pytest_loadbudget.paired.gate import PairedGate
    from pytest_loadbudget.results.comparison import Comparison

#: The prefix of a regression line; budget misses carry the marker's name.
REGRESSION_PREFIX = "loadbudget"
#: Verdicts that pass but must be said beside the test: a baseline that could not be used, a figure left undecided.
SAID_RULES = ("paired-undecided", "paired-baseline-unusable", "paired-not-applicable")
#: Paired lines that decide nothing: the saved runs, where compared with, still judge those figures.
UNDECIDING_RULES = ("paired-new", "paired-baseline-unusable", "paired-not-applicable")


@dataclass
class Judgement:
    """What the plugin found about one test.

    ``lines``: the failure lines, one per budget miss or regression.
    ``details``: shown beside them in the test's report section (notes of the
    gate, the diagnosis or the usual fixes). ``failed``: the plugin failed the
    test (raised ``BudgetExceeded`` in its call).
    """

    lines: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    failed: bool = False


#: What judging the test in its call found: rendered by the report hook.
JUDGEMENT_KEY: pytest.StashKey[Judgement] = pytest.StashKey()


class BudgetExceeded(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """A figure of the test missed its budget or regressed: the test fails with one line per figure."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines), pytrace=False)
        self.lines = lines


class GatePolicy(Protocol):
    """One way of telling a regression: the figures of a model against a baseline.

    ``verdicts`` returns the comparisons it decided, or None where it does
    not reach the model; the next policy judges the figures it left.
    """

    def verdicts(self, budget: Budget | None, entry: Entry) -> list[Comparison] | None: ...


class SavedRunsPolicy:
    """Against runs saved earlier (``--loadbudget-compare``), with a second measurement of a suspect time."""

    def __init__(self, gate: Callable[[], RegressionGate], remeasurer: Callable[[str], Remeasure | None]) -> None:
        self.gate = gate
        self.remeasurer = remeasurer

    def verdicts(self, budget: Budget | None, entry: Entry) -> list[Comparison] | None:
        record = entry.record
        return self.gate().check(budget, record, self.remeasurer(record.key))


class PairedPolicy:
    """Against the baseline artifact measured in this run, pair by pair (``--loadbudget-against``).

    ``against``: the test's ``load_model(..., against=PATH)`` by model key, in place of SOURCE.
    """

    def __init__(self, gate: Callable[[], PairedGate], against: dict[str, Path]) -> None:
        self.gate = gate
        self.against = against

    def verdicts(self, budget: Budget | None, entry: Entry) -> list[Comparison] | None:
        return self.gate().check(budget, entry.request, entry.record, self.against.get(entry.request.key))


def judge(
    nodeid: str,
    budget: Budget | None,
    entries: list[Entry],
    policies: Sequence[GatePolicy],
    clock: str,
) -> Judgement:
    """Failure lines (budget misses, regressions) of the models a test loaded, and the details shown beside them.

    Each figure of a model is judged by the first of ``policies`` that decides it: the paired gate's
    verdicts stand, and saved runs (where compared with) judge the figures pairs do not reach.
    """
    from pytest_loadbudget.budget.check import check
    from pytest_loadbudget.budget.marker import MARKER_NAME, describe
    from pytest_loadbudget.measure.floor import bandwidth_or_none
    from pytest_loadbudget.report import terminal as terminal_report
    from pytest_loadbudget.results.record import TestUse

    lines: list[str] = []
    hints: list[str] = []
    notes: list[str] = []
    records = [entry.record for entry in entries]
    for entry in entries:
        record = entry.record
        misses = check(budget, record, clock) if budget is not None else []
        record.tests.append(TestUse(
            nodeid=nodeid,
            budget=describe(budget) if budget is not None else {},
            misses=[miss.line for miss in misses],
        ))
        for miss in misses:
            lines.append(f"{MARKER_NAME}: {miss.line}")
            if miss.hint and f"  {miss.figure}: {miss.hint}" not in hints:
                hints.append(f"  {miss.figure}: {miss.hint}")
        comparisons: list[Comparison] = []
        for policy in policies:
            decided = policy.verdicts(budget, entry) or []
            # A figure is taken by a verdict on it, not by a word that the baseline could not be had.
            taken = {comparison.figure for comparison in comparisons if comparison.rule not in UNDECIDING_RULES}
            comparisons += [comparison for comparison in decided if comparison.figure not in taken]
        record.comparisons = comparisons
        for comparison in comparisons:
            # The note says which clock was compared and what a second measurement found.
            if comparison.regression:
                lines.append(f"{REGRESSION_PREFIX}: {comparison.text}")
            elif comparison.note or comparison.rule in SAID_RULES:
                notes.append(f"{REGRESSION_PREFIX}: {comparison.text}")
    diagnosis = []
    if lines:
        found = terminal_report.diagnosis_lines(records, bandwidth_or_none(), say_when_nothing=False)
        diagnosis = ["  " + line for line in found]
    if diagnosis:
        details = notes + ["diagnosis (what dominates, and what usually fixes it):", *diagnosis]
    else:
        details = notes + (["what usually fixes it:", *hints] if hints else [])
    return Judgement(lines=lines, details=details)
