"""``loadbudget trend`` and ``loadbudget prune``: the saved runs of a machine, over time.

    loadbudget trend [MODEL...] [--figure ms] [--last N] [--clock own|wall] [--storage DIR] [--machine NAME]
    loadbudget prune --keep N [--dry-run] [--storage DIR]

``trend`` prints one line per model: a sparkline of the figure over this
machine's saved runs (oldest left), the newest value and its change from the
run before, and what changed at the newest run (artifact, software).
``prune`` keeps the newest N runs of each machine and prints what it removed.
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

from pytest_loadbudget.baseline.gate import DEFAULT_STORAGE
from pytest_loadbudget.baseline.history import ModelHistory, RunInfo, read_history
from pytest_loadbudget.baseline.retention import plan_prune, remove_runs
from pytest_loadbudget.baseline.storage import BaselineStore
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.settings import CLOCK_CHOICES, machine_name, positive_int

#: Eight heights, lowest first; a run without the figure is a blank.
SPARKS = "▁▂▃▄▅▆▇█"
MISSING = " "


def add_history_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], machine_help: str) -> None:
    """Register ``trend`` and ``prune`` on the ``loadbudget`` command's subparsers."""
    trend = commands.add_parser("trend", help="a sparkline per model of a figure over the saved runs")
    trend.add_argument("models", nargs="*", metavar="MODEL",
                       help="models to show: names or identities, shell patterns allowed (default: all)")
    trend.add_argument("--figure", default="ms", choices=tuple(FIGURES),
                       help="the figure to follow (default %(default)s)")
    trend.add_argument("--last", type=positive_int, metavar="N", help="only the newest N saved runs")
    trend.add_argument("--clock", default="own", choices=CLOCK_CHOICES,
                       help="times: own (where every run has it; default) or wall")
    trend.add_argument("--storage", default=DEFAULT_STORAGE, help="directory of saved runs (default %(default)s)")
    trend.add_argument("--machine", type=machine_name, help=machine_help)
    prune = commands.add_parser("prune", help="keep the newest N saved runs of each machine, remove the rest")
    prune.add_argument("--keep", type=positive_int, required=True, metavar="N", help="runs to keep per machine")
    prune.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")
    prune.add_argument("--storage", default=DEFAULT_STORAGE, help="directory of saved runs (default %(default)s)")


def sparkline(values: list[float | None]) -> str:
    """One character per value, its height between the series' smallest and largest; a flat series is low."""
    present = [value for value in values if value is not None]
    if not present:
        return MISSING * len(values)
    low, high = min(present), max(present)
    span = high - low
    top = len(SPARKS) - 1
    return "".join(
        MISSING if value is None else SPARKS[round((value - low) / span * top) if span else 0] for value in values
    )


def _number(value: float, figure: str) -> str:
    unit = FIGURES[figure].unit
    if FIGURES[figure].kind == "count":
        return f"{value:.0f} {unit}"
    return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


def _latest_change(values: list[float | None], figure: str) -> str:
    """The newest value, and its change from the previous run that had the figure."""
    present = [value for value in values if value is not None]
    if not present:
        return "-"
    newest = _number(present[-1], figure)
    if len(present) < 2:
        return f"{newest} (first)"
    before, after = present[-2], present[-1]
    counted = FIGURES[figure].kind == "count"
    if counted or before == 0:
        change = f"{after - before:+.0f}" if counted else ("+0%" if after == 0 else "new")
    else:
        change = f"{(after - before) / before * 100:+.0f}%"
    return f"{newest} ({change})"


def trend_line(model: ModelHistory, runs: list[RunInfo], figure: str, clock: str, width: int) -> str:
    """The model's label, a sparkline with one character per run of ``runs`` (blank where the model
    was not measured), its newest value and change, and what changed at its newest run."""
    values, used = model.values(figure, clock)
    by_run = {id(point.run): value for point, value in zip(model.points, values)}
    parts = [f"{model.label:<{width}}", sparkline([by_run.get(id(run)) for run in runs]),
             _latest_change(values, figure)]
    if used == "wall" and clock == "own" and model.some_own(figure):
        parts.append("wall time: some runs have no own time")  # one clock per line, never mixed
    changes = model.points[-1].changes if values[-1] is not None else []
    return "  ".join(parts + changes).rstrip()


def _matches(model: ModelHistory, patterns: list[str]) -> bool:
    names = (model.record.name, model.label, model.identity)
    return not patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


def run_trend(args: argparse.Namespace, here: str) -> int:
    store = BaselineStore(Path(args.storage))
    history = read_history(store, here, last=args.last)
    for problem in history.problems:
        print(problem)
    if not history.runs:
        print(f"no saved runs of this machine ({here}) under {store.directory}")
        return 0
    models = [model for model in history.models if _matches(model, args.models)]
    unmatched = [pattern for pattern in args.models if not any(_matches(m, [pattern]) for m in history.models)]
    if unmatched:
        print(f"loadbudget: no saved model matches {', '.join(map(repr, unmatched))} "
              f"(names, as `loadbudget trend` lists them, or shell patterns)")
        return 2
    print(f"{FIGURES[args.figure].label_with_unit} over {len(history.runs)} saved run(s) of {here}, oldest first "
          f"({history.runs[0].label} .. {history.runs[-1].label}):")
    width = max(len(model.label) for model in models)
    shown = [model for model in models if any(value is not None for value in model.values(args.figure)[0])]
    for model in shown:
        print(trend_line(model, history.runs, args.figure, args.clock, width))
    if len(shown) < len(models):
        print(f"({len(models) - len(shown)} model(s) without a saved {FIGURES[args.figure].label_with_unit} not shown)")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    store = BaselineStore(Path(args.storage))
    plan = plan_prune(store, args.keep)
    verb = "would remove" if args.dry_run else "removed"
    problems = {} if args.dry_run else remove_runs(store, plan)
    for paths in plan.remove.values():
        for path in paths:
            print(f"{path}: {problems[path]}" if path in problems else f"{verb} {path}")
    for unreadable in plan.unreadable:
        print(f"left alone (not readable as a saved run): {unreadable}")
    removed = plan.removed_count - len(problems)
    print(f"{verb} {removed} saved run(s); kept the newest {args.keep} of each of {len(plan.keep)} machine(s)")
    return 1 if problems else 0
