"""``.tflite`` models through LiteRT, TensorFlow's interpreter or tflite-runtime.

A tiny ``.tflite`` model is exported with TensorFlow once per module. The
test that checks TensorFlow stays out of the process runs pytest in a
subprocess: this one has TensorFlow imported (it built the model).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Helpers of other test modules: tests/ is on sys.path, as for conftest's ``import models``.
from test_cli import loadbudget
from test_diagnose import cold_profile, figures

from pytest_loadbudget.diagnose.rules import diagnose
from pytest_loadbudget.formats.tflite_interpreters import LITERT
from pytest_loadbudget.fresh.import_time import fresh_import_ms
from pytest_loadbudget.results.cold_profile import ColdProfile
from pytest_loadbudget.results.record import ModelRecord

pytest.importorskip("ai_edge_litert")
LITERT_LABEL = LITERT.label()


@pytest.fixture(scope="module")
def tflite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A four-features-in, two-out .tflite model (TensorFlow is imported here, before any pytester snapshot)."""
    pytest.importorskip("tensorflow")
    import keras

    from pytest_loadbudget.export import export_formats

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="tiny")
    return export_formats(model, tmp_path_factory.mktemp("litert"), formats=("tflite",))["tflite"]


def run_suite(pytester: pytest.Pytester, source: str, *args: str, subprocess: bool = False) -> tuple[
        pytest.RunResult, dict]:
    pytester.makepyfile(test_models=textwrap.dedent(source))
    report = pytester.path / "loadbudget.json"
    options = [f"--loadbudget-json={report}", "--loadbudget-rounds=1", "-p", "no:cacheprovider", "-rs", *args]
    result = (pytester.runpytest_subprocess if subprocess else pytester.runpytest)(*options)
    return result, json.loads(report.read_text()) if report.exists() else {}


def test_litert_measures_a_tflite_model_without_ever_importing_tensorflow(
    pytester: pytest.Pytester, tflite_path: Path,
) -> None:
    # Whether the plugin imported TensorFlow at any point of the session, the report included.
    pytester.makeconftest("""
        import sys
        from pathlib import Path

        def pytest_unconfigure(config):
            Path("tensorflow_imported.txt").write_text(str("tensorflow" in sys.modules))
    """)
    result, document = run_suite(pytester, f"""
        import sys
        import pytest

        @pytest.mark.load_budget(cold_ms=1e9, cold_runs=1, peak_mb=1e9)
        def test_tiny(load_model):
            model = load_model({str(tflite_path)!r})
            assert model([[1.0, 2.0, 3.0, 4.0]]).shape == (1, 2)
            assert "tensorflow" not in sys.modules
    """, "--loadbudget-report", subprocess=True)
    result.assert_outcomes(passed=1)
    [record] = document["models"]
    assert (record["interpreter"], record["interpreter_version"]) == ("litert", LITERT.version())
    [cold_run] = record["cold"]["runs"]
    assert cold_run["frameworks"] == ["ai_edge_litert"], "the cold child imported LiteRT alone"
    assert record["memory"]["where"] == "fresh process"
    assert record["memory"]["frameworks"] == ["ai_edge_litert"], "so did the memory child"
    assert (pytester.path / "tensorflow_imported.txt").read_text() == "False"
    result.stdout.fnmatch_lines([f"tiny.tflite *tflite *python ({LITERT_LABEL}) *"])


