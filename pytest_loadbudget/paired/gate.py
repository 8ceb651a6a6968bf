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
import hashlib
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
from pytest_loadbudget.paired.source import Absent, Found, Lookup, Source, Unusable, resolve_source
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
        #: Each model's verdicts by (model key, baseline): measured once, whichever test asks first.
        self._verdicts: dict[tuple[str, str], list[Comparison]] = {}

    def source(self) -> Source:
        """SOURCE, resolved on first use; SourceError (the test's error) names what it is not."""
        if self._source is None:
            assert self.settings.against is not None  # only asked when --loadbudget-against is set
            self._source = resolve_source(self.settings.against, self.rootpath)
        return self._source

    def close(self) -> None:
        if self._source is not None:
            self._source.close()

    def check(
        self, budget: Budget | None, request: LoadRequest, record: ModelRecord, against_path: Path | None = None,
    ) -> list[Comparison] | None:
        """The paired verdicts of one model; None where no baseline artifact is asked for.

        ``against_path``: the test's ``load_model(..., against=PATH)``, in
        place of SOURCE. A model is paired once per baseline in a session:
        every test that loads it gets the same verdicts.
        """
        if (against_path is None and self.settings.against is None) or record.error is not None:
            return None
        against = _shown(against_path, self.rootpath) if against_path is not None else self.settings.against or ""
        key = (request.key, against)
        if key not in self._verdicts:
            self._verdicts[key] = self._check(budget, request, record, against_path, against)
        return self._verdicts[key]

    def _check(
        self, budget: Budget | None, request: LoadRequest, record: ModelRecord, against_path: Path | None,
        against: str,
    ) -> list[Comparison]:
        if request.runtime != PYTHON or request.path is None:
            why = ("a loader function has no file to look up" if request.path is None
                   else f"paired loads run in Python; the {request.runtime} runtime is judged by saved runs")
            return [Comparison("ms", f"{record.name} not paired against {against}: {why}", False,
                               rule=RULE_NOT_PAIRED)]
        found = self._lookup(request, against_path)
        if not isinstance(found, Found):
            rule = RULE_NEW if isinstance(found, Absent) else RULE_UNUSABLE
            return [Comparison("mb", f"{record.name} {_word(found)} against {against}: {found.why}", False, rule=rule)]
        baseline = dataclasses.replace(request, path=found.path)
        try:
            baseline_files = baseline.format.artifact_files(found.path)
            candidate_files = request.format.artifact_files(request.path)
        except LoadBudgetError as error:
            return [Comparison("mb", f"{record.name} unusable at {against}: {error}", False, rule=RULE_UNUSABLE)]
        thresholds = self._thresholds(budget)
        if _digest(baseline_files, found.path) == _digest(candidate_files, request.path):
            return [Comparison("mb", f"{record.name} same bytes as {against}: not measured twice", False,
                               rule=RULE_SAME_BYTES, change="+0%")]
        comparisons = [_size(record.name, against, baseline_files, candidate_files, thresholds.get("mb"))]
        if record.load_ms.values:  # measured in this process (not --loadbudget-disable, not a manifest read)
            comparisons += self._paired_times(record.name, against, baseline, request, thresholds)
        return comparisons

    def _lookup(self, request: LoadRequest, against_path: Path | None) -> Lookup:
        assert request.path is not None
        if against_path is not None:
            if not against_path.exists():
                return Unusable(f"{against_path} (load_model against=) does not exist")
            return Found(against_path)
        source = self.source()  # SourceError: a SOURCE that is neither a revision nor a directory
        if request.format_name.startswith("tfjs") and request.path.is_file():
            return _tfjs_lookup(source, request.path)
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
                numbers={**verdict.numbers(pairs.seconds), "orders": "".join(o[0] for o in pairs.orders),
                         "paused": pairs.paused, "traced": pairs.traced},
            ))
        return comparisons


def _tfjs_lookup(source: Source, model_json: Path) -> Lookup:
    """A TF.js model at SOURCE: its model.json, then the shards its manifest names, and nothing else beside them."""
    import json

    found = source.lookup(model_json, whole_directory=False)
    if not isinstance(found, Found):
        return found
    try:
        manifest = json.loads(found.path.read_text())
        shards = [path for group in manifest.get("weightsManifest", []) for path in group.get("paths", [])]
    except (OSError, ValueError, AttributeError, TypeError) as error:
        return Unusable(f"{model_json.name} at {source.label} is not a readable TF.js manifest: {error}")
    for shard in shards:
        shard_found = source.lookup(model_json.parent / shard, whole_directory=False)
        if not isinstance(shard_found, Found):
            return Unusable(f"{model_json.name} at {source.label} names {shard}, which is not there: "
                            f"{shard_found.why}")
    return found


def _shown(path: Path, rootpath: Path) -> str:
    """A baseline named by ``against=`` as lines show it: relative to the rootdir where it lies inside."""
    return str(path.relative_to(rootpath)) if path.is_relative_to(rootpath) else str(path)


def _word(found: Absent | Unusable) -> str:
    return "new" if isinstance(found, Absent) else "unusable"


def _digest(files: list[Path], path: Path) -> str:
    """The model's bytes: a one-file model's content alone (its name may differ at SOURCE, as with
    ``against=production.keras``), a model of several files with their names relative to it."""
    if len(files) == 1 and not path.is_dir():
        return hashlib.sha256(files[0].read_bytes()).hexdigest()
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
