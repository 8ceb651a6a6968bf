"""Re-judge a trust benchmark's kept runs with the gate as it is now, measuring nothing again.

``benchmarks/trustworthiness.py --keep`` leaves its suite folder behind: the
saved baseline runs (``loadbudget-runs/``) and each rerun's JSON report
(``lb-<scenario>-<n>.json``). A change to how the gate judges (not to how
it measures) can be tried on those hundreds of runs in seconds instead of
hours of reruns: each model's rerun is judged against the baseline the
plugin would choose (the saved run with the median load of the newest
``--loadbudget-baseline-runs``, the others as the machine's spread), every
figure at the default thresholds, or at ``--compare-fail`` (what a user
weighing a looser or tighter threshold wants to know: the same reruns'
false alarms and catches at each).

Two tables: the suspects of the first measurement, and what stands after
the second one (``baseline/confirm.py``). The report keeps the second
measurement's rounds where the run took one (``remeasured``), so its
confirmation is judged again too; a suspect the run itself did not suspect
has no second measurement to judge, and stands (an upper bound), as do
suspects in reports written before the second measurement was kept. Per
scenario and model: the reruns whose ``figure`` regressed.

    python benchmarks/trust_replay.py SUITE_FOLDER [--figure ms] [--verbose] [--compare-fail ms:15%]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_loadbudget.baseline.compare import compare  # noqa: E402
from pytest_loadbudget.baseline.confirm import confirm  # noqa: E402
from pytest_loadbudget.budget.thresholds import default_thresholds, merge_thresholds, parse_compare_fail  # noqa: E402
from pytest_loadbudget.results.record import ROUND_SERIES, ModelRecord  # noqa: E402
from pytest_loadbudget.results.samples import Samples  # noqa: E402

RERUN = re.compile(r"lb-(?P<scenario>.+)-(?P<index>\d+)\.json")
#: Runs of the suite that are not a scenario's reruns.
NOT_SCENARIOS = {"save", "discard"}


def records(path: Path) -> dict[str, ModelRecord]:
    """A JSON report's or saved run's models by name."""
    data = json.loads(path.read_text())
    return {model["name"]: ModelRecord.from_dict(model) for model in data["models"]}


def baseline(
    saved: list[dict[str, ModelRecord]], name: str, depth: int = 5,
) -> tuple[ModelRecord, tuple[ModelRecord, ...]]:
    """Of the newest ``depth`` saved runs, the one with the median load of the model (of two middle ones the
    newer), and all of them, as ``baseline/lookup.py`` chooses; ``saved`` newest first."""
    history = tuple(run[name] for run in saved[:depth] if name in run)
    ranked = sorted(history, key=lambda record: record.timing("ms", "own")[0].median)
    middle = ranked[(len(ranked) - 1) // 2], ranked[len(ranked) // 2]
    return min(middle, key=history.index), history


def second_measurement(first: ModelRecord) -> ModelRecord | None:
    """The second measurement the run took of ``first``, rebuilt from the rounds its report kept;
    None where it took none."""
    if not first.remeasured:
        return None
    # As the plugin's second record: only the rounds it measured again (cold runs and fleets are not kept).
    again = dataclasses.replace(first, comparisons=[], remeasured={}, cold=None, fleet=None, first_load_ms=None,
                                **{name: Samples() for name in ROUND_SERIES})
    for name, samples in first.remeasured.items():
        setattr(again, name, samples)
    return again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="the suite folder trustworthiness.py --keep left")
    parser.add_argument("--figure", default="ms", help="the figure counted (default: ms, the load)")
    parser.add_argument("--verbose", action="store_true", help="print each regressed verdict")
    parser.add_argument("--baseline-runs", type=int, default=5,
                        help="newest saved runs the baseline is chosen from (the plugin's default, 5)")
    parser.add_argument("--compare-fail", type=parse_compare_fail, default={},
                        help="what counts as a regression, as --loadbudget-compare-fail; figures it leaves out keep "
                             "the plugin's defaults")
    args = parser.parse_args()
    if not (args.suite / "loadbudget-runs").is_dir() and (args.suite / "suite" / "loadbudget-runs").is_dir():
        # trustworthiness.py --keep prints the folder above the suite's.
        args.suite = args.suite / "suite"
    runs_folder = args.suite / "loadbudget-runs"
    saved_paths = sorted(runs_folder.glob("*/*.json"), reverse=True)
    if not saved_paths:
        parser.error(f"{runs_folder}: no saved runs (was the benchmark run with --keep?)")
    saved = [records(path) for path in saved_paths]
    # Figures the option leaves out keep the plugin's defaults, as in the plugin: a sweep of the load's
    # threshold leaves the warm-up judged as a default run judges it.
    thresholds = merge_thresholds(default_thresholds(), args.compare_fail)
    suspects: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    standing: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reruns: dict[str, int] = defaultdict(int)
    names: list[str] = []
    for path in sorted(args.suite.glob("lb-*.json")):
        match = RERUN.fullmatch(path.name)
        if match is None or match["scenario"] in NOT_SCENARIOS:
            continue
        scenario = match["scenario"]
        reruns[scenario] += 1
        for name, new in records(path).items():
            if name not in names:
                names.append(name)
            old, history = baseline(saved, name, args.baseline_runs)
            verdicts = compare(old, new, thresholds, history=history)
            suspected = any(verdict.figure == args.figure and (verdict.regression or verdict.underpowered)
                            for verdict in verdicts)
            confirm(verdicts, old, new, thresholds, lambda rounds, cold, new=new: second_measurement(new),
                    history=history)
            for verdict in verdicts:
                if verdict.figure == args.figure and verdict.regression:
                    standing[scenario][name] += 1
                    if args.verbose:
                        print(f"{scenario} {path.name}: {verdict.line} [{verdict.note}]")
            suspects[scenario][name] += suspected
    for title, counts in (("suspected by the first measurement", suspects),
                          ("standing after the second (where the run took one)", standing)):
        print(f"\n{title}:\n")
        print(f"| scenario | {' | '.join(names)} |")
        print(f"|---|{'---|' * len(names)}")
        for scenario in sorted(reruns):
            cells = " | ".join(f"{counts[scenario][name]}/{reruns[scenario]}" for name in names)
            print(f"| {scenario} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