def test_a_forced_interpreter_runs_the_model_and_load_model_overrides_the_marker(
    pytester: pytest.Pytester, tflite_path: Path,
) -> None:
    import tensorflow as tf

    result, document = run_suite(pytester, f"""
        import pytest

        @pytest.mark.load_budget(interpreter="tensorflow", cold_runs=1)
        def test_tensorflow(load_model):
            assert type(load_model({str(tflite_path)!r}).interpreter).__module__.startswith("tensorflow.")

        @pytest.mark.load_budget(interpreter="tensorflow")
        def test_litert(load_model):
            model = load_model({str(tflite_path)!r}, interpreter="litert")
            assert type(model.interpreter).__module__ == "ai_edge_litert.interpreter"
    """, "--loadbudget-report")
    result.assert_outcomes(passed=2)
    by_interpreter = {record["interpreter"]: record for record in document["models"]}
    assert by_interpreter["tensorflow"]["interpreter_version"] == tf.__version__
    assert by_interpreter["tensorflow"]["cold"]["runs"][0]["frameworks"][:1] == ["tensorflow"]
    assert by_interpreter["tensorflow"]["identity"] != by_interpreter["litert"]["identity"]
    result.stdout.fnmatch_lines([f"tiny.tflite *python (tensorflow {tf.__version__}) *",
                                 f"tiny.tflite *python ({LITERT_LABEL}) *"], consecutive=False)


def test_a_baseline_of_another_interpreter_is_never_compared(pytester: pytest.Pytester, tflite_path: Path) -> None:
    suite = f"""
        import pytest

        @pytest.mark.load_budget(interpreter="{{interpreter}}")
        def test_tiny(load_model):
            load_model({str(tflite_path)!r}, warmup=None)
    """
    run_suite(pytester, suite.format(interpreter="tensorflow"), "--loadbudget-save")[0].assert_outcomes(passed=1)
    result, document = run_suite(pytester, suite.format(interpreter="litert"), "--loadbudget-compare")
    result.assert_outcomes(passed=1)
    [record] = document["models"]
    assert record["comparisons"] == []
    summary = document["baseline_summary"]
    assert (summary["new"], summary["not_measured"]) == (["tiny.tflite [tflite, cpu, litert]"],
                                                         ["tiny.tflite [tflite, cpu, tensorflow]"])
    result.stdout.fnmatch_lines(["loadbudget: new (no baseline, nothing compared): tiny.tflite [[]tflite, cpu, litert[]]"])
    # The same interpreter again is compared: the baseline itself was readable.
    result, document = run_suite(pytester, suite.format(interpreter="tensorflow"), "--loadbudget-compare")
    assert "ms" in [comparison["figure"] for comparison in document["models"][0]["comparisons"]]
    assert document["baseline_summary"]["new"] == []


def test_an_interpreter_that_is_not_installed_skips_the_test_with_its_name(
    pytester: pytest.Pytester, tflite_path: Path,
) -> None:
    if "tflite_runtime" in sys.modules or _installed("tflite_runtime"):
        pytest.skip("tflite-runtime is installed here")
    result, _ = run_suite(pytester, f"""
        import pytest

        @pytest.mark.load_budget(interpreter="tflite-runtime")
        def test_tiny(load_model):
            load_model({str(tflite_path)!r})
    """)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([
        "SKIPPED * the TFLite interpreter 'tflite-runtime' (interpreter='tflite-runtime') is not installed: "
        "pip install tflite-runtime",
    ])


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_an_unknown_interpreter_is_an_error_naming_the_keyword(pytester: pytest.Pytester, tflite_path: Path) -> None:
    result, _ = run_suite(pytester, f"""
        import pytest

        @pytest.mark.load_budget(interpreter="tflite")
        def test_marker(load_model):
            load_model({str(tflite_path)!r})

        def test_argument(load_model):
            load_model({str(tflite_path)!r}, interpreter="lite-rt")
    """)
    result.assert_outcomes(errors=1, failed=1)
    result.stdout.fnmatch_lines([
        "*invalid @pytest.mark.load_budget on test_models.py::test_marker: interpreter='tflite' must be one of "
        "'litert', 'tensorflow', 'tflite-runtime'*",
        "*MarkerError: interpreter='lite-rt' must be one of 'litert', 'tensorflow', 'tflite-runtime'",
    ], consecutive=False)


