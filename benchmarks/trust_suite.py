"""The suites ``trustworthiness.py`` reruns, and how each tool's verdicts are read.

Two generated suites time the same four loads (the plugin's own format
loaders, so that both tools time the very same call, and a pure-Python loader
doing fixed work):

- ``test_loadbudget_suite.py``: one ``load_model`` per test, judged by
  ``pytest --loadbudget-compare`` with the plugin's defaults (whatever clock,
  thresholds, identity and confirmation it has when it runs);
- ``test_benchmark_suite.py``: ``benchmark(load)`` per test (its own
  calibration: at least 5 rounds, more within a second; or
  ``benchmark.pedantic(load, rounds=N, iterations=1)`` with a fixed count),
  judged by pytest-benchmark's ``--benchmark-compare-fail=median:10%``.

Rounds: each tool's default unless a count is given (``rounds=None``): the
plugin's adaptive rounds (at least 5, more while under 2 s) and
pytest-benchmark's calibration.

A model counts as flagged by loadbudget when its test failed (what CI sees);
the JSON report says on which figures. pytest-benchmark fails the session,
not a test: its per-model verdict is recomputed from its JSON files with its
own rule (median grew by more than 10%), and checked against its exit status.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: What a run does with its figures: save them as the baseline, compare them with it, or drop them.
Mode = Literal["save", "compare", "discard"]

#: The models, by the label the tables use: (test name, format or None for the Python loader, file).
MODELS = {
    "mobilenetv2.h5": ("test_mobilenetv2_h5", "h5", "h5"),
    "mobilenetv2.tflite": ("test_mobilenetv2_tflite", "tflite", "tflite"),
    "small_cnn.keras": ("test_small_cnn_keras", "keras", "keras"),
    "python loader": ("test_python_loader", None, None),
}
BENCHMARK_FAIL = "median:10%"
BENCHMARK_THRESHOLD = 10.0  # percent, as BENCHMARK_FAIL says

WORKLOADS = '''"""Loads timed by both suites; the injected work (benchmarks/inject) wraps each the same way."""

from pathlib import Path
from typing import Literal

#: What a run does with its figures: save them as the baseline, compare them with it, or drop them.
Mode = Literal["save", "compare", "discard"]

from injected_work import injected

PATHS = {paths!r}


@injected
def python_loader():
    """Fixed CPU work in pure Python (about 0.1 s), standing in for a tokenizer or a config parse."""
    table = {{}}
    for i in range(800_000):
        table[i & 4095] = (i * 2654435761) & 0xFFFFFFFF
    return table


def format_load(fmt):
    """The plugin's own load of the model in ``fmt`` (the call its load time measures), framework imported."""
    from pytest_loadbudget.formats import FORMATS

    loader = FORMATS[fmt]
    loader.import_framework()
    path = Path(PATHS[fmt])
    return lambda: loader.load(path)
'''

LOADBUDGET_SUITE = '''from pathlib import Path
from typing import Literal

#: What a run does with its figures: save them as the baseline, compare them with it, or drop them.
Mode = Literal["save", "compare", "discard"]

from workloads import PATHS, python_loader


def test_mobilenetv2_h5(load_model):
    load_model(Path(PATHS["h5"]))


def test_mobilenetv2_tflite(load_model):
    load_model(Path(PATHS["tflite"]))


def test_small_cnn_keras(load_model):
    load_model(Path(PATHS["keras"]))


def test_python_loader(load_model):
    load_model(python_loader, name="python-loader", warmup=None)
'''

BENCHMARK_SUITE = '''from workloads import format_load, python_loader

ROUNDS = {rounds!r}


def timed(benchmark, load):
    if ROUNDS is None:
        benchmark(load)
    else:
        benchmark.pedantic(load, rounds=ROUNDS, iterations=1)


def test_mobilenetv2_h5(benchmark):
    timed(benchmark, format_load("h5"))


def test_mobilenetv2_tflite(benchmark):
    timed(benchmark, format_load("tflite"))


def test_small_cnn_keras(benchmark):
    timed(benchmark, format_load("keras"))


def test_python_loader(benchmark):
    timed(benchmark, python_loader)
