"""Trying to break the plugin: killed saves, unwritable storage, concurrency,
and the plugins it runs beside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from pytest_loadbudget.baseline.storage import BaselineStore, read_run
from pytest_loadbudget.errors import BaselineError

SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pytest_loadbudget.baseline.storage import BaselineStore
    from pytest_loadbudget.results.record import ModelRecord
    from pytest_loadbudget.results.samples import Samples

    store = BaselineStore(Path(sys.argv[1]))
    machine = {"system": "T", "machine": "x", "cpus": 1, "python": "CPython 3.11"}
    # Large runs, so that a kill often lands in the middle of writing one.
    records = [ModelRecord(key=f"m{i}", name=f"m{i}", format="callable", load_ms=Samples([float(j) for j in range(200)]))
               for i in range(300)]
    while True:
        store.save("loop", machine, records)
        print("saved", flush=True)
    """
)


def test_sigkill_during_saves_leaves_every_saved_run_readable(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    storage = tmp_path / "runs"
    for attempt in range(6):
        process = subprocess.Popen([sys.executable, str(script), str(storage)], stdout=subprocess.PIPE)
        # Kill only once a save has completed, however slow the machine, and then at
        # a different point of a later save each time.
        assert process.stdout is not None and process.stdout.readline() == b"saved\n"
        time.sleep(0.02 + 0.07 * attempt)
        process.send_signal(signal.SIGKILL)
        process.wait()
    runs = BaselineStore(storage).runs()
    assert runs, "some saves completed before the kills"
    for path in runs:
        assert len(read_run(path).records) == 300
    # The lock of a killed process does not block the next save.
    BaselineStore(storage, lock_timeout=2).save("after", {"system": "T", "machine": "x", "cpus": 1,
                                                          "python": "CPython 3.11"}, [])


SUITE = textwrap.dedent(
    """
    import pytest

    def model():
        return dict()

    @pytest.mark.parametrize("n", range(3))
    def test_it(load_model, n):
        load_model(model)
    """
)


def test_unwritable_storage_is_reported_and_the_run_passes(pytester, monkeypatch):
    pytester.makepyfile(test_suite=SUITE)
    import pytest_loadbudget.atomic as atomic

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-save")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["loadbudget: the run was not saved: *Permission denied*"])
    assert not list((pytester.path / ".loadbudget").glob("**/*.tmp")), "the temporary file is removed"


def test_read_only_storage_directory(pytester):
    pytester.makepyfile(test_suite=SUITE)
    storage = pytester.path / ".loadbudget"
    storage.mkdir()
    storage.chmod(0o555)
    refusal = "[[]Errno 13[]] Permission denied"
    mounted = False
    # Its own MonkeyPatch: pytester's is undone only when the test ends.
    patch = pytest.MonkeyPatch()
    if os.geteuid() == 0:
        # Root writes into a chmod 555 directory; a read-only bind mount refuses root too.
        refusal = "[[]Errno 30[]] Read-only file system"
        try:
            mounted = subprocess.run(["mount", "--bind", "-o", "ro", storage, storage], capture_output=True).returncode == 0
        except FileNotFoundError:  # no mount command
            pass
        if not mounted:
            # Root without the right to mount (most containers): the file system's refusal,
            # injected where each write of the store starts (the lock, the folder, the temporary file).
            inside = os.path.join(os.path.abspath(storage), "")
            writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT

            def refuse(path):
                if os.path.abspath(os.fspath(path)).startswith(inside):
                    raise OSError(30, "Read-only file system", os.fspath(path))

            def read_only_open(path, flags, *args, real=os.open, **kwargs):
                if flags & writes:
                    refuse(path)
                return real(path, flags, *args, **kwargs)

            def read_only_mkdir(path, *args, real=os.mkdir, **kwargs):
                refuse(path)
                return real(path, *args, **kwargs)

            patch.setattr(os, "open", read_only_open)
            patch.setattr(os, "mkdir", read_only_mkdir)
    try:
        result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-save")
    finally:
        patch.undo()
        if mounted:
            subprocess.run(["umount", storage], check=True)
        storage.chmod(0o755)
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"loadbudget: the run was not saved: {refusal}: '{storage}{os.sep}*"])
    assert not any(storage.iterdir()), "nothing half-written is left"


