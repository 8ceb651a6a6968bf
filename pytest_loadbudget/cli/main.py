"""The ``loadbudget`` command: work with saved runs without running pytest.

    loadbudget list [--storage DIR] [--machine NAME]
    loadbudget compare OLD NEW [--compare-fail EXPR] [--storage DIR] [--machine NAME]
    loadbudget profile PATH [--runs N] [--cold-disk] [--format F]
    loadbudget setup-js [--cache-dir DIR] [--force] [--check] [--strict]
    loadbudget trend [MODEL...] [--figure ms] [--last N] [--storage DIR] [--machine NAME]
    loadbudget prune --keep N [--dry-run] [--storage DIR]

OLD and NEW are saved-run files, or names or numbers looked up in the storage
directory. ``compare`` prints the same verdicts the pytest run gives (with
what changed in the software) and exits with 1 when something regressed;
both show each run's git commit where it was saved in a checkout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_loadbudget.baseline.compare import compare
from pytest_loadbudget.baseline.fingerprint import hardware_facts, machine_id, software_changes
from pytest_loadbudget.baseline.gate import DEFAULT_STORAGE
from pytest_loadbudget.baseline.lookup import annotate, environment_note
from pytest_loadbudget.baseline.provenance import describe as describe_provenance
from pytest_loadbudget.baseline.storage import BaselineStore, SavedRun, read_run
from pytest_loadbudget.budget.thresholds import (
    DEFAULT_COMPARE_FAIL,
    default_thresholds,
    merge_thresholds,
    parse_compare_fail,
)
from pytest_loadbudget.cli.history import add_history_commands, run_prune, run_trend
from pytest_loadbudget.cli.profile import add_profile_arguments, run_profile
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.settings import machine_name
from pytest_loadbudget.tfjs_runtime import jsenv

MACHINE_HELP = "this machine's name, as --loadbudget-machine gave it (default: the id of its hardware)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadbudget", description="Budgets on how ML models load.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list the saved runs")
    listing.add_argument("--storage", default=DEFAULT_STORAGE, help="directory of saved runs (default %(default)s)")
    listing.add_argument("--machine", type=machine_name, help=MACHINE_HELP)
    comparing = commands.add_parser("compare", help="compare two saved runs")
    comparing.add_argument("old", help="the baseline: a saved-run file, or a name or number in --storage")
    comparing.add_argument("new", help="the run to judge: a saved-run file, or a name or number in --storage")
    comparing.add_argument("--storage", default=DEFAULT_STORAGE, help="directory of saved runs (default %(default)s)")
    comparing.add_argument("--compare-fail", type=parse_compare_fail, default={},
                           help="what counts as a regression: the figures named change the default, "
                                f"'off' leaves one unjudged (default {DEFAULT_COMPARE_FAIL.replace('%', '%%')})")
    comparing.add_argument("--any-machine", action="store_true",
                           help="fail on regressions even when the runs come from different machines")
    comparing.add_argument("--machine", type=machine_name, help=MACHINE_HELP)
    profiling = commands.add_parser("profile", help="time a model's cold start phase by phase, with advice")
    add_profile_arguments(profiling)
    setup = commands.add_parser("setup-js", help="install the TF.js npm packages for runtime='node'/'browser'",
                                description=jsenv.SETUP_DESCRIPTION)
    jsenv.add_setup_arguments(setup)
    add_history_commands(commands, MACHINE_HELP)
    return parser


def _here(args: argparse.Namespace) -> str:
    return str(args.machine or machine_id(hardware_facts()))


def _resolve(store: BaselineStore, spec: str, here: str) -> SavedRun:
    path = Path(spec)
    if not path.is_file():
        path = store.find(spec, here)
    return read_run(path)


def _about(run: SavedRun) -> str:
    """``NAME, CREATED, commit 1a2b3c4d on main``: what a run is and where its code came from."""
    return ", ".join(part for part in (run.name, run.created, describe_provenance(run.provenance)) if part)


def run_compare(args: argparse.Namespace) -> int:
    store = BaselineStore(Path(args.storage))
    here = _here(args)
    old, new = _resolve(store, args.old, here), _resolve(store, args.new, here)
    same_machine = bool(old.machine_id) and old.machine_id == new.machine_id
    print(f"baseline: {old.path} ({_about(old)})")
    print(f"new:      {new.path} ({_about(new)})")
    for problem in old.problems + new.problems:
        print(problem)
    if not same_machine:
        print(f"the runs come from different machines ({old.machine_id or 'unknown'} vs {new.machine_id or 'unknown'})")
    changes = software_changes(old.software, new.software) if old.software else []
    if changes:
        print(f"software changed: {', '.join(changes)}")
    regressions = 0
    matched: set[int] = set()
    thresholds = merge_thresholds(default_thresholds(), args.compare_fail)
    for record, identities in new.entries:
        previous = next((found for found in map(old.record, identities) if found is not None), None)
        if previous is None:
            print(f"  new        {record.name} [{record.format}]: no baseline")
            continue
        matched.add(id(previous))
        comparisons = compare(previous, record, thresholds, same_machine or args.any_machine)
        annotate(comparisons, environment_note(old, new.software, previous, record))
        for comparison in comparisons:
            regressions += comparison.regression
            print(f"  {comparison.verdict_line()}")
    for record, _ in old.entries:
        if id(record) not in matched:
            print(f"  not measured {record.name} [{record.format}]: in the baseline, not in the new run")
    print(f"{regressions} regression(s)")
    return 1 if regressions else 0


def run_list(args: argparse.Namespace) -> int:
    store = BaselineStore(Path(args.storage))
    here = _here(args)
    paths = store.runs()
    if not paths:
        print(f"no saved runs under {store.directory}")
        return 0
    for path in paths:
        try:
            run = read_run(path)
        except BaselineError as error:
            marker = "*" if path.parent.name == here else " "
            print(f"{marker} {path}  unreadable: {error.problem}")
            continue
        marker = "*" if run.machine_id == here else " "
        details = [run.created, f"{len(run.records)} model(s)", describe_provenance(run.provenance)]
        if run.version < 2:
            details.append(f"schema 1 (machine {run.machine_id or 'unknown'})")
        print(f"{marker} {path}  " + "  ".join(part for part in details if part))
    print(f"(* this machine: {here})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "profile":
        return run_profile(args)  # reports its own errors: message on stderr, exit 2
    try:
        if args.command == "compare":
            return run_compare(args)
        if args.command == "setup-js":
            return jsenv.run_setup(args)
        if args.command == "trend":
            return run_trend(args, _here(args))
        if args.command == "prune":
            return run_prune(args)
        return run_list(args)
    except BaselineError as error:
        print(f"loadbudget: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