'''


def write_suites(folder: Path, paths: dict[str, Path], rounds: int | None) -> None:
    """Both suites and their shared loads under ``folder`` (its own rootdir: no project settings apply)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "workloads.py").write_text(WORKLOADS.format(paths={k: str(v) for k, v in paths.items()}))
    (folder / "test_loadbudget_suite.py").write_text(LOADBUDGET_SUITE)
    (folder / "test_benchmark_suite.py").write_text(BENCHMARK_SUITE.format(rounds=rounds))


@dataclass
class Verdicts:
    """One run of one tool: which models it flagged, on which figures, and the load's change (%) per model."""

    flagged: dict[str, list[str]] = field(default_factory=dict)
    changes: dict[str, float] = field(default_factory=dict)
    #: The load's comparison line per model (loadbudget), as the report prints it.
    lines: dict[str, str] = field(default_factory=dict)
    #: Why the run could not be judged (crash, usage error), else "".
    error: str = ""


def _pytest(folder: Path, arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *arguments]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)


def _tail(completed: subprocess.CompletedProcess[str]) -> str:
    return f"exit {completed.returncode}:\n{completed.stdout[-2500:]}\n{completed.stderr[-1500:]}"


def _percent(change: str) -> float | None:
    """``+12%`` (the comparison's change, as the plugin's JSON gives it) as 12.0."""
    try:
        return float(change.strip().rstrip("%"))
    except ValueError:
        return None


def run_loadbudget(folder: Path, tag: str, rounds: int | None, env: dict[str, str], mode: Mode,
                   memory: bool = False) -> Verdicts:
    """One run of the loadbudget suite."""
    report, junit = folder / f"lb-{tag}.json", folder / f"lb-{tag}.xml"
    completed = _pytest(folder, [
        "test_loadbudget_suite.py", "-p", "no:benchmark", *([f"--loadbudget-rounds={rounds}"] if rounds else []),
        f"--loadbudget-storage={folder / 'loadbudget-runs'}", f"--loadbudget-json={report}", f"--junit-xml={junit}",
        f"--loadbudget-memory={'all' if memory else 'budget'}",
        *{"save": ["--loadbudget-save=baseline"], "compare": ["--loadbudget-compare"], "discard": []}[mode],
    ], env)
    verdicts = Verdicts()
    if completed.returncode not in (0, 1) or not report.exists() or not junit.exists():
        verdicts.error = _tail(completed)
        return verdicts
    failed = set()
    for case in ElementTree.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(case.get("name", ""))
    by_test = {test: label for label, (test, _, _) in MODELS.items()}
    # The JSON names models by the plugin's identity (a path, a name=): matched here by the test that used them.
    figures: dict[str, list[str]] = {}
    for model in json.loads(report.read_text())["models"]:
        tests = [use["nodeid"].split("::")[-1] for use in model.get("tests", [])]
        label = next((by_test[t] for t in tests if t in by_test), _label_of(model.get("name", "")))
        for comparison in model.get("comparisons", []):
            if comparison.get("regression"):
                figures.setdefault(label, []).append(comparison["figure"])
            if comparison.get("figure") == "ms":
                verdicts.lines[label] = comparison.get("line", "")
                change = _percent(comparison.get("change", ""))
                if change is not None:
                    verdicts.changes[label] = change
    for test in failed:
        label = by_test.get(test, test)
        # A failed test with no regression in the JSON still failed CI: "?" says the JSON did not say why.
        verdicts.flagged[label] = figures.get(label) or ["?"]
    return verdicts


def _label_of(name: str) -> str:
    """A model's label from its name in the JSON, where its tests are not listed."""
    for label in MODELS:
        if label in name or (label == "python loader" and "python" in name):
            return label
    return name


def run_benchmark(folder: Path, tag: str, env: dict[str, str], mode: Mode) -> Verdicts:
    """One run of the pytest-benchmark suite."""
    storage = folder / "benchmark-runs"
    report = folder / f"pb-{tag}.json"
    arguments = ["test_benchmark_suite.py", "-p", "no:loadbudget", f"--benchmark-storage=file://{storage}",
                 f"--benchmark-json={report}"]
    arguments += {"save": ["--benchmark-save=baseline"], "discard": [],
                  "compare": ["--benchmark-compare=0001", f"--benchmark-compare-fail={BENCHMARK_FAIL}"]}[mode]
    completed = _pytest(folder, arguments, env)
    verdicts = Verdicts()
    saved = sorted(storage.glob("*/0001_*.json"))
    if completed.returncode not in (0, 1) or not report.exists() or (mode != "discard" and not saved):
        verdicts.error = _tail(completed)
        return verdicts
    if mode != "compare":
        return verdicts
    baseline = _medians(saved[0])
    for name, median in _medians(report).items():
        label = next((label for label, (test, _, _) in MODELS.items() if test == name), name)
        if name in baseline and baseline[name]:
            verdicts.changes[label] = median / baseline[name] * 100 - 100
            if verdicts.changes[label] > BENCHMARK_THRESHOLD:
                verdicts.flagged[label] = ["median"]
    if bool(verdicts.flagged) != (completed.returncode == 1):
        verdicts.error = f"pytest-benchmark's exit status disagrees with its medians: {_tail(completed)}"
    return verdicts


def _medians(path: Path) -> dict[str, float]:
    return {bench["name"]: bench["stats"]["median"] for bench in json.loads(path.read_text())["benchmarks"]}


def median_range(values: list[float]) -> str:
    """``+3% [-2..+9]``: the median change over the reruns and its range."""
    if not values:
        return "-"
    return f"{statistics.median(values):+.0f}% [{min(values):+.0f}..{max(values):+.0f}]"
