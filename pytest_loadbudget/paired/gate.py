"""The paired gate: each model against its baseline artifact, both measured in this run.

With ``--loadbudget-against=SOURCE`` (or ``load_model(..., against=PATH)``)
a model's verdicts come from pairs of loads of the baseline artifact (A) and
the candidate (B) in this process, not from runs saved on another day: a
machine's speed drifts between runs (here 0.73-2.26x for an unchanged
model), while within a pair it cancels. Sizes are exact: compared, not
paired. The saved-run gate keeps judging models the paired gate does not
reach (a loader function, a TF.js runtime).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from pytest_loadbudget.baseline.compare import SIZE_FLOOR_BYTES
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.budget.thresholds import (
    Threshold, default_thresholds, merge_thresholds, parse_compare_fail,
)
from pytest_loadbudget.errors import LoadBudgetError
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.model.identity import artifact_digest
from pytest_loadbudget.model.placement import PYTHON
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.paired.pairs import PAIRED_TIMES, Pairs, measure_pairs
from pytest_loadbudget.paired.source import Absent, Found, Lookup, Source, SourceError, Unusable, resolve_source
from pytest_loadbudget.paired.verdict import (
    DEFAULT_PAIRED_COMPARE_FAIL, RULE_NEW, RULE_NOT_PAIRED, RULE_SAME_BYTES, RULE_SIZE, RULE_UNUSABLE,
    PairedVerdict,
)
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.settings import Settings
from pytest_loadbudget.units import MIB, format_mib


class PairedGate:
    """Resolves SOURCE once per session and judges each model it reaches."""

    def __init__(self, settings: Settings, rootpath: Path, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.rootpath = rootpath
        self.rng = rng if rng is not None else random.Random()
        self._source: Source | None = None

    def applies(self, request: LoadRequest) -> bool:
        return request.against is not None or self.settings.against is not None

    def source(self) -> Source:
        """SOURCE, resolved on first use; SourceError (the test's error) names what it is not."""
        if self._source is None:
            assert self.settings.against is not None  # only asked when --loadbudget-against is set
            self._source = resolve_source(self.settings.against, self.rootpath)
        return self._source

    def close(self) -> None:
        if self._source is not None:
            self._source.close()

    def check(self, budget: Budget | None, request: LoadRequest, record: ModelRecord) -> list[Comparison] | None:
        """The paired verdicts of one model; None where pairs cannot reach it (the saved runs judge it then)."""
        if not self.applies(request) or record.error is not None:
            return None
        against = str(request.against) if request.against is not None else self.settings.against or ""
        if request.runtime != PYTHON or request.path is None:
            why = ("a loader function has no file to look up" if request.path is None
                   else f"paired loads run in Python; the {request.runtime} runtime is judged by saved runs")
            record.comparisons = [Comparison("ms", f"{record.name} not paired against {against}: {why}", False,
                                             rule=RULE_NOT_PAIRED)]
            return None
        found = self._lookup(request)
        if not isinstance(found, Found):
            rule = RULE_NEW if isinstance(found, Absent) else RULE_UNUSABLE
            comparisons = [Comparison("mb", f"{record.name} {_word(found)} against {against}: {found.why}", False,
                                      rule=rule)]
            record.comparisons = comparisons
            return comparisons
        baseline = dataclasses.replace(request, path=found.path, against=None)
        try:
            baseline_files = baseline.format.artifact_files(found.path)
            candidate_files = request.format.artifact_files(request.path)
        except LoadBudgetError as error:
            comparisons = [Comparison("mb", f"{record.name} unusable at {against}: {error}", False, rule=RULE_UNUSABLE)]
            record.comparisons = comparisons
            return comparisons
        thresholds = self._thresholds(budget)
        if _digest(baseline_files, found.path) == _digest(candidate_files, request.path):
            comparisons = [Comparison("mb", f"{record.name} same bytes as {against}: not measured twice", False,
                                      rule=RULE_SAME_BYTES, change="+0%")]
            record.comparisons = comparisons
            return comparisons
        comparisons = [_size(record.name, against, baseline_files, candidate_files, thresholds.get("mb"))]
        if record.load_ms.values:  # measured in this process (not --loadbudget-disable, not a manifest read)
            comparisons += self._paired_times(record.name, against, baseline, request, thresholds)
        record.comparisons = comparisons
        return comparisons

    def _lookup(self, request: LoadRequest) -> Lookup:
        assert request.path is not None
        if request.against is not None:
            if not request.against.exists():
                return Unusable(f"{request.against} (load_model against=) does not exist")
            return Found(request.against)
        try:
            source = self.source()
        except SourceError:
            raise  # a SOURCE that is neither a revision nor a directory: every paired test says so
        if request.format_name.startswith("tfjs") and request.path.is_file():
            # model.json and its shards come whole.
            folder = source.lookup(request.path.parent, whole_directory=True)
            return Found(folder.path / request.path.name) if isinstance(folder, Found) else folder
        return source.lookup(request.path, whole_directory=request.path.is_dir())

    def _thresholds(self, budget: Budget | None) -> dict[str, Threshold]:
        # The paired defaults for the times, the saved-run gate's for the size (default_thresholds()).
        thresholds = merge_thresholds({"mb": default_thresholds()["mb"]}, parse_compare_fail(DEFAULT_PAIRED_COMPARE_FAIL))
        if self.settings.compare_fail:
            thresholds = merge_thresholds(thresholds, self.settings.compare_fail)
        if budget is not None and budget.compare_fail is not None:
            thresholds = merge_thresholds(thresholds, parse_compare_fail(budget.compare_fail))
        return thresholds

    def _paired_times(
        self, name: str, against: str, baseline: LoadRequest, candidate: LoadRequest,
        thresholds: dict[str, Threshold],
    ) -> list[Comparison]:
        def factor(pairs: Pairs, figure: str) -> float | None:
            threshold = thresholds.get(figure)
            if threshold is None:
                return None
            if threshold.relative:
                return 1.0 + threshold.amount
            side = pairs.a.load if figure == "ms" else pairs.a.warm
            typical = sorted(side)[len(side) // 2] if side else 0.0
            return 1.0 + threshold.amount / typical if typical > 0 else None

        def verdicts(pairs: Pairs) -> list[PairedVerdict]:
            found = []
            for figure in PAIRED_TIMES:
                estimate = pairs.estimate(figure)
                if estimate is not None:
                    found.append(PairedVerdict(figure, FIGURES[figure].label, estimate, factor(pairs, figure),
                                               pairs.clock, against))
            return found

        def decided(pairs: Pairs) -> bool:
            return all(verdict.outcome != "undecided" for verdict in verdicts(pairs))

        try:
            pairs = measure_pairs(baseline, candidate, wall_clock=self.settings.clock == "wall",
                                  seconds=self.settings.against_seconds, decided=decided, rng=self.rng)
        except Exception as error:  # noqa: BLE001 - the baseline's own loader failing: said, the candidate judged
            return [Comparison("ms", f"{name} baseline at {against} did not load: {type(error).__name__}: {error}",
                               False, rule=RULE_UNUSABLE)]
        comparisons = []
        for verdict in verdicts(pairs):
            outcome = verdict.outcome
            comparisons.append(Comparison(
                verdict.figure, verdict.line(name, pairs.seconds), regression=outcome == "regression",
                change=f"{(verdict.found.ratio - 1) * 100:+.0f}%", grown=outcome == "regression",
                measured=f"{verdict.found.ratio:.2f}x", rule=verdict.rule,
                numbers={**verdict.numbers(pairs.seconds), "orders": "".join(o[0] for o in pairs.orders)},
            ))
        return comparisons


def _word(found: Absent | Unusable) -> str:
    return "new" if isinstance(found, Absent) else "unusable"


def _digest(files: list[Path], path: Path) -> str:
    return artifact_digest(files, path if path.is_dir() else path.parent)


def _size(name: str, against: str, old_files: list[Path], new_files: list[Path],
          threshold: Threshold | None) -> Comparison:
    """Sizes are exact: no pairs. The floor for metadata applies to a relative threshold, as in the saved-run gate."""
    old, new = sum(path.stat().st_size for path in old_files), sum(path.stat().st_size for path in new_files)
    change = f"{(new - old) / old * 100:+.1f}%" if old else "new"
    floor = SIZE_FLOOR_BYTES if threshold is not None and threshold.relative else 0
    grown = threshold is not None and new - old > floor and threshold.exceeded(old, new, MIB)
    line = (f"{name} size {format_mib(new)} against {against} {format_mib(old)} ({change}, {new - old:+d} bytes)"
            + ("" if threshold is not None else ", not judged"))
    return Comparison("mb", line, regression=grown, change=change, grown=grown, measured=format_mib(new),
                      rule=RULE_SIZE, numbers={"bytes": new, "against_bytes": old, "against": against})
