"""Budgets from configuration: ``[[tool.loadbudget.models]]`` entries collected as test items."""

from __future__ import annotations

import fnmatch
import json
import shutil
import statistics
import sys
import textwrap
from pathlib import Path

import pytest
from models import literal, record_named

from pytest_loadbudget.config.entries import read_entries
from pytest_loadbudget.report.suggest import BASE_MARGIN, round_up, time_limit
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
    # Just under the model's size: a miss by a few percent, not by orders of magnitude.
    limit = float(f"{model_paths['tflite'].stat().st_size * 0.95 / 2**20:.3g}")
    _project(pytester, model_paths["tflite"], f"""
        [[tool.loadbudget.models]]
        path = "models/a_*.tflite"
        {EASY}

        [[tool.loadbudget.models]]
        path = "models/b_*.tflite"
        mb = {limit!r}
        """)
    result, document = _run(pytester, "-v", "--junit-xml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "pyproject.toml::models/a_model.tflite PASSED*",
        "pyproject.toml::models/b_model.tflite BUDGET*",
        # The failure's headline names the entry that set the budget.
        literal("_ pyproject.toml: [[tool.loadbudget.models]] entry 2 (path 'models/b_*.tflite'): "
                "models/b_model.tflite _"),
        f"load_budget: b_model.tflite size * > budget {limit:g} MiB (1 file)",
        "BUDGET pyproject.toml::models/b_model.tflite - *",
    ])
    by_name = {model["name"]: model for model in document["models"]}
    (b_use,) = by_name["b_model.tflite"]["tests"]
    assert (b_use["nodeid"], b_use["budget"]) == ("pyproject.toml::models/b_model.tflite", {"mb": limit})
    assert fnmatch.fnmatch(b_use["misses"][0], f"b_model.tflite size * > budget {limit:g} MiB (1 file)")
    assert len(b_use["misses"]) == 1
    (a_use,) = by_name["a_model.tflite"]["tests"]
    assert a_use == {"nodeid": "pyproject.toml::models/a_model.tflite", "misses": [],
                     "budget": {"ms": 100000, "warm_ms": 100000, "mb": 100}}
    assert len(by_name["a_model.tflite"]["load_ms"]["samples"]) == 1, "the item measured its model"
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="models/b_model.tflite"' in junit and f"budget {limit:g} MiB" in junit


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
    # A model measured in Python on no particular device gets limits only: no placement keys.
    assert entries == [{"path": f"models/{name}", **_suggested(document, name)}
                       for name in ("a_model.tflite", "b_model.tflite")]
    # The comment above each entry says what its times were made of.
    result.stdout.fnmatch_lines([
        "# a_model.tflite: ms: p90 of 3 rounds, * time, +*% (*% of the wall waiting for a CPU); "
        "warm_ms: p90 of 3 rounds, * time, +*% (*)",
        "[[tool.loadbudget.models]]",
        'path = "models/a_model.tflite"',
    ])

    # Written to a file, they are a loadbudget.toml that reads back as valid entries and passes.
    result, document = _run(pytester, "--loadbudget-suggest=suggested.toml", "--loadbudget-rounds=3")
    result.assert_outcomes(passed=2)
    written = read_entries(pytester.path / "suggested.toml", "suggested.toml")
    assert [entry.pattern for entry in written] == ["models/a_model.tflite", "models/b_model.tflite"]
    for entry in written:
        limits = _suggested(document, entry.pattern.split("/")[-1])
        assert {name: getattr(entry.budget, name) for name in limits} == limits
    (pytester.path / "pyproject.toml").unlink()
    shutil.move(pytester.path / "suggested.toml", pytester.path / "loadbudget.toml")
    _run(pytester, "--loadbudget-disable")[0].assert_outcomes(passed=2)


