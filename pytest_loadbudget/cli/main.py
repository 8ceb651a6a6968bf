"""The ``loadbudget`` command: work with saved runs without running pytest.

    loadbudget list [--storage DIR]
    loadbudget compare OLD NEW [--compare-fail EXPR] [--storage DIR]
    loadbudget profile PATH [--runs N] [--cold-disk] [--format F]
    loadbudget setup-js [--cache-dir DIR] [--force]

OLD and NEW are saved-run files, or names or numbers looked up in the storage
directory. ``compare`` prints the same verdicts the pytest run gives and exits
with 1 when something regressed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_loadbudget.baseline.storage import BaselineStore, SavedRun, read_run
from pytest_loadbudget.baseline.compare import compare, parse_compare_fail
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.baseline.fingerprint import machine_facts, machine_id
from pytest_loadbudget.baseline.gate import DEFAULT_STORAGE
from pytest_loadbudget.settings import DEFAULT_COMPARE_FAIL
from pytest_loadbudget.cli.profile import add_profile_arguments, run_profile
from pytest_loadbudget.tfjs_runtime import jsenv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadbudget", description="Budgets on how ML models load.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list the saved runs")
    listing.add_argument("--storage", default=DEFAULT_STORAGE, help="directory of saved runs (default %(default)s)")
    comparing = commands.add_parser("compare", help="compare two saved runs")
    comparing.add_argument("old", help="the baseline: a saved-run file, or a name or number in --storage")
    comparing.add_argument("new", help="the run to judge: a saved-run file, or a name or number in --storage")
    comparing.add_argument("--storage", default=DEFAULT_STORAGE, help="directory of saved runs (default %(default)s)")
    comparing.add_argument("--compare-fail", type=parse_compare_fail, default=parse_compare_fail(DEFAULT_COMPARE_FAIL),
                           help=f"what counts as a regression (default {DEFAULT_COMPARE_FAIL.replace('%', '%%')})")
    comparing.add_argument("--any-machine", action="store_true",
                           help="fail on regressions even when the runs come from different machines")
    profiling = commands.add_parser("profile", help="time a model's cold start phase by phase, with advice")
    add_profile_arguments(profiling)
    setup = commands.add_parser("setup-js", help="install the TF.js npm packages for runtime='node'/'browser'",
                                description=jsenv.SETUP_DESCRIPTION)
    jsenv.add_setup_arguments(setup)
    return parser


def _resolve(store: BaselineStore, spec: str) -> SavedRun:
    path = Path(spec)
    if not path.is_file():
        path = store.find(spec, machine_id(machine_facts()))
    return read_run(path)


def run_compare(args: argparse.Namespace) -> int:
    store = BaselineStore(Path(args.storage))
    old, new = _resolve(store, args.old), _resolve(store, args.new)
    same_machine = old.machine_id == new.machine_id
    print(f"baseline: {old.path} ({old.name}, {old.created})")
    print(f"new:      {new.path} ({new.name}, {new.created})")
    if not same_machine:
        print(f"the runs come from different machines ({old.machine_id} vs {new.machine_id})")
    regressions = 0
    for record in new.records:
        previous = old.record(record.key)
        if previous is None:
            print(f"  new        {record.name} [{record.format}]: not in the baseline")
            continue
        for comparison in compare(previous, record, args.compare_fail, same_machine or args.any_machine):
            regressions += comparison.regression
            print(f"  {comparison.verdict_line()}")
    gone = [record.name for record in old.records if new.record(record.key) is None]
    for name in gone:
        print(f"  gone       {name}: in the baseline, not in the new run")
    print(f"{regressions} regression(s)")
    return 1 if regressions else 0


def run_list(args: argparse.Namespace) -> int:
    store = BaselineStore(Path(args.storage))
    here = machine_id(machine_facts())
    paths = store.runs()
    if not paths:
        print(f"no saved runs under {store.directory}")
        return 0
    for path in paths:
        marker = "*" if path.parent.name == here else " "
        try:
            run = read_run(path)
            print(f"{marker} {path}  {run.created}  {len(run.records)} model(s)")
        except BaselineError as error:
            print(f"{marker} {path}  unreadable: {error.problem}")
    print("(* this machine)")
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
        return run_list(args)
    except BaselineError as error:
        print(f"loadbudget: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
