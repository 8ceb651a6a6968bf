"""Documented behaviour that no other test pins down: module markers, marker rounds,
``load_model.last``, relative paths, environment variables and the ``ru_maxrss`` fallback.

Like test_plugin.py, the models are loader functions (no TensorFlow) except
where a real file format is the point.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from models import copy_model, record_named
from pytest_loadbudget.budget.thresholds import Threshold
from pytest_loadbudget.settings import OPTIONS, resolve

LOADERS = textwrap.dedent(
    """
    import pytest

    CALLS = []

    class Model:
        pass

    def counted():
        CALLS.append(1)
        return Model()
    """
)


def write_suite(pytester: pytest.Pytester, tests: str, name: str = "test_suite") -> Path:
    return pytester.makepyfile(**{name: LOADERS + textwrap.dedent(tests)})


def read_json(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "out.json").read_text())


def test_module_pytestmark_budgets_every_test_of_the_module(pytester: pytest.Pytester) -> None:
    (pytester.path / "vocab.bin").write_bytes(b"x" * 800_000)
    write_suite(pytester, """
        pytestmark = pytest.mark.load_budget(mb=0.5)

        def test_module_budget(load_model):
            load_model(counted, name="tokenizer", files=["vocab.bin"])

        @pytest.mark.load_budget(mb=1)
        def test_own_marker_is_closer(load_model):
            load_model(counted, name="tokenizer", files=["vocab.bin"])
    """)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*load_budget: tokenizer size 0.763 MiB > budget 0.5 MiB (1 file)"])
    (record,) = read_json(pytester)["models"]
    assert [(use["nodeid"], use["budget"]) for use in record["tests"]] == [
        ("test_suite.py::test_module_budget", {"mb": 0.5}),
        ("test_suite.py::test_own_marker_is_closer", {"mb": 1}),
    ]


def test_marker_rounds_sets_the_number_of_timed_loads(pytester: pytest.Pytester) -> None:
    # Without it, a loader this quick gets the adaptive maximum (25 rounds).
    write_suite(pytester, """
        @pytest.mark.load_budget(rounds=3)
        def test_three_rounds(load_model):
            load_model(counted)

        def test_loads():
            # The first load, kept apart, then the three timed rounds.
            assert len(CALLS) == 4
    """)
    pytester.runpytest("--loadbudget-json=out.json").assert_outcomes(passed=2)
    (record,) = read_json(pytester)["models"]
    assert len(record["load_ms"]["samples"]) == 3


def test_load_model_last_is_the_record_of_the_last_model_loaded(pytester: pytest.Pytester) -> None:
    (pytester.path / "vocab.bin").write_bytes(b"x" * 1234)
    write_suite(pytester, """
        from pytest_loadbudget import ModelRecord

        def other():
            return Model()

        def test_last(load_model):
            assert load_model.last is None
            load_model(counted, name="first")
            first = load_model.last
            assert isinstance(first, ModelRecord) and first.name == "first"
            load_model(other, name="second", files=["vocab.bin"])
            second = load_model.last
            assert isinstance(second, ModelRecord) and second.name == "second"
            assert second.size_bytes == 1234 and second.files == 1
            assert second.format == "callable" and second.load_ms.count == 2
            # Asked for again, the first model is the last one loaded once more.
            load_model(counted, name="first")
            assert load_model.last is first

        def test_failed_load(load_model):
            with pytest.raises(Exception):
                load_model("missing.keras")
            assert "does not exist" in load_model.last.error
    """)
    pytester.runpytest("--loadbudget-rounds=2").assert_outcomes(passed=2)


def test_relative_paths_are_taken_from_the_cwd_else_from_the_test_files_directory(pytester: pytest.Pytester) -> None:
    # pytest runs from pytester.path; the test file lives in sub/.
    (pytester.path / "vocab.bin").write_bytes(b"x" * 100)
    sub = pytester.mkdir("sub")
    (sub / "vocab.bin").write_bytes(b"x" * 200)
    (sub / "merges.bin").write_bytes(b"x" * 300)
    (sub / "test_relative.py").write_text(LOADERS + textwrap.dedent("""
        def test_files(load_model):
            load_model(counted, name="tokenizer", files=["vocab.bin", "merges.bin"])
    """))
    result = pytester.runpytest("sub", "--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (record,) = read_json(pytester)["models"]
    # vocab.bin from the current directory (as open() takes it), merges.bin from beside the test.
    assert record["size_bytes"] == 100 + 300


def test_relative_model_path_beside_the_test_file(pytester: pytest.Pytester, model_paths: dict[str, Path]) -> None:
    sub = pytester.mkdir("sub")
    model = copy_model(model_paths["tflite"], sub)
    (sub / "test_beside.py").write_text(textwrap.dedent("""
        def test_beside(load_model):
            assert load_model("tiny.tflite").interpreter is not None
    """))
    result = pytester.runpytest("sub", "--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    assert record_named(read_json(pytester), "tiny.tflite")["path"] == str(model)


#: For every setting but rounds and cycles (tested with their effects in
#: test_plugin.py): the environment variable, a value, and the setting it gives.
ENVIRONMENT = [
    ("LOADBUDGET_REPORT", "1", "report", True),
    ("LOADBUDGET_JSON", "figures.json", "json", "figures.json"),
    ("LOADBUDGET_MEMORY", "all", "memory", "all"),
    ("LOADBUDGET_TIMEOUT", "12.5", "timeout", 12.5),
    ("LOADBUDGET_DISABLE", "true", "disable", True),
    ("LOADBUDGET_COLD_RUNS", "7", "cold_runs", 7),
    ("LOADBUDGET_COLD_DISK", "yes", "cold_disk", True),
    ("LOADBUDGET_COLD", "all", "cold", "all"),
    ("LOADBUDGET_DIAGNOSE", "on", "diagnose", True),
    ("LOADBUDGET_DEVICE", "cpu", "device", "cpu"),
    ("LOADBUDGET_REQUIRE_GPU", "1", "require_gpu", True),
    ("LOADBUDGET_NODE", "/opt/node/bin/node", "node", "/opt/node/bin/node"),
    ("LOADBUDGET_CHROMIUM", "/opt/chromium/chrome", "chromium", "/opt/chromium/chrome"),
    ("LOADBUDGET_STORAGE", "baselines", "storage", "baselines"),
    ("LOADBUDGET_SAVE", "v1", "save", "v1"),
    ("LOADBUDGET_COMPARE", "v0", "compare", "v0"),
    ("LOADBUDGET_COMPARE_FAIL", "ms:10%", "compare_fail", {"ms": Threshold("ms", 0.1, True)}),
    ("LOADBUDGET_COMPARE_ANY_MACHINE", "1", "compare_any_machine", True),
    ("LOADBUDGET_SUGGEST", "1", "suggest", "markers"),
    ("LOADBUDGET_SUGGEST", "config", "suggest", "config"),
    ("LOADBUDGET_MARKDOWN", "report.md", "markdown", "report.md"),
    ("LOADBUDGET_BENCHMARK_JSON", "bench.json", "benchmark_json", "bench.json"),
    ("LOADBUDGET_HTML", "report.html", "html", "report.html"),
    ("LOADBUDGET_GITHUB_JSON", "github.json", "github_json", "github.json"),
    ("LOADBUDGET_STEP_SUMMARY", "false", "step_summary", False),
    ("LOADBUDGET_CLOCK", "wall", "clock", "wall"),
    ("LOADBUDGET_MACHINE", "gpu-runner-3", "machine", "gpu-runner-3"),
    ("LOADBUDGET_AUTOSAVE", "1", "autosave", True),
    ("LOADBUDGET_BASELINE_RUNS", "7", "baseline_runs", 7),
    ("LOADBUDGET_AGAINST", "origin/main", "against", "origin/main"),
    ("LOADBUDGET_AGAINST_SECONDS", "90", "against_seconds", 90.0),
]


def test_every_setting_has_an_environment_case() -> None:
    # A new option must add its case above, or its variable goes untested.
    covered = {setting for _, _, setting, _ in ENVIRONMENT} | {"rounds", "cycles"}
    assert covered == {option.name.replace("-", "_") for option in OPTIONS}


@pytest.mark.parametrize(("variable", "value", "setting", "expected"), ENVIRONMENT, ids=[e[0] for e in ENVIRONMENT])
def test_every_environment_variable_is_read(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, setting: str,
    expected: Any,
) -> None:
    # The plugin's settings come from resolve() alone; a configured pytest
    # would cost a full garbage collection at teardown (~1 s with TensorFlow loaded).
    without = getattr(resolve(pytester.parseconfig()), setting)
    assert without != expected, "the case must differ from the default to show anything"
    monkeypatch.setenv(variable, value)
    assert getattr(resolve(pytester.parseconfig()), setting) == expected


#: Run in a fresh Python whose /proc/self/clear_refs "cannot be written", as on
#: macOS or Windows: the peak then comes from ru_maxrss.
RU_MAXRSS_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import numpy as np

    from pytest_loadbudget.measure import rss
    from pytest_loadbudget.measure.memory import measure_memory
    from pytest_loadbudget.model.request import LoadRequest

    rss._CLEAR_REFS = sys.argv[1]  # an absolute path: it replaces /proc/self/clear_refs

    def load():
        # 64 MiB, every page touched, freed before the load returns: only a
        # high-water mark still sees it.
        transient = np.ones(64 * 2**20 // 8)
        return float(transient.sum())

    figures = {}
    for where in ("in-process", "fresh process"):
        request = LoadRequest(format_name="callable", loader=load, name="transient", warmup=None)
        measured = measure_memory(request, 1, where=where)
        figures[where] = {"peak_bytes": measured.peak_bytes, "method": measured.method, "note": measured.note}
    print(json.dumps(figures))
    """
)

#: A small Python in between: ru_maxrss survives fork and exec, so a child of
#: the test process would start at the test process's high-water mark.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def test_peak_falls_back_to_ru_maxrss_where_the_high_water_mark_cannot_be_reset(tmp_path: Path) -> None:
    unwritable = tmp_path / "no-such-directory" / "clear_refs"
    completed = subprocess.run(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-c", RU_MAXRSS_CHILD, str(unwritable)],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    figures = json.loads(completed.stdout.splitlines()[-1])
    in_process = figures["in-process"]
    assert in_process["method"] == "ru_maxrss"
    assert 60 * 2**20 <= in_process["peak_bytes"] <= 100 * 2**20
    # In a child that figure means nothing (ru_maxrss is inherited across exec): no peak, and why.
    fresh = figures["fresh process"]
    assert fresh["method"] == "ru_maxrss"
    assert fresh["peak_bytes"] is None
    assert fresh["note"] == "no peak: this system cannot reset the memory high-water mark (/proc/self/clear_refs)"
