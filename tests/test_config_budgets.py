"""Budgets from configuration: ``[[tool.loadbudget.models]]`` entries collected as test items."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from models import literal

from pytest_loadbudget.config.entries import read_entries
from pytest_loadbudget.config.suggest import BASE_MARGIN, time_limit, upper_quantile
from pytest_loadbudget.results.samples import Samples

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

#: Generous enough for any machine: these tests check what is measured and checked, not how fast.
EASY = "ms = 100000\nwarm_ms = 100000\nmb = 100"


def _project(pytester: pytest.Pytester, tflite: Path, entries: str, names: tuple[str, ...] = ("a_model", "b_model"),
             file: str = "pyproject.toml") -> None:
    """Copies of the tiny .tflite under models/, and ``entries`` as the configuration file."""
    (pytester.path / "models").mkdir()
    for name in names:
        shutil.copy(tflite, pytester.path / "models" / f"{name}.tflite")
    (pytester.path / file).write_text(textwrap.dedent(entries))


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / "figures.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--loadbudget-rounds=1", f"--loadbudget-json={report}", *args)
    return result, json.loads(report.read_text()) if report.exists() else {}


def test_every_matched_artifact_is_an_item_named_by_the_file_and_the_model(pytester):
    # Collection alone loads nothing: empty files are enough.
    for path in ("models/a_model.tflite", "models/b_model.tflite", "web/net/model.json", "tests/test_unit.py"):
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text("def test_unit(): pass\n" if path.endswith(".py") else "")
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        testpaths = ["tests"]

        [[tool.loadbudget.models]]
        path = "models/*.tflite"
        ms = 50

        [[tool.loadbudget.models]]
        path = "web/**/model.json"
        mb = 5
        runtime = "node"
        backend = "wasm"
        """)
    # Bare pytest collects the testpaths and the rootdir's entries, which lie outside them.
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "tests/test_unit.py::test_unit",
        "pyproject.toml::models/a_model.tflite",
        "pyproject.toml::models/b_model.tflite",
        "pyproject.toml::web/net/model.json[node-wasm]",
        "4 tests collected*",
    ])
    # -k picks models by name like tests.
    result = pytester.runpytest("--collect-only", "-q", "-k", "b_model or net")
    result.stdout.fnmatch_lines(["pyproject.toml::models/b_model.tflite", "pyproject.toml::web/net/model.json[node-wasm]",
                                 "2/4 tests collected (2 deselected)*"])
    # Paths given on the command line are what runs.
    result = pytester.runpytest("--collect-only", "-q", "tests")
    result.stdout.fnmatch_lines(["tests/test_unit.py::test_unit", "1 test collected*"])


def test_an_item_is_checked_against_its_entry_and_a_miss_fails_it(pytester, model_paths):
    _project(pytester, model_paths["tflite"], f"""
        [[tool.loadbudget.models]]
        path = "models/a_*.tflite"
        {EASY}

        [[tool.loadbudget.models]]
        path = "models/b_*.tflite"
        mb = 0.0001
        """)
    result, document = _run(pytester, "-v", "--junit-xml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "pyproject.toml::models/a_model.tflite PASSED*",
        "pyproject.toml::models/b_model.tflite BUDGET*",
        # The failure's headline names the entry that set the budget.
        literal("_ pyproject.toml: [[tool.loadbudget.models]] entry 2 (path 'models/b_*.tflite'): "
                "models/b_model.tflite _"),
        "load_budget: b_model.tflite size * > budget 0.0001 MiB (1 file)",
        "BUDGET pyproject.toml::models/b_model.tflite - *",
    ])
    by_name = {model["name"]: model for model in document["models"]}
    assert by_name["b_model.tflite"]["tests"][0]["budget"] == {"mb": 0.0001}
    assert by_name["a_model.tflite"]["load_ms"]["samples"], "the item measured its model"
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="models/b_model.tflite"' in junit and "budget 0.0001 MiB" in junit


T = "[[tool.loadbudget.models]]"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (f'{T}\npath = "models/*.tflite"\nms = 10\n\n{T}\npath = "models/b_*.tflite"\nmss = 10\n',
         f"pyproject.toml: {T} entry 2 (path 'models/b_*.tflite'): unknown key 'mss'; "
         "accepted: path, format, name, warmup, files, options, ms, mb, "),
        (f'{T}\npath = "models/*.tflite"\nms = -1\n',
         f"pyproject.toml: {T} entry 1 (path 'models/*.tflite'): ms=-1 must be greater than 0"),
        (f'{T}\npath = "models/*.tflite"\nruntime = "deno"\n',
         f"pyproject.toml: {T} entry 1 (path 'models/*.tflite'): runtime='deno' must be one of "),
        (f'{T}\npath = "models/*.tflite"\nwarmup = 3\n',
         f"pyproject.toml: {T} entry 1 (path 'models/*.tflite'): warmup=3 must be true"),
        (f'{T}\npath = "models/*.tflite"\nms = 10\n\n{T}\npath = "models/*.onnx"\nms = 10\n',
         f"pyproject.toml: {T} entry 2 (path 'models/*.onnx'): the glob matches nothing under "),
        ('[[tool.loadbudget.model]]\npath = "models/*.tflite"\nms = 10\n',
         "pyproject.toml: unknown key 'tool.loadbudget.model'; accepted: tool.loadbudget.models"),
        (f'{T}\npath = "models/*.tflite"\nms = 10\n\n{T}\npath = "models/a_*"\nms = 20\n',
         f"pyproject.toml: {T} entry 2 (path 'models/a_*'): models/a_model.tflite is matched by "
         f"pyproject.toml: {T} entry 1 (path 'models/*.tflite') too; "),
    ],
    ids=["unknown-key", "bad-value", "bad-runtime", "bad-warmup", "empty-glob", "misspelt-table", "matched-twice"],
)
def test_a_bad_entry_is_a_collection_error_naming_the_file_and_the_entry(pytester, entries, message):
    (pytester.path / "models").mkdir()
    for name in ("a_model", "b_model"):
        (pytester.path / "models" / f"{name}.tflite").write_text("")
    pytester.makepyprojecttoml(entries)
    pytester.makepyfile(test_other="def test_other(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting pyproject.toml*", literal(message) + "*"])