def test_storage_path_that_is_a_file_is_reported(pytester):
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "runs").write_text("not a directory")
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-save", "--loadbudget-storage=runs")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["loadbudget: the run was not saved: *"])
    assert (pytester.path / "runs").read_text() == "not a directory"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"schema": "pytest-loadbudget/run", "name": "x", "models": []}, "baseline without a schema version"),
        ({"schema": "pytest-loadbudget/run", "version": 3, "name": "x", "models": []},
         "written by a newer pytest-loadbudget (schema 3, this one reads up to 2): upgrade"),
        ({"schema": "something-else", "version": 1}, "not a pytest-loadbudget baseline"),
        ({"schema": "pytest-loadbudget/run", "version": 1, "name": "x", "models": [{"name": "no key"}]},
         "corrupt baseline, a field is missing or malformed"),
        ([1, 2, 3], "not a pytest-loadbudget baseline"),
    ],
)
def test_unreadable_baselines_are_explained(tmp_path, document, problem):
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(document))
    with pytest.raises(BaselineError) as raised:
        read_run(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert problem in str(raised.value)


def test_binary_garbage_baseline_is_explained(tmp_path):
    path = tmp_path / "0001_x.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BaselineError, match="corrupt baseline, not valid JSON"):
        read_run(path)


MANY_MODELS = textwrap.dedent(
    """
    import pytest

    def make_loader(index):
        def loader():
            return {"index": index}
        loader.__name__ = loader.__qualname__ = f"model_{index:02d}"
        return loader

    LOADERS = [make_loader(i) for i in range(40)]
    for loader in LOADERS:
        globals()[loader.__name__] = loader

    @pytest.mark.parametrize("index", range(40))
    def test_model(load_model, index):
        assert load_model(LOADERS[index])["index"] == index
    """
)


def test_xdist_four_workers_forty_models_saved_repeatedly_lose_nothing(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=MANY_MODELS)
    # --dist=load spreads the models over the workers; --dist=each has every
    # worker measure every model, so the controller gets each one four times.
    modes = {"load": 1, "each": 4, "load-again": 1}
    for mode, workers_per_model in modes.items():
        result = pytester.runpytest_subprocess("-n", "4", f"--dist={mode.split('-')[0]}", "--loadbudget-rounds=1",
                                               f"--loadbudget-save={mode}")
        result.assert_outcomes(passed=40 * workers_per_model)
    runs = BaselineStore(pytester.path / ".loadbudget").runs()
    assert [path.name for path in runs] == ["0001_load.json", "0002_each.json", "0003_load-again.json"]
    for path, workers_per_model in zip(runs, modes.values()):
        records = read_run(path).records
        names = [record.name for record in records]
        assert sorted(names) == [f"model_{i:02d}" for i in range(40)], "no record lost or duplicated"
        for record in records:
            index = int(record.name.split("_")[1])
            # Every worker's use is kept on the one record, with one worker's rounds.
            assert [use.nodeid for use in record.tests] == [f"test_suite.py::test_model[{index}]"] * workers_per_model
            assert record.load_ms.count == 1


VERDICT_SUITE = textwrap.dedent(
    """
    import time
    import pytest

    def fast():
        return dict()

    def slow():
        time.sleep(0.02)
        return dict()

    @pytest.mark.load_budget(ms=5)
    def test_slow_a(load_model):
        load_model(slow)

    @pytest.mark.load_budget(ms=1000)
    def test_slow_b(load_model):
        load_model(slow)

    @pytest.mark.load_budget(ms=1000)
    def test_fast_a(load_model):
        load_model(fast)

    @pytest.mark.load_budget(ms=0.000001)
    def test_fast_b(load_model):
        load_model(fast)
    """
)


def test_random_order_does_not_change_any_verdict(pytester):
    pytest.importorskip("pytest_randomly")
    pytester.makepyfile(test_suite=VERDICT_SUITE)
    verdicts = set()
    for seed in (1, 2, 3):
        result = pytester.runpytest_subprocess("-p", "randomly", "-p", "no:cacheprovider", f"--randomly-seed={seed}",
                                               "--loadbudget-rounds=2", "-rA")
        result.stdout.fnmatch_lines([f"Using --randomly-seed={seed}"])
        outcome = tuple(sorted(line.split(" ")[1] + ":" + line.split(" ")[0]
                               for line in result.outlines if line.startswith(("PASSED", "BUDGET", "FAILED"))))
        verdicts.add(outcome)
    assert verdicts == {("test_suite.py::test_fast_a:PASSED", "test_suite.py::test_fast_b:BUDGET",
                         "test_suite.py::test_slow_a:BUDGET", "test_suite.py::test_slow_b:PASSED")}


def test_runs_beside_pytest_timeout_and_pytest_benchmark(pytester):
    pytest.importorskip("pytest_timeout")
    pytest.importorskip("pytest_benchmark")
    pytester.makepyfile(
        """
        import time
        import pytest

        def slow():
            time.sleep(0.02)
            return dict()

        @pytest.mark.timeout(30)
        @pytest.mark.load_budget(ms=5)
        def test_budget(load_model):
            load_model(slow)

        def test_benchmark(benchmark, load_model):
            model = load_model(slow)
            benchmark(lambda: model.get("x"))
        """
    )
    result = pytester.runpytest_subprocess("--timeout=60", "--loadbudget-rounds=1", "--benchmark-disable")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*load_budget: slow load * ms own time > budget 5 ms*"])


def test_last_failed_reruns_only_the_budget_failure(pytester):
    pytester.makepyfile(test_suite=VERDICT_SUITE)
    pytester.runpytest("--loadbudget-rounds=1", "-p", "no:randomly").assert_outcomes(passed=2, failed=2)
    result = pytester.runpytest("--lf", "--loadbudget-rounds=1", "-v", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*test_slow_a BUDGET*", "*test_fast_b BUDGET*"])
    assert "test_slow_b" not in result.stdout.str()
