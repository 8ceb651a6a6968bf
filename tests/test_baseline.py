"""Saved runs and the regression gate, through the plugin and the command line."""

from __future__ import annotations

import json
import multiprocessing
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
        "  ok         slow load * ms vs baseline * ms (*, p=*, n=6/6)",
        "  ok         tokenizer size 0.0954 MiB vs baseline 0.0954 MiB (+0%, same artifact)",
    ])


def test_slower_load_fails_with_the_regression_line(project, monkeypatch):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    monkeypatch.setenv("LOAD_DELAY", "0.06")
    result = run(project, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*loadbudget: slow load * ms vs baseline * ms (+*%, p=0.00*, n=6/6)",
        "*BUDGET test_suite.py::test_slow - loadbudget: slow load*",
    ])
    result.stdout.fnmatch_lines(["slow *REGRESSION load +*%"])


def test_marker_threshold_overrides_the_command_line(project, monkeypatch):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    project.write(compare_fail="ms:500%")
    monkeypatch.setenv("LOAD_DELAY", "0.06")
    run(project, "--loadbudget-compare").assert_outcomes(passed=2)


def test_larger_artifact_is_a_size_regression_and_says_the_artifact_changed(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    (project.path / "vocab.bin").write_bytes(b"v" * 200_000)
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*loadbudget: tokenizer size 0.191 MiB vs baseline 0.0954 MiB (+100%, artifact changed)"])


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
    result.stdout.fnmatch_lines(["*slow load * [[]too few samples to call a regression (need 5 a side)[]]"])


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
    result.stdout.fnmatch_lines(["*written by a newer pytest-loadbudget (schema 99, this one reads up to 1): upgrade"])


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


def test_compare_without_any_saved_run_says_how_to_save_one(project):
    result = run(project, "--loadbudget-compare")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["loadbudget: no comparison: *no saved run for this machine (save one with --loadbudget-save)"])


def test_xdist_controller_saves_one_merged_run(project):
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess("-n", "2", "--loadbudget-rounds=2", "--loadbudget-save=merged")
    result.assert_outcomes(passed=2)
    (saved,) = saved_runs(project)
    assert {model["name"] for model in json.loads(saved.read_text())["models"]} == {"slow", "tokenizer"}


def test_markdown_and_benchmark_json_exports(project):
    run(project, "--loadbudget-save").assert_outcomes(passed=2)
    run(project, "--loadbudget-compare", "--loadbudget-markdown=summary.md", "--loadbudget-benchmark-json=bench.json")
    markdown = (project.path / "summary.md").read_text()
    assert "| model | format | runtime | device | size | load | x floor | warm-up | peak | leak | gpu | budget | baseline |" in markdown
    assert "| slow | callable | python | cpu |" in markdown
    assert "### Against the baseline" in markdown
    bench = json.loads((project.path / "bench.json").read_text())
    (load,) = [b for b in bench["benchmarks"] if b["name"] == "slow [callable] load"]
    assert load["stats"]["rounds"] == 6
    assert 0.015 < load["stats"]["median"] < 1.0  # seconds, as pytest-benchmark stores them
    assert len(load["stats"]["data"]) == 6
    assert {"machine_info", "commit_info", "datetime", "version"} <= set(bench)


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


def test_suggest_prints_markers_with_headroom(project):
    result = run(project, "--loadbudget-suggest")
    result.stdout.fnmatch_lines([
        "*= loadbudget suggested budgets =*",
        "test_suite.py::test_slow",
        "    @pytest.mark.load_budget(ms=*)",
        "test_suite.py::test_tokenizer",
        "    @pytest.mark.load_budget(ms=*, mb=0.11)",
    ])


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
    assert "  REGRESSION model load 152 ms vs baseline 102 ms (+49%, p=0.00108, n=6/6, same artifact)" in output
    assert "1 regression(s)" in output
    assert cli_main(["compare", str(old), str(slower), "--compare-fail", "ms:60%"]) == 0


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
    from pytest_loadbudget.baseline.compare import compare, parse_compare_fail

    old = _with_leak([100 * 2**20] * 5)
    new = _with_leak([value * 2**20 for value in new_rss_mib])
    (leak,) = [c for c in compare(old, new, parse_compare_fail("leak_mb:2")) if c.figure == "leak_mb"]
    assert leak.regression is regression


def test_a_slower_run_whose_fastest_round_matches_the_baseline_is_noise():
    from pytest_loadbudget.baseline.compare import compare, parse_compare_fail

    old = _record("m", [100.0 + i for i in range(10)])
    shifted = _record("m", [104.0] + [125.0 + i for i in range(9)])  # one round as fast as before
    slower = _record("m", [125.0 + i for i in range(10)])
    thresholds = parse_compare_fail("ms:20%")
    (noise,) = [c for c in compare(old, shifted, thresholds) if c.figure == "ms"]
    (real,) = [c for c in compare(old, slower, thresholds) if c.figure == "ms"]
    assert not noise.regression and "fastest new round" in noise.note
    assert real.regression
