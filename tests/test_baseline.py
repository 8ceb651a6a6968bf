"""Saved runs and the regression gate, through the plugin and the command line."""

from __future__ import annotations

import ast
import json
import multiprocessing
import statistics
import textwrap
from pathlib import Path

import pytest
from filelock import FileLock

from pytest_loadbudget.baseline.storage import BaselineStore, read_run
from pytest_loadbudget.cli.main import main as cli_main
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples

SUITE = textwrap.dedent(
    """
    import os, time
    import pytest

    class Model:
        def __call__(self, x):
            return x

    def slow():
        time.sleep(float(os.environ.get("LOAD_DELAY", "0.02")))
        return Model()

    def tokenizer():
        return Model()

    @pytest.mark.load_budget(COMPARE_FAIL)
    def test_slow(load_model):
        load_model(slow)

    def test_tokenizer(load_model):
        load_model(tokenizer, files=["vocab.bin"])
    """
)


@pytest.fixture
def project(pytester: pytest.Pytester):
    def write(compare_fail: str = "") -> None:
        keyword = f"compare_fail={compare_fail!r}" if compare_fail else ""
        pytester.makepyfile(test_suite=SUITE.replace("COMPARE_FAIL", keyword))
        (pytester.path / "vocab.bin").write_bytes(b"v" * 100_000)

    write()
    pytester.write = write  # type: ignore[attr-defined]
    return pytester


def saved_runs(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / ".loadbudget").glob("*/*.json"))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--loadbudget-rounds=6", "-p", "no:randomly", *args)


def test_save_then_compare_unchanged_passes(project, monkeypatch):
    run(project, "--loadbudget-save=first").assert_outcomes(passed=2)
    (saved,) = saved_runs(project)
    assert saved.name == "0001_first.json"
    document = json.loads(saved.read_text())
    assert {model["name"] for model in document["models"]} == {"slow", "tokenizer"}
    slow = next(model for model in document["models"] if model["name"] == "slow")
    assert len(slow["load_ms"]["samples"]) == 6, "raw samples are kept"
    assert document["machine"]["cpus"] >= 1

    result = run(project, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        f"compared with {saved} (first, *, this machine)",
        "  ok         slow load * ms vs baseline * ms (*, p=*, n=6/6, * time)",
        "  ok         tokenizer size 0.0954 MiB vs baseline 0.0954 MiB (+0%, same artifact)",
    ])


def test_slower_load_fails_with_the_regression_line(project, monkeypatch):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    monkeypatch.setenv("LOAD_DELAY", "0.06")
    result = run(project, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*loadbudget: slow load * ms vs baseline * ms (+*%, p=0.00*, n=6/6, * time)"
        " [[]*confirmed by a second measurement (load * ms over both measurements' 12 rounds, +*%)[]]",
        "*BUDGET test_suite.py::test_slow - loadbudget: slow load*",
    ])
    result.stdout.fnmatch_lines(["slow *REGRESSION load +*%"])


def test_marker_threshold_overrides_the_command_line(project, monkeypatch):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    monkeypatch.setenv("LOAD_DELAY", "0.06")  # 3x slower: +200%
    # A lenient marker beats a strict command line ...
    project.write(compare_fail="ms:500%")
    result = run(project, "--loadbudget-compare", "--loadbudget-compare-fail=ms:10%", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["  ok         slow load * ms vs baseline * ms (+*%, p=*, n=6/6, * time)"])
    # ... and a strict marker beats a lenient one: whichever is set, the marker decides.
    project.write(compare_fail="ms:10%")
    result = run(project, "--loadbudget-compare", "--loadbudget-compare-fail=ms:1000%")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*BUDGET test_suite.py::test_slow - loadbudget: slow load*"])