def test_a_test_that_loads_the_same_model_shares_its_measurement(pytester, model_paths):
    _project(pytester, model_paths["tflite"], f"""
        [[tool.loadbudget.models]]
        path = "models/a_model.tflite"
        {EASY}
        """, names=("a_model",))
    pytester.makepyfile(test_uses="""
        def test_uses(load_model):
            load_model("models/a_model.tflite")
        """)
    result, document = _run(pytester, "--loadbudget-rounds=2")
    result.assert_outcomes(passed=2)
    (model,) = document["models"]
    assert sorted(use["nodeid"] for use in model["tests"]) == ["pyproject.toml::models/a_model.tflite",
                                                               "test_uses.py::test_uses"]
    assert len(model["load_ms"]["samples"]) == 2, "measured once, by whichever came first"


def test_items_run_under_xdist(pytester, model_paths):
    _project(pytester, model_paths["tflite"], f"""
        [[tool.loadbudget.models]]
        path = "models/*.tflite"
        {EASY}
        """)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--loadbudget-rounds=1",
                                           "--loadbudget-json=figures.json")
    result.assert_outcomes(passed=2)
    document = json.loads((pytester.path / "figures.json").read_text())
    uses = sorted(use["nodeid"] for model in document["models"] for use in model["tests"])
    assert uses == ["pyproject.toml::models/a_model.tflite", "pyproject.toml::models/b_model.tflite"]


def test_loadbudget_toml_takes_the_same_entries_without_the_tool_prefix(pytester, model_paths):
    _project(pytester, model_paths["tflite"], """
        [[models]]
        path = "models/a_model.tflite"
        mb = 0.0001
        """, names=("a_model",), file="loadbudget.toml")
    result, _ = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["load_budget: a_model.tflite size * > budget 0.0001 MiB (1 file)",
                                 "BUDGET loadbudget.toml::models/a_model.tflite - *"])
    (pytester.path / "loadbudget.toml").write_text('[[models]]\npath = "models/a_model.tflite"\nmb = "big"\n')
    result, _ = _run(pytester)
    result.stdout.fnmatch_lines([literal("loadbudget.toml: [[models]] entry 1 (path 'models/a_model.tflite'): "
                                         "mb='big' must be a number")])


def test_suggested_entries_parse_back_and_pass(pytester, model_paths):
    _project(pytester, model_paths["tflite"], f"""
        [[tool.loadbudget.models]]
        path = "models/*.tflite"
        {EASY}
        """)
    result, document = _run(pytester, "--loadbudget-suggest=config", "--loadbudget-rounds=3")
    result.assert_outcomes(passed=2)
    lines = result.outlines
    printed = "\n".join(lines[lines.index("[[tool.loadbudget.models]]") - 1:])
    entries = tomllib.loads(printed.split("\n=")[0])["tool"]["loadbudget"]["models"]
    assert [entry["path"] for entry in entries] == ["models/a_model.tflite", "models/b_model.tflite"]
    by_name = {model["name"]: model for model in document["models"]}
    for entry in entries:
        model = by_name[Path(entry["path"]).name]
        own = model["load_own_ms"]["samples"] or model["load_ms"]["samples"]
        assert entry["ms"] >= upper_quantile(own) * (1 + BASE_MARGIN), "headroom over the slowest rounds"
        assert entry["mb"] >= model["size_bytes"] / 2**20

    # Written to a file, they are a loadbudget.toml that reads back as valid entries and passes.
    _run(pytester, "--loadbudget-suggest=suggested.toml")[0].assert_outcomes(passed=2)
    written = read_entries(pytester.path / "suggested.toml", "suggested.toml")
    assert [entry.pattern for entry in written] == ["models/a_model.tflite", "models/b_model.tflite"]
    assert all(entry.budget.ms and entry.budget.warm_ms and entry.budget.mb for entry in written)
    (pytester.path / "pyproject.toml").unlink()
    shutil.move(pytester.path / "suggested.toml", pytester.path / "loadbudget.toml")
    _run(pytester, "--loadbudget-disable")[0].assert_outcomes(passed=2)


def test_time_headroom_grows_with_the_spread_and_the_wait_for_a_cpu():
    rounds = Samples([float(value) for value in range(1, 11)])
    quiet, _ = time_limit(rounds, rounds, rounds)
    assert quiet == pytest.approx(9.1 * (1 + BASE_MARGIN))  # the upper decile of 1..10, plus the base margin
    # Half of the wall spent waiting for a CPU: half as much again.
    busy, share = time_limit(rounds, Samples([2 * value for value in rounds.values]), rounds)
    assert share == pytest.approx(0.5)
    assert busy == pytest.approx(9.1 * (1 + BASE_MARGIN + 0.5))
    steady, _ = time_limit(Samples([5.0] * 10), Samples([5.0] * 10), Samples([5.0] * 10))
    assert steady == pytest.approx(5.0 * (1 + BASE_MARGIN))