def test_a_configuration_entry_picks_the_interpreter_like_the_marker(pytester: pytest.Pytester, tflite_path: Path) -> None:
    (pytester.path / "models").mkdir()
    shutil.copy(tflite_path, pytester.path / "models" / "a.tflite")
    entry = """
        [[tool.loadbudget.models]]
        path = "models/a.tflite"
        interpreter = "{interpreter}"
        """
    report = pytester.path / "figures.json"
    pytester.makepyprojecttoml(entry.format(interpreter="tensorflow"))
    result = pytester.runpytest("-p", "no:cacheprovider", "--loadbudget-rounds=1", f"--loadbudget-json={report}")
    result.assert_outcomes(passed=1)
    [record] = json.loads(report.read_text())["models"]
    assert (record["name"], record["interpreter"]) == ("a.tflite", "tensorflow")
    pytester.makepyprojecttoml(entry.format(interpreter="tflite"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["pyproject.toml: * (path 'models/a.tflite'): interpreter='tflite' must be one of "
                                 "'litert', 'tensorflow', 'tflite-runtime'"])


def test_import_advice_for_tensorflow_quotes_the_litert_import_measured_here() -> None:
    cold = cold_profile(import_=3000, startup=100, load=500, reload=450, fmt="tflite")
    [through_tensorflow, *_] = diagnose(figures(cold, interpreter="tensorflow"))
    measured = fresh_import_ms(LITERT.module)
    assert measured is not None and measured > 0
    assert fresh_import_ms(LITERT.module) == measured, "measured once, then cached"
    assert through_tensorflow.kind == "import"
    assert "import tensorflow lazily" in through_tensorflow.fix
    assert f"LiteRT (ai-edge-litert, installed here) imported in {_ms(measured)} in a fresh Python" in \
        through_tensorflow.fix
    [through_litert, *_] = diagnose(figures(cold, interpreter="litert"))
    assert "import ai_edge_litert.interpreter lazily" in through_litert.fix
    assert "ai-edge-litert" not in through_litert.fix, "it runs on LiteRT already"


def _ms(value: float) -> str:
    from pytest_loadbudget.units import format_ms

    return format_ms(value)


def test_runs_saved_before_interpreters_were_recorded_still_load() -> None:
    record = ModelRecord.from_dict({"key": "k", "name": "m.tflite", "format": "tflite"})
    assert (record.interpreter, record.interpreter_version) == ("", "")
    profile = cold_profile(fmt="tflite").to_dict()
    del profile["interpreter"]
    for run in profile["runs"]:
        del run["frameworks"]
    loaded = ColdProfile.from_dict(profile)
    assert loaded.interpreter == "" and loaded.runs[0].frameworks == []


def test_profile_shows_the_interpreter_and_what_the_cold_start_imported(tflite_path: Path, tmp_path: Path) -> None:
    report = tmp_path / "profile.json"
    done = loadbudget("profile", str(tflite_path), "--runs", "1", "--json", str(report), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == f"interpreter: {LITERT_LABEL} (the import phase imports ai_edge_litert.interpreter)"
    assert "frameworks the cold start imported: ai_edge_litert" in lines
    assert "child 1/1: importing ai_edge_litert.interpreter..." in done.stderr
    assert json.loads(report.read_text())["cold"]["interpreter"] == "litert"
    refused = loadbudget("profile", str(tflite_path), "--interpreter", "tflite", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--interpreter: invalid choice: 'tflite'" in refused.stderr


def test_litert_alone_never_imports_tensorflow_for_the_schema(tflite_path: Path) -> None:
    # Validating a .tflite file reads it with the flatbuffer reader LiteRT ships, loaded from its file.
    code = (
        "import sys; from pathlib import Path; from pytest_loadbudget.formats.tflite import TFLiteFormat, _tflite_schema; "
        f"TFLiteFormat().artifact_files(Path({str(tflite_path)!r})); "
        "print(_tflite_schema().__file__, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    source, imported = done.stdout.split()
    assert Path(source).parent.name == "ai_edge_litert" and imported == "False"