def test_larger_artifact_is_a_size_regression_and_says_the_artifact_changed(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (project.path / "vocab.bin").write_bytes(b"v" * 200_000)
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*loadbudget: tokenizer size 0.191 MiB vs baseline 0.0954 MiB (+100%, artifact changed)"])


@pytest.mark.parametrize("where", ["option", "ini", "env"])
def test_a_compare_fail_list_changes_the_figures_it_names_and_keeps_the_others_gated(project, monkeypatch, where):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    monkeypatch.setenv("LOAD_DELAY", "0.06")  # 3x slower: +200%
    (project.path / "vocab.bin").write_bytes(b"v" * 200_000)
    loose_load = "ms:1000%"
    args = ["--loadbudget-compare", "--loadbudget-report"]
    if where == "option":
        args.append(f"--loadbudget-compare-fail={loose_load}")
    elif where == "ini":
        project.makeini(f"[pytest]\nloadbudget_compare_fail = {loose_load}\n")
    else:
        monkeypatch.setenv("LOADBUDGET_COMPARE_FAIL", loose_load)
    result = run(project, *args)
    # The load is judged at the looser threshold; the size keeps the default (mb:0).
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "loadbudget: tokenizer size 0.191 MiB vs baseline 0.0954 MiB (+100%, artifact changed)",
        "  ok         slow load * ms vs baseline * ms (+*%, p=*, n=6/6, * time)",
        "*BUDGET test_suite.py::test_tokenizer - loadbudget: tokenizer size*",
    ])


def test_off_leaves_a_figure_shown_and_never_failing(project, monkeypatch):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (project.path / "vocab.bin").write_bytes(b"v" * 200_000)
    result = run(project, "--loadbudget-compare", "--loadbudget-compare-fail=mb:off", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "  ok         tokenizer size 0.191 MiB vs baseline 0.0954 MiB (+100%, artifact changed)  [[]not judged (mb:off)[]]",
    ])
    # A marker turns a figure off for its own test alone: the slower load passes, the other test's size fails.
    project.write(compare_fail="ms:off")
    (project.path / "vocab.bin").write_bytes(b"v" * 200_000)
    monkeypatch.setenv("LOAD_DELAY", "0.06")
    result = run(project, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "  ok         slow load * ms vs baseline * ms (+*%, p=*, n=6/6, * time)  [[]not judged (ms:off)[]]",
        "*BUDGET test_suite.py::test_tokenizer - loadbudget: tokenizer size*",
    ])


def test_changed_artifact_of_the_same_size_is_reported_as_changed(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (project.path / "vocab.bin").write_bytes(b"w" * 100_000)
    result = run(project, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["  ok         tokenizer size 0.0954 MiB vs baseline 0.0954 MiB (+0%, artifact changed)"])


def test_too_few_samples_never_fail(project, monkeypatch):
    project.runpytest("--loadbudget-rounds=3", "--loadbudget-save").assert_outcomes(passed=2)
    monkeypatch.setenv("LOAD_DELAY", "0.06")
    result = project.runpytest("--loadbudget-rounds=3", "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*slow load * [[]*too few samples to call a regression (need 5 a side)[]]"])


def test_corrupt_baseline_is_reported_left_untouched_and_the_run_goes_on(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (saved,) = saved_runs(project)
    saved.write_text('{"schema": "pytest-loadbudget/run", "version": 1, "name": ')
    before = saved.read_bytes()
    result = run(project, "--loadbudget-compare", "--loadbudget-save")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"loadbudget: no comparison: {saved}: corrupt baseline, not valid JSON (*); left untouched"])
    assert saved.read_bytes() == before
    assert [path.name for path in saved_runs(project)][-1].startswith("0002_")


