"""A Keras load timed under ``pytest --cov`` and without it, in one run, interleaved.

Keras deserializes a model in Python, and coverage's trace function runs at
every call of the thread it traces: measured covered, a MobileNetV2 ``.keras``
load read 1.7-2.1x slower. The plugin pauses coverage around its timed rounds
(``pytest_loadbudget/measure/tracing.py``) and resumes it after; the first
load, before the rounds, runs covered.

This builds MobileNetV2 (``weights=None``: nothing is downloaded) as a
``.keras`` file, writes a one-test project whose loader is a function of the
test module, and runs it with ``python -m pytest`` in fresh processes, in turn:

- ``plain``: ``pytest``;
- ``--cov``: ``pytest --cov=.``;
- ``--cov, no pause``: the same with the pause taken out (a plugin of this
  script's replaces it with one that pauses nothing): what the figures would
  read without it.

Each block runs every variant once, in a rotated order, so that the machine's
noise falls on all of them. It prints each variant's median load (own time, the
clock budgets judge; wall time beside it) over the blocks, and the median over
the blocks of its ratio to the plain run of the same block; and whether the
coverage data of every covered run lists the loader's lines (run by the first
load)::

    python benchmarks/coverage_overhead.py
    python benchmarks/coverage_overhead.py --blocks 5 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TEST_MODULE = textwrap.dedent(
    """
    import os

    def mobilenet():
        import keras  # the loader's first line

        return keras.saving.load_model(os.environ["COVERAGE_OVERHEAD_MODEL"])  # the loader's load

    def test_load(load_model):
        load_model(mobilenet, warmup=None)
    """
)

#: Loaded with ``-p``: the timed rounds as they would run without the pause (what is found is still named).
NO_PAUSE_PLUGIN = textwrap.dedent(
    """
    from pytest_loadbudget.measure import loads, tracing

    def traced_anyway(function):
        seen = tracing.Tracing(traced=tracing.distortions())
        return function(), seen

    loads.untraced = traced_anyway
    """
)

VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "--cov": ["--cov=.", "--cov-report="],
    "--cov, no pause": ["--cov=.", "--cov-report=", "-p", "no_pause"],
}


def build_model(directory: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    path = directory / "mobilenetv2.keras"
    keras.applications.MobileNetV2(weights=None).save(path)
    return path


def run_variant(project: Path, model: Path, args: list[str], rounds: int) -> dict[str, object]:
    """One pytest run of the project: its model record from the JSON report, and the loader's covered lines."""
    report = project / "report.json"
    report.unlink(missing_ok=True)
    (project / ".coverage").unlink(missing_ok=True)
    environment = {**os.environ, "COVERAGE_OVERHEAD_MODEL": str(model), "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         f"--loadbudget-rounds={rounds}", f"--loadbudget-json={report}", *args],
        cwd=project, env=environment, capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0 or not report.exists():
        raise SystemExit(f"pytest {' '.join(args)} failed ({completed.returncode}):\n{completed.stdout[-3000:]}"
                         f"\n{completed.stderr[-2000:]}")
    (record,) = json.loads(report.read_text())["models"]
    record["covered_lines"] = _loader_lines_covered(project) if "--cov=." in args else None
    return record


def _loader_lines_covered(project: Path) -> bool:
    """Whether the coverage data lists both of the loader's lines: the first load ran covered."""
    import coverage

    data = coverage.CoverageData(basename=str(project / ".coverage"))
    data.read()
    source = (project / "test_load.py").read_text().splitlines()
    wanted = {number for number, text in enumerate(source, 1) if "# the loader's" in text}
    measured = [name for name in data.measured_files() if Path(name).name == "test_load.py"]
    return bool(measured) and wanted <= set(data.lines(measured[0]) or [])


def _median(record: dict[str, object], series: str) -> float:
    samples = record[series]
    assert isinstance(samples, dict)
    return float(statistics.median(samples["samples"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3, help="runs of each variant, interleaved (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per run (default 5)")
    options = parser.parse_args(argv)
    try:
        import pytest_cov  # noqa: F401
    except ImportError:
        print("pytest-cov is not installed: pip install pytest-cov (the [test] extra has it)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="coverage-overhead-") as temporary:
        directory = Path(temporary)
        model = build_model(directory)
        project = directory / "project"
        project.mkdir()
        (project / "test_load.py").write_text(TEST_MODULE)
        (project / "no_pause.py").write_text(NO_PAUSE_PLUGIN)
        names = list(VARIANTS)
        records: dict[str, list[dict[str, object]]] = {name: [] for name in names}
        for block in range(options.blocks):
            order = names[block % len(names):] + names[:block % len(names)]
            for name in order:
                record = run_variant(project, model, VARIANTS[name], options.rounds)
                records[name].append(record)
                print(f"block {block + 1}/{options.blocks} {name:<16} "
                      f"load own {_median(record, 'load_own_ms'):7.0f} ms, wall {_median(record, 'load_ms'):7.0f} ms; "
                      f"paused {record['paused']}, traced {record['traced']}", flush=True)
    print()
    print(f"MobileNetV2 .keras, {options.rounds} rounds a run, {options.blocks} interleaved runs of each; "
          f"python {sys.version.split()[0]}")
    print(f"{'variant':<16} {'load own ms (runs)':>20} {'wall ms':>8} {'x plain':>8}  {'loader covered':<14}  "
          "paused; traced")
    plain_own = [_median(record, "load_own_ms") for record in records["plain"]]
    for name in names:
        own = [_median(record, "load_own_ms") for record in records[name]]
        wall = [_median(record, "load_ms") for record in records[name]]
        ratios = [mine / plain for mine, plain in zip(own, plain_own)]
        covered = {record["covered_lines"] for record in records[name]}
        covered_text = "-" if covered == {None} else "yes" if covered == {True} else "NO"
        paused = sorted({what for record in records[name] for what in record["paused"]})  # type: ignore[attr-defined]
        traced = sorted({what for record in records[name] for what in record["traced"]})  # type: ignore[attr-defined]
        own_text = f"{statistics.median(own):.0f} ({min(own):.0f}-{max(own):.0f})"
        print(f"{name:<16} {own_text:>20} {statistics.median(wall):8.0f} {statistics.median(ratios):8.2f}  "
              f"{covered_text:<14}  {', '.join(paused) or '-'}; {', '.join(traced) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
