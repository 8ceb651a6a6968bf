"""One registry of figures (``pytest_loadbudget/figures.py``): every writer names a figure as it says.

Each figure's label is given a wording no module could have typed itself,
then each writer's output is read: a budget miss, a figure not measured, a
regression line, the GitHub benchmark JSON and ``loadbudget trend`` must say
the registry's label and unit. The source is scanned so that a second table
of labels cannot come back, and the table in docs/figures.md is the registry's.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

import pytest_loadbudget
from pytest_loadbudget.baseline.compare import JUDGES, compare
from pytest_loadbudget.baseline.history import figure_value
from pytest_loadbudget.baseline.storage import BaselineStore
from pytest_loadbudget.baseline.times import REMEASURED
from pytest_loadbudget.budget.check import READINGS, check
from pytest_loadbudget.budget.marker import LIMIT_KEYWORDS, Budget, marker_help
from pytest_loadbudget.budget.thresholds import DEFAULT_COMPARE_FAIL, default_thresholds
from pytest_loadbudget.cli.main import main as cli_main
from pytest_loadbudget.figures import COMPARED, FIGURES
from pytest_loadbudget.report.browser_lines import BLOCK_COLUMN
from pytest_loadbudget.report.github import github_benchmarks, model_label
from pytest_loadbudget.report.suggest import suggested_limits
from pytest_loadbudget.report.terminal import columns
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun
from pytest_loadbudget.results.fleet_profile import FleetProfile
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.predictions import PredictionGrowth
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples

MIB = 2**20
PACKAGE = Path(pytest_loadbudget.__file__).parent
DOCS = Path(__file__).parent.parent / "docs" / "figures.md"
MACHINE = "test-machine"
#: Figures a browser run has and a Python run does not.
IN_THE_BROWSER = ("leak_tensors", "first_load_ms", "cached_load_ms", "block_ms")


def _cold(scale: float, processes: int = 3) -> ColdProfile:
    runs = [ColdRun(startup_ms=20 * scale, import_ms=(300 + index) * scale, read_ms=5 * scale, load_ms=40 * scale,
                    first_call_ms=10 * scale, steady_ms=[2.0], reload_ms=[], wall_ms=(375 + index) * scale,
                    harness_ms=1, read_bytes=MIB, peak_bytes=None, import_rss_bytes=None)
            for index in range(processes)]
    return ColdProfile(name="m", format="keras", size_bytes=10 * MIB, files=1, evict=False, runs=runs)


def python_record(scale: float = 1.0) -> ModelRecord:
    """Every figure a model loaded in Python has, ``scale`` times as large as at 1."""
    return ModelRecord(
        key="py", name="m", format="keras", identity="py", size_bytes=int(10 * MIB * scale), files=1,
        load_ms=Samples([(100 + index) * scale for index in range(8)]),
        warm_ms=Samples([(20 + index) * scale for index in range(8)]),
        memory=MemoryFigures(peak_bytes=int(50 * MIB * scale), method="vmhwm", where="fresh process", cycles=3,
                             rss_after_cycles=[int((100 + step * 10 * scale) * MIB) for step in range(3)],
                             device_memory=[{"source": "nvml", "peak_bytes": int(200 * MIB * scale)}]),
        cold=_cold(scale),
        fleet=FleetProfile(fleet=_cold(2 * scale, 4), single=_cold(scale), start_offsets_ms=[0.0] * 4),
        predictions=PredictionGrowth(count=10, where="python", tensors=[0, int(5 * scale)],
                                     rss_bytes=[100 * MIB, int((100 + 2 * scale) * MIB)]),
    )


def browser_record(scale: float = 1.0) -> ModelRecord:
    """Every figure of a TF.js model measured in the browser, ``scale`` times as large as at 1."""
    return ModelRecord(
        key="web", name="m", format="tfjs-layers", identity="web", runtime="browser webgl cache",
        load_ms=Samples([(50 + index) * scale for index in range(6)]),
        warm_ms=Samples([(10 + index) * scale for index in range(6)]),
        runtime_figures={
            "leak_tensors": int(3 * scale), "block_ms": 80 * scale,
            "block_round_ms": [(70 + index) * scale for index in range(6)],
            "first_load_ms": 120 * scale, "reload_ms": [(40 + index) * scale for index in range(5)],
            "cached_load_ms": 42 * scale, "gpu_bytes": int(30 * MIB * scale), "rounds": 6,
        },
    )


@pytest.fixture
def labels(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Each figure relabelled, in the registry itself, with a wording no module could have typed."""
    for key, figure in list(FIGURES.items()):
        monkeypatch.setitem(FIGURES, key, dataclasses.replace(figure, label=f"‹{key}›"))
    return {key: figure.label for key, figure in FIGURES.items()}


