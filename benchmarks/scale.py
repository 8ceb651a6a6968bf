"""Scale: the baseline store and the report with 500 models and 20 saved runs.

Times, in one process, saving 20 runs of 500 models (raw samples included),
finding and reading the latest, comparing all 500 models with it, rendering
the terminal table and the Markdown, the ``loadbudget compare`` command,
``loadbudget trend`` and the ``--loadbudget-html`` page (with pygal installed).

    python benchmarks/scale.py [--models 500] [--runs 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import tempfile
import time
from pathlib import Path

from pytest_loadbudget.baseline.history import THIS_RUN, RunInfo, current_entries, read_history
from pytest_loadbudget.baseline.storage import BaselineStore, read_run
from pytest_loadbudget.report.html import html_page
from pytest_loadbudget.cli.main import main as cli_main
from pytest_loadbudget.baseline.compare import compare
from pytest_loadbudget.budget.thresholds import default_thresholds
from pytest_loadbudget.baseline.lookup import Baseline, GateSummary
from pytest_loadbudget.report.files import markdown
from pytest_loadbudget.report.github import append_step_summary, github_benchmarks, write_github_json
from pytest_loadbudget.baseline.fingerprint import machine_facts, machine_id
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.record import ModelRecord, TestUse
from pytest_loadbudget.report.terminal import format_table, table_rows, columns
from pytest_loadbudget.results.samples import Samples


def records(count: int, rng: random.Random) -> list[ModelRecord]:
    made = []
    for index in range(count):
        base = rng.uniform(5, 2000)
        made.append(ModelRecord(
            key=f"keras:models/model_{index:03d}.keras::@cpu", name=f"model_{index:03d}.keras", format="keras",
            size_bytes=rng.randint(10**5, 10**8), files=1, artifact_sha256=f"{index:064x}",
            load_ms=Samples([base * rng.uniform(0.9, 1.3) for _ in range(5)]),
            warm_ms=Samples([base / 4 * rng.uniform(0.9, 1.3) for _ in range(5)]),
            memory=MemoryFigures(peak_bytes=rng.randint(10**6, 10**9), method="vmhwm", where="fresh process",
                                 cycles=5, rss_after_cycles=[10**8 + rng.randint(0, 10**5) for _ in range(5)]),
            tests=[TestUse(nodeid=f"tests/test_models.py::test_{index}", budget={"ms": base * 3}, misses=[])],
        ))
    return made


def timed(label: str, action, repeat: int = 1) -> None:
    start = time.perf_counter()
    for _ in range(repeat):
        action()
    elapsed = (time.perf_counter() - start) / repeat
    print(f"{label:<46} {elapsed * 1e3:>10.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(0)
    machine = machine_facts()
    runs = [records(args.models, rng) for _ in range(args.runs)]
    thresholds = default_thresholds()
    with tempfile.TemporaryDirectory() as directory:
        store = BaselineStore(Path(directory))
        start = time.perf_counter()
        for run in runs:
            store.save("run", machine, run)
        per_save = (time.perf_counter() - start) / args.runs
        size = sum(path.stat().st_size for path in store.runs()) / args.runs
        print(f"{args.models} models, {args.runs} saved runs, {size / 2**20:.2f} MiB per run file")
        print(f"{'save one run (lock, write, fsync, rename)':<46} {per_save * 1e3:>10.1f} ms")
        here = machine_id(machine)
        timed("find the latest run among all", lambda: store.find(None, here), repeat=5)
        latest = store.find(None, here)
        timed("read it back", lambda: read_run(latest), repeat=5)
        # A bare --loadbudget-compare: each model's newest figures, runs read as lookups need them.
        def per_model(identities: list[str]) -> None:
            lookup = Baseline(store.newest_first(store.runs(here)), read_run, per_model=True, machine_id=here)
            for identity in identities:
                lookup.find(identity)

        timed(f"find {args.models} models' newest figures", lambda: per_model([r.key for r in runs[-1]]), repeat=3)
        timed(f"the same and one new model (reads all {args.runs})",
              lambda: per_model([r.key for r in runs[-1]] + ["new"]))
        baseline = read_run(latest)
        current = runs[0]

        def compare_all() -> None:
            for record in current:
                old = baseline.record(record.key)
                if old is not None:
                    compare(old, record, thresholds)

        timed(f"compare {args.models} models with it", compare_all, repeat=3)
        for record in current:
            old = baseline.record(record.key)
            if old is not None:
                record.comparisons = compare(old, record, thresholds)
        timed("render the terminal table", lambda: format_table(columns(current), table_rows(current)), repeat=3)
        timed("render the Markdown", lambda: markdown(current, GateSummary("compared with the baseline")), repeat=3)
        summary, figures = Path(directory) / "step_summary.md", Path(directory) / "github.json"
        timed("append the Markdown to $GITHUB_STEP_SUMMARY",
              lambda: append_step_summary(summary, markdown(current, GateSummary("compared with the baseline"))),
              repeat=3)
        timed("write --loadbudget-github-json", lambda: write_github_json(figures, current), repeat=3)
        print(f"  step summary {summary.stat().st_size / 3 / 1024:.0f} KiB per run (GitHub takes 1024 KiB a step), "
              f"{len(github_benchmarks(current))} github-json entries, {figures.stat().st_size / 1024:.0f} KiB")
        first, last = store.runs()[0], store.runs()[-1]

        def quiet_compare() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                cli_main(["compare", str(first), str(last)])

        timed("loadbudget compare OLD NEW (in process)", quiet_compare)
        history_and_page(store, here, current, args.runs)


def history_and_page(store: BaselineStore, here: str, current: list[ModelRecord], runs: int) -> None:
    """The history of every model over the saved runs: ``loadbudget trend`` and the --loadbudget-html page."""

    def quiet_trend() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            cli_main(["trend", "--storage", str(store.directory), "--machine", here])

    timed(f"read {runs} runs as each model's history", lambda: read_history(store, here))
    timed("loadbudget trend (in process)", quiet_trend)
    try:
        import pygal  # noqa: F401
    except ImportError:
        print("the HTML page: not timed, pygal is not installed (pip install 'pytest-loadbudget[html]')")
        return

    def page() -> str:
        history = read_history(store, here)
        history.add_run(RunInfo(THIS_RUN, "now", {}), current_entries(current))
        return html_page(current, history)

    pages: list[str] = []
    timed("the HTML page (history read, charts drawn)", lambda: pages.append(page()))
    charts = pages[0].count('<figure class="chart"')
    print(f"{'  its size':<46} {len(pages[0].encode()) / 2**20:>10.1f} MiB, {charts} charts")


if __name__ == "__main__":
    main()