def test_newer_schema_is_explained_not_dropped(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (saved,) = saved_runs(project)
    document = json.loads(saved.read_text())
    document["version"] = 99
    saved.write_text(json.dumps(document))
    result = run(project, "--loadbudget-compare")
    result.stdout.fnmatch_lines(["*written by a newer pytest-loadbudget (schema 99, this one reads up to 2): upgrade"])


def test_baseline_from_another_machine_does_not_fail_unless_asked(project, monkeypatch):
    run(project, "--loadbudget-save=elsewhere").assert_outcomes(passed=2)
    (saved,) = saved_runs(project)
    document = json.loads(saved.read_text())
    document["machine_id"] = "Other-machine-1234"
    other = saved.parent.parent / "Other-machine-1234" / saved.name
    other.parent.mkdir()
    other.write_text(json.dumps(document))
    saved.unlink()
    monkeypatch.setenv("LOAD_DELAY", "0.06")
    result = run(project, "--loadbudget-compare=elsewhere", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*another machine (Other-machine-1234)*", "*baseline from another machine: not failing*"])
    run(project, "--loadbudget-compare=elsewhere", "--loadbudget-compare-any-machine").assert_outcomes(
        passed=1, failed=1
    )


NOISE_SUITE = textwrap.dedent(
    """
    import time

    # The first load (kept apart), then five rounds: three of 50 ms, two of 500 ms.
    DELAYS = iter([0.0, 0.05, 0.05, 0.05, 0.5, 0.5])

    def slow():
        time.sleep(next(DELAYS, 0.0))
        return dict()

    def test_slow(load_model):
        load_model(slow, warmup=None)
    """
)


def _set_samples(path: Path, name: str, samples: list[float]) -> None:
    """Rewrite one model's load samples in a saved run, wall and own time alike."""
    document = json.loads(path.read_text())
    (model,) = [model for model in document["models"] if model["name"] == name]
    model["load_ms"] = model["load_own_ms"] = {"samples": samples}
    path.write_text(json.dumps(document))


def test_grown_median_that_is_not_significant_passes(pytester):
    """Median 3 ms -> 50 ms and every new round above the old median, but two
    old rounds are slower than most new ones: U = 19 of 25, p = 28/252 = 0.111.

    Sleeps only lengthen a round, so the ranks (and p) hold on a busy machine.
    A growth the rank test could not call is measured again: with the second
    measurement's rounds joined it is no more significant.
    """
    pytester.makepyfile(test_suite=NOISE_SUITE)
    pytester.runpytest("--loadbudget-rounds=5", "--loadbudget-save=base").assert_outcomes(passed=1)
    (saved,) = saved_runs(pytester)
    _set_samples(saved, "slow", [1.0, 2.0, 3.0, 400.0, 401.0])
    result = pytester.runpytest("--loadbudget-rounds=5", "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "  ok         slow load * ms vs baseline 3.00 ms (+*%, p=0.111, n=5/5, * time)"
        "  [[]*not significant (p=0.111 >= 0.05): noise; not confirmed: a second measurement was noise "
        "(load * ms over both measurements' 10 rounds, +*%: *not significant (p=* >= 0.05): noise)[]]"
    ])


def test_compare_with_a_saved_run_by_number(project):
    run(project, "--loadbudget-save=first").assert_outcomes(passed=2)
    run(project, "--loadbudget-save=second").assert_outcomes(passed=2)
    first, second = saved_runs(project)
    # The latest run, were it picked, says every load now takes 1000 times longer.
    _set_samples(second, "slow", [0.02] * 6)
    result = run(project, "--loadbudget-compare=1", "--loadbudget-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"compared with {first} (first, *, this machine)", "  ok         slow load *"])
    # The latest is the default: the same run against it fails.
    run(project, "--loadbudget-compare").assert_outcomes(passed=1, failed=1)


def test_compare_without_any_saved_run_says_how_to_save_one(project):
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["loadbudget: no comparison: *no saved run for this machine (save one with --loadbudget-save)"])


def test_xdist_controller_saves_one_merged_run(project):
    pytest.importorskip("xdist")
    # --dist=each: both workers run both tests, so each worker measures each
    # model and the controller receives every model twice.
    result = project.runpytest_subprocess("-n", "2", "--dist=each", "--loadbudget-rounds=2", "--loadbudget-save=merged")
    result.assert_outcomes(passed=4)
    (saved,) = saved_runs(project)
    models = json.loads(saved.read_text())["models"]
    assert sorted(model["name"] for model in models) == ["slow", "tokenizer"], "one record per model"
    for model in models:
        # Both workers' uses are kept on the one record; its figures are one
        # worker's rounds, not the two sets side by side.
        assert [use["nodeid"] for use in model["tests"]] == [f"test_suite.py::test_{model['name']}"] * 2
        assert len(model["load_ms"]["samples"]) == 2
        assert model["load_ms"]["rounds"] == 2


def test_markdown_and_benchmark_json_exports(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    run(project, "--loadbudget-compare", "--loadbudget-markdown=summary.md", "--loadbudget-benchmark-json=bench.json")
    markdown = (project.path / "summary.md").read_text()
    assert "| model | format | runtime | device | size | load | x floor | warm-up | peak | leak | GPU memory | budget | baseline |" in markdown
    assert "| slow | callable | python | cpu |" in markdown
    assert "### Against the baseline" in markdown
    bench = json.loads((project.path / "bench.json").read_text())
    (load,) = [b for b in bench["benchmarks"] if b["name"] == "slow [callable] load"]
    assert load["stats"]["rounds"] == 6
    assert 0.015 < load["stats"]["median"] < 1.0  # seconds, as pytest-benchmark stores them
    assert len(load["stats"]["data"]) == 6
    assert {"machine_info", "commit_info", "datetime", "version"} <= set(bench)


def test_markdown_lists_the_budget_misses(pytester):
    pytester.makepyfile(test_suite=textwrap.dedent(
        """
        import pytest

        def tokenizer():
            return dict()

        @pytest.mark.load_budget(mb=0.05)
        def test_too_large(load_model):
            load_model(tokenizer, files=["vocab.bin"])

        @pytest.mark.load_budget(mb=1)
        def test_within(load_model):
            load_model(tokenizer, files=["vocab.bin"])
        """
    ))
    (pytester.path / "vocab.bin").write_bytes(b"v" * 100_000)
    pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-markdown=summary.md").assert_outcomes(passed=1, failed=1)
    lines = (pytester.path / "summary.md").read_text().splitlines()
    start = lines.index("### Budget misses")
    assert lines[start + 1:] == [
        "",
        "- `test_suite.py::test_too_large`: tokenizer size 0.0954 MiB > budget 0.05 MiB (1 file)",
    ]


def test_json_keeps_the_first_load_apart(pytester):
    pytester.makepyfile(test_suite=textwrap.dedent(
        """
        import time

        CALLS = []

        def model():
            # Only the first load in the process pays a one-time cost.
            time.sleep(0.5 if not CALLS else 0.0)
            CALLS.append(1)
            return dict()

        def test_model(load_model):
            load_model(model)
            assert len(CALLS) == 4, "one first load, then three rounds"
        """
    ))
    report = pytester.path / "figures.json"
    pytester.runpytest("--loadbudget-rounds=3", f"--loadbudget-json={report}").assert_outcomes(passed=1)
    (model,) = json.loads(report.read_text())["models"]
    assert model["first_load_ms"] >= 500
    assert len(model["load_ms"]["samples"]) == 3
    assert model["load_ms"]["median"] < model["first_load_ms"], "the first load is not among the rounds"


def test_pytest_benchmark_reads_the_export(project):
    """pytest-benchmark's own comparison tool accepts the file."""
    from pytest_benchmark.utils import load_timer  # noqa: F401  (present in every version we support)
    from pytest_benchmark.storage.file import FileStorage

    run(project, "--loadbudget-benchmark-json=bench.json")
    storage_dir = project.path / "bench-storage" / "Linux-CPython"
    storage_dir.mkdir(parents=True)
    (storage_dir / "0001_loads.json").write_text((project.path / "bench.json").read_text())

    class Logger:
        def warning(self, *args, **kwargs):
            raise AssertionError(args)

        def info(self, *args, **kwargs):
            pass

    storage = FileStorage(str(project.path / "bench-storage"), default_machine_id="Linux-CPython", logger=Logger())
    ((path, data),) = list(storage.load())
    assert any(b["name"] == "slow [callable] load" for b in data["benchmarks"])


SUGGEST_SUITE = textwrap.dedent(
    """
    import time
    import pytest

    def warm(model):
        time.sleep(0.005)

    # Each holds memory it wrote, as a model holds its weights: a peak of 0
    # is suggested as the 1 MiB floor (see test_suggested_markers_are_valid_for_a_zero_peak).
    def slow():
        time.sleep(0.02)
        return {"weights": b"w" * (4 * 2**20)}

    def tokenizer():
        return {"vocab": b"v" * (2 * 2**20)}

    MARKER_SLOW
    def test_slow(load_model):
        load_model(slow, warmup=warm)

    MARKER_TOKENIZER
    def test_tokenizer(load_model):
        load_model(tokenizer, files=["vocab.bin"])
    """
)

#: The fixed headroom docs/configuration.md promises over this run's sizes and memory.
HEADROOM = {"mb": 1.1, "peak_mb": 1.25, "leak_mb": 2.0}


def _marker_keywords(line: str) -> dict[str, float]:
    """The keywords of a printed ``@pytest.mark.load_budget(...)`` line."""
    call = ast.parse(line.strip().removeprefix("@"), mode="eval").body
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "pytest.mark.load_budget"
    return {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords if keyword.arg}


def _wanted(model: dict) -> dict[str, float]:
    """The budgets the suggestion must set, worked out from the figures in the JSON report (MiB, ms).

    As documented: a time is the upper decile of its own-time rounds (wall
    time where own time was not measured) plus 25% plus the share of the wall
    time spent waiting for a CPU; sizes and memory get their fixed headroom.
    """
    wanted = {}
    for figure, series in (("ms", "load"), ("warm_ms", "warm")):
        wall = model[f"{series}_ms"]["samples"]
        own = model[f"{series}_own_ms"]["samples"]
        if not wall:
            continue
        judged = own or wall
        upper_decile = statistics.quantiles(judged, n=10, method="inclusive")[-1]
        waited = max(sum(wall) - sum(own), 0) / sum(wall) if own else 0.0
        wanted[figure] = upper_decile * (1 + 0.25 + waited)
    if model["size_bytes"] is not None:
        wanted["mb"] = model["size_bytes"] / 2**20 * HEADROOM["mb"]
    memory = model["memory"]
    wanted["peak_mb"] = memory["peak_bytes"] / 2**20 * HEADROOM["peak_mb"]
    # A leak budget under 1 MiB would fail on a page of noise: the floor is 0.5 MiB, doubled.
    wanted["leak_mb"] = max(memory["leak_bytes"] / 2**20, 0.5) * HEADROOM["leak_mb"]
    return wanted


def test_suggest_prints_markers_with_headroom(project):
    project.makepyfile(test_suite=SUGGEST_SUITE.replace("MARKER_SLOW", "").replace("MARKER_TOKENIZER", ""))
    result = run(project, "--loadbudget-suggest", "--loadbudget-memory=all", "--loadbudget-json=figures.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*= loadbudget suggested budgets =*",
        "this run's figures plus headroom (times: upper decile of the rounds + 25% + the share spent waiting "
        "for a CPU; size x1.1, peak x1.25, leak x2):",
        "test_suite.py::test_slow",
        "    @pytest.mark.load_budget(ms=*, warm_ms=*, peak_mb=*, leak_mb=*)",
        "test_suite.py::test_tokenizer",
        "    @pytest.mark.load_budget(ms=*, mb=0.11, peak_mb=*, leak_mb=*)",
    ])
    lines = result.outlines
    markers = {name: lines[lines.index(f"test_suite.py::test_{name}") + 1] for name in ("slow", "tokenizer")}
    models = {model["name"]: model for model in json.loads((project.path / "figures.json").read_text())["models"]}
    for name, marker in markers.items():
        suggested = _marker_keywords(marker)
        expected = _wanted(models[name])
        assert set(suggested) == set(expected), marker
        for figure, wanted in expected.items():
            # Rounded up to two significant digits: never below, less than 10% above.
            assert wanted * (1 - 1e-9) <= suggested[figure] <= wanted * 1.1, (name, figure, marker)

    # Pasted back, each line is a valid marker (a zero budget, for one, is not).
    # --loadbudget-disable: the markers are validated, nothing is timed.
    project.makepyfile(test_suite=SUGGEST_SUITE.replace("MARKER_SLOW", markers["slow"].strip())
                       .replace("MARKER_TOKENIZER", markers["tokenizer"].strip()))
    project.runpytest("--loadbudget-disable", "-p", "no:randomly").assert_outcomes(passed=2)


def _record(name: str, samples: list[float], size: int = 1000) -> ModelRecord:
    return ModelRecord(key=f"callable:{name}", name=name, format="callable", size_bytes=size,
                       load_ms=Samples(samples), artifact_sha256="a")


def _save_many(directory: str, worker: int, count: int) -> None:
    store = BaselineStore(Path(directory))
    for index in range(count):
        store.save(f"w{worker}-{index}", {"system": "Test", "machine": "x", "cpus": 1, "python": "CPython 3.11",
                                          "worker": 0}, [_record(f"m{worker}-{index}", [1.0, 2.0])])


def test_concurrent_saves_lose_no_record(tmp_path):
    workers, per_worker = 4, 10
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_save_many, args=(str(tmp_path), w, per_worker)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    store = BaselineStore(tmp_path)
    paths = store.runs()
    assert len(paths) == workers * per_worker
    numbers = sorted(int(path.name.split("_")[0]) for path in paths)
    assert numbers == list(range(1, workers * per_worker + 1)), "every save got its own number"
    names = {read_run(path).records[0].name for path in paths}  # every file is valid JSON
    assert len(names) == workers * per_worker
    assert not list(tmp_path.glob("**/*.tmp")), "no temporary file left behind"


def test_lock_held_too_long_gives_a_clear_error(tmp_path):
    store = BaselineStore(tmp_path, lock_timeout=0.2)
    with FileLock(str(tmp_path / ".lock")):
        with pytest.raises(BaselineError, match=r"could not take the lock within 0.2 s: another run is saving"):
            _save_with(store)


def _save_with(store: BaselineStore) -> None:
    store.save("x", {"system": "T", "machine": "x", "cpus": 1, "python": "CPython 3.11"}, [_record("m", [1.0])])


def test_stale_lock_file_does_not_block_a_save(tmp_path):
    (tmp_path / ".lock").write_text("left by a killed run")
    store = BaselineStore(tmp_path, lock_timeout=1)
    _save_with(store)
    assert len(store.runs()) == 1


def test_cli_compare_prints_verdicts_and_exits_1_on_regression(tmp_path, capsys):
    store = BaselineStore(tmp_path)
    machine = {"system": "T", "machine": "x", "cpus": 1, "python": "CPython 3.11"}
    old = store.save("old", machine, [_record("model", [100, 101, 102, 103, 104, 105])])
    same = store.save("same", machine, [_record("model", [100, 102, 101, 104, 103, 105])])
    slower = store.save("slower", machine, [_record("model", [150, 151, 152, 153, 154, 155])])
    assert cli_main(["compare", str(old), str(same)]) == 0
    assert cli_main(["compare", "old", "slower", "--storage", str(tmp_path)]) == 1
    output = capsys.readouterr().out
    assert "  REGRESSION model load 152 ms vs baseline 102 ms (+49%, p=0.00108, n=6/6, wall time, same artifact)" in output
    assert "1 regression(s)" in output
    assert cli_main(["compare", str(old), str(slower), "--compare-fail", "ms:60%"]) == 0


def test_cli_compare_any_machine_fails_across_machines(tmp_path, capsys):
    store = BaselineStore(tmp_path)
    here = {"system": "T", "machine": "x", "cpus": 1, "python": "CPython 3.11"}
    old = store.save("old", here, [_record("model", [100, 101, 102, 103, 104, 105])])
    slower = store.save("slower", {**here, "cpus": 64}, [_record("model", [150, 151, 152, 153, 154, 155])])
    assert old.parent != slower.parent, "two machine ids"
    assert cli_main(["compare", str(old), str(slower)]) == 0
    output = capsys.readouterr().out.splitlines()
    assert f"the runs come from different machines ({old.parent.name} vs {slower.parent.name})" in output
    assert ("  ok         model load 152 ms vs baseline 102 ms (+49%, p=0.00108, n=6/6, wall time, same artifact)"
            "  [baseline from another machine: not failing (--loadbudget-compare-any-machine to fail)]") in output
    assert "0 regression(s)" in output
    assert cli_main(["compare", str(old), str(slower), "--any-machine"]) == 1
    output = capsys.readouterr().out.splitlines()
    assert "  REGRESSION model load 152 ms vs baseline 102 ms (+49%, p=0.00108, n=6/6, wall time, same artifact)" in output
    assert "1 regression(s)" in output


def test_cli_grown_median_that_is_not_significant_is_noise(tmp_path, capsys):
    """The median grew by 67% and the fastest new round is above the old
    median, but two old rounds beat most new ones: U = 19 of 25, p = 0.111."""
    store = BaselineStore(tmp_path)
    machine = {"system": "T", "machine": "x", "cpus": 1, "python": "CPython 3.11"}
    old = store.save("old", machine, [_record("model", [10, 11, 12, 100, 101])])
    new = store.save("new", machine, [_record("model", [13, 14, 20, 102, 103])])
    assert cli_main(["compare", str(old), str(new)]) == 0
    output = capsys.readouterr().out.splitlines()
    assert ("  ok         model load 20.0 ms vs baseline 12.0 ms (+67%, p=0.111, n=5/5, wall time, same artifact)"
            "  [not significant (p=0.111 >= 0.05): noise]") in output


def test_cli_reports_an_unreadable_run(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("not json")
    assert cli_main(["compare", str(broken), str(broken)]) == 2
    assert f"{broken}: corrupt baseline, not valid JSON" in capsys.readouterr().err


def test_cli_list_shows_runs_and_unreadable_ones(tmp_path, capsys):
    store = BaselineStore(tmp_path)
    path = store.save("one", {"system": "T", "machine": "x", "cpus": 1, "python": "CPython 3.11"}, [_record("m", [1.0])])
    (path.parent / "0002_bad.json").write_text("{")
    assert cli_main(["list", "--storage", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "0001_one.json" in output and "1 model(s)" in output
    assert "0002_bad.json  unreadable: corrupt baseline" in output


@pytest.mark.parametrize(
    ("ini_lines", "check"),
    [
        ("loadbudget_save = from-ini\nloadbudget_storage = runs", "save+storage"),
        ("loadbudget_compare = base\nloadbudget_compare_fail = ms:1000%", "compare+compare_fail"),
        ("loadbudget_compare = other\nloadbudget_compare_any_machine = true", "compare_any_machine"),
        ("loadbudget_suggest = true", "suggest"),
        ("loadbudget_markdown = report.md", "markdown"),
        ("loadbudget_benchmark_json = bench.json", "benchmark_json"),
    ],
)
def test_every_baseline_ini_key_is_read(project, monkeypatch, ini_lines, check):
    if check.startswith("compare"):
        run(project, "--loadbudget-save=base").assert_outcomes(passed=2)
        monkeypatch.setenv("LOAD_DELAY", "0.06")
    if check == "compare_any_machine":
        (saved,) = saved_runs(project)
        document = json.loads(saved.read_text())
        other = saved.parent.parent / "Other-1" / "0001_other.json"
        other.parent.mkdir()
        other.write_text(json.dumps({**document, "name": "other", "machine_id": "Other-1"}))
    project.makeini(f"[pytest]\n{ini_lines}\n")
    result = run(project, "--loadbudget-report")
    if check == "save+storage":
        assert [p.name for p in (project.path / "runs").glob("*/*.json")] == ["0001_from-ini.json"]
    elif check == "compare+compare_fail":
        result.assert_outcomes(passed=2)  # 3x slower, but the ini threshold allows 1000%
        result.stdout.fnmatch_lines(["compared with *0001_base.json (base, *)", "  ok         slow load *"])
        assert "REGRESSION" not in result.stdout.str()
    elif check == "compare_any_machine":
        result.assert_outcomes(passed=1, failed=1)
    elif check == "suggest":
        result.stdout.fnmatch_lines(["*= loadbudget suggested budgets =*"])
    elif check == "markdown":
        assert (project.path / "report.md").read_text().startswith("## Model load budgets")
    elif check == "benchmark_json":
        assert json.loads((project.path / "bench.json").read_text())["benchmarks"]


def _with_leak(rss_after_cycles: list[int]) -> ModelRecord:
    from pytest_loadbudget.results.memory import MemoryFigures

    record = _record("m", [1.0] * 5)
    record.memory = MemoryFigures(peak_bytes=10 * 2**20, method="vmhwm", where="fresh process",
                                  cycles=len(rss_after_cycles), rss_after_cycles=rss_after_cycles)
    return record


@pytest.mark.parametrize(
    ("new_rss_mib", "regression"),
    [
        ([100, 120, 140, 160, 180], True),   # 20 MiB kept by every reload
        ([100, 104, 104, 108, 108], False),  # grew twice, by arenas: noise
        ([100, 100, 100, 101, 101], False),  # under the threshold
    ],
)
def test_leak_regresses_only_when_memory_grows_at_every_cycle(new_rss_mib, regression):
    from pytest_loadbudget.baseline.compare import compare
    from pytest_loadbudget.budget.thresholds import parse_compare_fail

    old = _with_leak([100 * 2**20] * 5)
    new = _with_leak([value * 2**20 for value in new_rss_mib])
    (leak,) = [c for c in compare(old, new, parse_compare_fail("leak_mb:2")) if c.figure == "leak_mb"]
    assert leak.regression is regression


def test_a_slower_run_whose_fastest_rounds_match_the_baseline_is_noise():
    from pytest_loadbudget.baseline.compare import compare
    from pytest_loadbudget.budget.thresholds import parse_compare_fail

    old = _record("m", [100.0 + i for i in range(10)])
    # The fastest fifth of the rounds as fast as before.
    shifted = _record("m", [103.5, 104.0, 104.5] + [125.0 + i for i in range(7)])
    slower = _record("m", [125.0 + i for i in range(10)])
    thresholds = parse_compare_fail("ms:20%")
    (noise,) = [c for c in compare(old, shifted, thresholds) if c.figure == "ms"]
    (real,) = [c for c in compare(old, slower, thresholds) if c.figure == "ms"]
    assert not noise.regression and "fastest new rounds" in noise.note
    assert real.regression


def test_suggested_markers_are_valid_for_a_zero_peak():
    from pytest_loadbudget.budget.marker import load_budget
    from pytest_loadbudget.results.record import TestUse
    from pytest_loadbudget.report.suggest import suggestions

    record = _with_leak([100 * 2**20] * 5)
    record.memory.peak_bytes = 0  # a loader that allocates nothing new: a small config
    record.tests.append(TestUse(nodeid="test_m.py::test_m", budget={}))
    ((_, marker),) = suggestions([record])
    assert _marker_keywords(marker)["peak_mb"] >= 1  # the 1 MiB floor: a budget of 0 is no valid marker
    load_budget(**_marker_keywords(marker))


def test_each_verdict_names_the_rule_that_decided_it_in_the_json(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (project.path / "vocab.bin").write_bytes(b"v" * 200_000)
    result = run(project, "--loadbudget-compare", "--loadbudget-compare-fail=ms:off,warm_ms:off",
                 "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    records = {record["name"]: record for record in json.loads((project.path / "out.json").read_text())["models"]}
    rules = {(name, c["figure"]): (c["rule"], c["regression"]) for name, record in records.items()
             for c in record["comparisons"]}
    assert rules[("tokenizer", "mb")] == ("saved-size", True)
    assert rules[("slow", "ms")] == ("saved-not-judged", False)
    # Every verdict names one: a script counts them without reading the words.
    assert all(rule for rule, _ in rules.values())