# --- every writer names a figure by its registry label -------------------------------------------


def _over(key: str) -> Budget:
    """A budget on ``key`` that any measured value misses."""
    limit: Any = 0 if FIGURES[key].kind == "count" else 1e-6
    return Budget(**{key: limit}, **({"runtime": "browser"} if key == "block_ms" else {}))


#: The misses that say what grew in a sentence ("m leaks 3 tensors > budget 0") rather than name the figure.
SENTENCES = ("leak_tensors", "predict_leak_tensors", "predict_leak_mb")


@pytest.mark.parametrize("key", LIMIT_KEYWORDS)
def test_a_budget_miss_names_the_figure_by_its_label(labels: dict[str, str], key: str) -> None:
    record = browser_record() if key in IN_THE_BROWSER else python_record()
    (miss,) = check(_over(key), record)
    assert miss.figure == key
    if key not in SENTENCES:
        assert miss.line.startswith(f"m {labels[key]} "), miss.line


@pytest.mark.parametrize("key", LIMIT_KEYWORDS)
def test_a_figure_not_measured_is_named_by_its_label(labels: dict[str, str], key: str) -> None:
    (miss,) = check(_over(key), ModelRecord(key="k", name="m", format="keras"))
    verb = "counted" if FIGURES[key].kind == "count" else "measured"
    assert miss.line.startswith(f"m {labels[key]} not {verb}: "), miss.line


def test_figures_a_failed_load_left_unmeasured_are_named_by_their_labels(labels: dict[str, str]) -> None:
    failed = ModelRecord(key="k", name="m", format="tfjs-graph", runtime="node wasm", error="ModelLoadError: bad")
    (miss,) = check(Budget(runtime="node", ms=1, warm_ms=1, leak_tensors=0), failed)
    assert miss.line == f"m {labels['ms']}, {labels['warm_ms']}, {labels['leak_tensors']} not measured: the load failed"


def test_a_regression_line_names_every_compared_figure_by_its_label(labels: dict[str, str]) -> None:
    comparisons = compare(python_record(), python_record(2.0), default_thresholds()) + \
        compare(browser_record(), browser_record(2.0), default_thresholds())
    by_figure = {comparison.figure: comparison for comparison in comparisons}
    assert set(by_figure) == set(COMPARED)
    for key, comparison in by_figure.items():
        assert comparison.line.startswith(f"m {labels[key]} "), comparison.line
        assert comparison.label == labels[key]


def test_the_github_json_names_each_figure_by_its_label_in_its_unit(labels: dict[str, str]) -> None:
    records = [python_record(), browser_record()]
    entries = {entry["name"]: entry for entry in github_benchmarks(records, clock="wall")}
    shown = {"ms": "wall", "warm_ms": "wall", "cold_ms": "wall", "mb": "", "peak_mb": "", "leak_mb": "",
             "gpu_mb": "", "leak_tensors": "", "first_load_ms": "", "cached_load_ms": ""}
    for key, clock in shown.items():
        record = browser_record() if key in IN_THE_BROWSER else python_record()
        name = f"{model_label(record)} {labels[key]}" + (f" ({clock})" if clock else "")
        assert name in entries, sorted(entries)
        assert entries[name]["unit"] == FIGURES[key].unit