def _suggested(document: dict, name: str) -> dict[str, float]:
    """The limits --loadbudget-suggest=config sets for the model ``name`` from its figures in ``document``.

    As documented, worked out here from the figures alone: times are the upper
    decile of the own-time rounds (wall time where own time was not measured)
    plus 25% plus the share of the wall time spent waiting for a CPU; size is
    x1.1; each rounded up to two significant digits.
    """
    model = record_named(document, name)
    limits: dict[str, float] = {}
    for figure, series in (("ms", "load"), ("warm_ms", "warm")):
        wall = model[f"{series}_ms"]["samples"]
        own = model[f"{series}_own_ms"]["samples"]
        judged = own or wall
        upper_decile = statistics.quantiles(judged, n=10, method="inclusive")[-1]
        waited = max(sum(wall) - sum(own), 0) / sum(wall) if own else 0.0
        limits[figure] = round_up(upper_decile * (1 + 0.25 + waited))
    limits["mb"] = round_up(model["size_bytes"] / 2**20 * 1.1)
    return limits


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


def test_an_entry_forces_its_format_and_names_its_model(pytester, model_paths):
    # A Keras archive under a name no format claims: only format = "keras" lets it load.
    (pytester.path / "models").mkdir()
    shutil.copy(model_paths["keras"], pytester.path / "models" / "classifier.bin")
    pytester.makepyprojecttoml(f"""
        [[tool.loadbudget.models]]
        path = "models/classifier.bin"
        format = "keras"
        name = "image classifier"
        {EASY}
        """)
    result, document = _run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pyproject.toml::models/classifier.bin PASSED*"])
    (model,) = document["models"]
    assert (model["name"], model["format"]) == ("image classifier", "keras")
    assert model["path"] == str(pytester.path / "models" / "classifier.bin")
    assert len(model["load_ms"]["samples"]) == 1


def test_an_entry_with_warmup_false_is_loaded_but_never_warmed(pytester, model_paths):
    _project(pytester, model_paths["tflite"], """
        [[tool.loadbudget.models]]
        path = "models/a_model.tflite"
        ms = 100000

        [[tool.loadbudget.models]]
        path = "models/b_model.tflite"
        ms = 100000
        warmup = false
        """)
    result, document = _run(pytester, "--loadbudget-rounds=2")
    result.assert_outcomes(passed=2)
    by_name = {model["name"]: model for model in document["models"]}
    assert len(by_name["a_model.tflite"]["warm_ms"]["samples"]) == 2, "the default warms every round"
    assert len(by_name["b_model.tflite"]["load_ms"]["samples"]) == 2
    assert by_name["b_model.tflite"]["warm_ms"]["samples"] == []


def test_an_entrys_files_count_in_its_size_and_its_budget(pytester, model_paths):
    labels = 3000
    model_bytes = model_paths["tflite"].stat().st_size
    # Above the model alone, below the model with its labels: only the extra file makes it a miss.
    limit = float(f"{(model_bytes + labels / 2) / 2**20:.3g}")
    assert model_bytes < limit * 2**20 < model_bytes + labels
    _project(pytester, model_paths["tflite"], f"""
        [[tool.loadbudget.models]]
        path = "models/a_model.tflite"
        files = ["models/labels.txt"]
        mb = {limit!r}
        """, names=("a_model",))
    (pytester.path / "models" / "labels.txt").write_bytes(b"x" * labels)
    result, document = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"load_budget: a_model.tflite size * > budget {limit:g} MiB (2 files)"])
    (model,) = document["models"]
    assert (model["size_bytes"], model["files"]) == (model_bytes + labels, 2)


def test_an_entrys_options_reach_the_loader(pytester):
    # A Lambda layer's Python code loads only with safe_mode = false: without the option the load fails.
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs))
    (pytester.path / "models").mkdir()
    for name in ("trusted", "default"):
        model.save(pytester.path / "models" / f"{name}.keras")
    pytester.makepyprojecttoml(f"""
        [[tool.loadbudget.models]]
        path = "models/trusted.keras"
        options = {{ safe_mode = false }}
        {EASY}

        [[tool.loadbudget.models]]
        path = "models/default.keras"
        {EASY}
        """)
    result, document = _run(pytester, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "pyproject.toml::models/trusted.keras PASSED*",
        "pyproject.toml::models/default.keras FAILED*",
        "*keras.models.load_model failed: ValueError: Requested the deserialization of a `Lambda` layer*",
    ])
    trusted = {model["name"]: model for model in document["models"]}["trusted.keras"]
    assert len(trusted["warm_ms"]["samples"]) == 1, "the model loaded and ran"
    assert "safe_mode=False" in trusted["key"], "measured apart from the same file loaded without the option"