def test_loadbudget_trend_heads_and_counts_each_figure_in_its_label_and_unit(
    labels: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    store = BaselineStore(tmp_path)
    store.save("r1", {"system": "Linux", "machine": "x86_64", "cpus": 2, "python": "CPython 3.11"},
               [python_record(), browser_record()], machine=MACHINE)
    for key, figure in FIGURES.items():
        assert cli_main(["trend", "--figure", key, "--storage", str(tmp_path), "--machine", MACHINE]) == 0
        header, line = capsys.readouterr().out.splitlines()[:2]
        assert header.startswith(f"{labels[key]} ({figure.unit}) over 1 saved run(s)"), header
        assert re.search(rf" {re.escape(figure.unit)} \(first\)$", line), (key, line)


def test_a_history_reads_each_figure_in_its_unit() -> None:
    python, browser = python_record(), browser_record()
    assert figure_value("mb", python, "wall") == 10
    assert figure_value("peak_mb", python, "wall") == 50
    assert figure_value("gpu_mb", browser, "wall") == 30
    assert figure_value("leak_tensors", browser, "wall") == 3
    assert figure_value("ms", python, "wall") == python.load_ms.median


def test_the_report_table_heads_each_figure_column_with_its_label() -> None:
    label = {key: figure.label for key, figure in FIGURES.items()}
    assert columns([browser_record()]) == (
        "model", "format", "runtime", "device", label["mb"], label["ms"], "x floor", label["warm_ms"],
        label["block_ms"], label["peak_mb"], label["leak_mb"], label["gpu_mb"], "budget",
    )
    assert BLOCK_COLUMN == label["block_ms"]


# --- the registry is complete, and the only list ------------------------------------------------


def test_every_reader_judge_and_limit_is_keyed_by_the_registry() -> None:
    assert set(READINGS) == set(LIMIT_KEYWORDS) and set(LIMIT_KEYWORDS) <= set(FIGURES)
    assert list(JUDGES) == list(COMPARED)
    assert {key for key, figure in FIGURES.items() if figure.kind == "time"} == set(REMEASURED)
    assert all((figure.unit == "ms") == (figure.kind == "time") for figure in FIGURES.values())
    assert all((figure.unit == "tensors") == (figure.kind == "count") for figure in FIGURES.values())


def test_the_default_thresholds_and_the_marker_help_come_from_the_registry() -> None:
    assert DEFAULT_COMPARE_FAIL.split(",") == [f"{key}:{FIGURES[key].default_threshold}" for key in COMPARED]
    for unit in ("ms", "MiB", "tensors"):
        limited = [key for key in LIMIT_KEYWORDS if FIGURES[key].unit == unit]
        assert f"in {unit}: {', '.join(limited)}" in marker_help()


def test_suggested_sizes_and_memory_take_the_registry_headroom(monkeypatch: pytest.MonkeyPatch) -> None:
    record = python_record()
    before, _ = suggested_limits(record, "wall")
    headroom = {key: FIGURES[key].headroom for key in ("mb", "peak_mb", "leak_mb")}
    for key in headroom:
        monkeypatch.setitem(FIGURES, key, dataclasses.replace(FIGURES[key], headroom=10.0))
    after, _ = suggested_limits(record, "wall")
    for key, was in headroom.items():
        # Each rounded up to two significant digits: the ratio of the headrooms, to within that rounding.
        assert after[key] / before[key] == pytest.approx(10.0 / was, rel=0.05), key


def _figure_tables(tree: ast.AST) -> list[tuple[int, str]]:
    """Literals that keep a fact of several figures apart from the registry: a dict from figure keys to
    words, or a tuple that pairs a figure key with its label."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant) and key.value in FIGURES]
            words = all(isinstance(value, ast.Constant) and isinstance(value.value, str) for value in node.values)
            if len(keys) >= 2 and words:
                found.append((node.lineno, f"dict of {', '.join(keys)} to words"))
        elif isinstance(node, (ast.Tuple, ast.List)):
            texts = {element.value for element in node.elts
                     if isinstance(element, ast.Constant) and isinstance(element.value, str)}
            for key in texts & set(FIGURES):
                if FIGURES[key].label in texts - {key}:
                    found.append((node.lineno, f"{key} paired with its label {FIGURES[key].label!r}"))
    return found


def test_no_module_keeps_its_own_table_of_figure_words() -> None:
    tables = [f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
              for path in sorted(PACKAGE.rglob("*.py")) if path.name != "figures.py" or path.parent != PACKAGE
              for line, what in _figure_tables(ast.parse(path.read_text(encoding="utf-8")))]
    assert tables == []


def test_the_scan_finds_a_table_of_labels() -> None:
    # The scan itself, on the kinds of table the registry replaced.
    assert _figure_tables(ast.parse('LABELS = {"ms": "load", "leak_tensors": "tensors"}'))
    assert _figure_tables(ast.parse('SERIES = (("ms", "wall", "load"),)'))
    assert not _figure_tables(ast.parse('UNIT_WORDS = {"ms": "milliseconds", "MiB": "MiB (2**20 bytes)"}'))


# --- the documented table -------------------------------------------------------------------------


def _documented_rows() -> list[list[str]]:
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index("| figure | label | unit | kind | default threshold |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_table_in_the_docs_is_the_registry() -> None:
    expected = [[f"`{key}`", figure.label, figure.unit, figure.kind,
                 f"`{figure.default_threshold}`" if figure.default_threshold is not None else "not compared"]
                for key, figure in FIGURES.items()]
    assert _documented_rows() == expected
