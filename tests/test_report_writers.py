"""The end of a run: the saved baseline, the report files, the runtimes closed, and how a miss is reported.

A report file that cannot be written costs neither the saved run nor the
other files; every process, xdist workers included, closes what it opened.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from pytest_loadbudget.report import files as report_files
from pytest_loadbudget.report import suggest

SUITE = textwrap.dedent(
    """
    import time

    import pytest

    def quick():
        return "model"

    def slow():
        time.sleep(0.03)
        return "model"

    def test_loads(load_model):
        load_model(quick)
    """
)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--loadbudget-rounds=1", *args)


def saved_runs(pytester: pytest.Pytester) -> list[str]:
    return sorted(path.name for path in (pytester.path / ".loadbudget").glob("*/*.json"))


#: pytest-benchmark as if not installed: its import fails. Installed from a
#: conftest, ahead of pytest's assertion-rewriting finder, which would find it.
WITHOUT_PYTEST_BENCHMARK = textwrap.dedent(
    """
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "pytest_benchmark":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    """
)


def test_benchmark_json_without_pytest_benchmark_keeps_the_save_and_the_other_reports(suite):
    suite.makeconftest(WITHOUT_PYTEST_BENCHMARK)
    result = suite.runpytest_subprocess(
        "-p", "no:benchmark", "-p", "no:randomly", "--loadbudget-rounds=1", "--loadbudget-save=kept",
        "--loadbudget-benchmark-json=bench.json", "--loadbudget-json=out.json", "--loadbudget-markdown=summary.md",
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.fnmatch_lines([
        "loadbudget: saved this run's figures of 1 model(s) to *0001_kept.json",
        (f"loadbudget: could not write {suite.path / 'bench.json'} (--loadbudget-benchmark-json): "
         "pytest-benchmark, whose format this is, cannot be imported (*)"),
    ])
    assert saved_runs(suite) == ["0001_kept.json"]
    assert [model["name"] for model in json.loads((suite.path / "out.json").read_text())["models"]] == ["quick"]
    assert "| quick |" in (suite.path / "summary.md").read_text()
    assert not (suite.path / "bench.json").exists()


def test_each_unwritable_report_is_one_line_and_costs_nothing_else(suite):
    (suite.path / "a-file").write_text("not a directory")
    result = run(suite, "--loadbudget-save", "--loadbudget-json=a-file/out.json",
                 "--loadbudget-markdown=a-file/summary.md", "--loadbudget-benchmark-json=bench.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"loadbudget: could not write {suite.path / 'a-file' / 'out.json'} (--loadbudget-json): *",
        f"loadbudget: could not write {suite.path / 'a-file' / 'summary.md'} (--loadbudget-markdown): *",
    ])
    assert len(saved_runs(suite)) == 1
    assert [b["name"] for b in json.loads((suite.path / "bench.json").read_text())["benchmarks"]] == [
        "quick [callable] load"
    ]


def test_a_writer_that_breaks_shows_its_traceback_and_the_others_still_write(suite, monkeypatch):
    def broken_writer(*args: object) -> None:
        raise ValueError("a bug in the writer")

    monkeypatch.setattr(report_files, "write_markdown", broken_writer)
    result = run(suite, "--loadbudget-save", "--loadbudget-markdown=summary.md", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        (f"loadbudget: could not write {suite.path / 'summary.md'} (--loadbudget-markdown): "
         "ValueError: a bug in the writer"),
        "Traceback (most recent call last):",
        "*in broken_writer",
    ])
    assert (suite.path / "out.json").exists()
    assert len(saved_runs(suite)) == 1


def test_a_broken_terminal_report_shows_its_traceback_after_the_results(suite, monkeypatch):
    def broken_report(*args: object) -> None:
        raise RuntimeError("the report broke")

    monkeypatch.setattr(suggest, "write_suggestions", broken_report)
    result = run(suite, "--loadbudget-suggest")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "loadbudget: the report failed (a bug: please report it with this traceback):",
        "Traceback (most recent call last):",
        "*in broken_report",
        "RuntimeError: the report broke",
    ])


CLOSING_CONFTEST = textwrap.dedent(
    """
    import pytest

    from pytest_loadbudget.plugin import PLUGIN_KEY

    class RuntimesThatSayTheyClosed:
        def __init__(self, marker):
            self.marker = marker

        def close(self):
            self.marker.write_text("closed")

    def pytest_sessionstart(session):
        config = session.config
        name = config.workerinput["workerid"] if hasattr(config, "workerinput") else "controller"
        runtimes = RuntimesThatSayTheyClosed(config.rootpath / f"closed-{name}")
        config.stash[PLUGIN_KEY].store().runtimes = runtimes
    """
)


def test_every_xdist_worker_closes_its_runtimes(suite):
    pytest.importorskip("xdist")
    suite.makeconftest(CLOSING_CONFTEST)
    suite.makepyfile(test_more=SUITE.replace("def test_loads", "def test_loads_too"))
    result = suite.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--loadbudget-rounds=1")
    result.assert_outcomes(passed=2)
    assert sorted(path.name for path in suite.path.glob("closed-*")) == ["closed-controller", "closed-gw0",
                                                                         "closed-gw1"]


#: A project's own one-line failures, as some plugins write them: the message alone.
ONE_LINE_FAILURES = textwrap.dedent(
    """
    import pytest

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item, call):
        report = yield
        if call.when == "call" and report.failed and item.name == "test_own_failure":
            report.longrepr = str(call.excinfo.value)
        return report
    """
)


def test_a_failure_message_that_starts_like_a_budget_miss_is_not_taken_for_one(suite):
    pytest.importorskip("xdist")
    suite.makeconftest(ONE_LINE_FAILURES)
    suite.makepyfile(test_suite=SUITE + textwrap.dedent(
        """
        @pytest.mark.load_budget(ms=5)
        def test_over_budget(load_model):
            load_model(slow)

        def test_own_failure():
            pytest.fail("load_budget: written by the test itself", pytrace=False)
        """
    ))
    # Under xdist the status is decided on the controller, from the report the worker sent.
    for args in ([], ["-n", "2"]):
        result = suite.runpytest_subprocess("-p", "no:randomly", "--loadbudget-rounds=1", *args)
        result.assert_outcomes(passed=1, failed=2)
        result.stdout.fnmatch_lines_random(["BUDGET test_suite.py::test_over_budget*",
                                            "FAILED test_suite.py::test_own_failure*"])
        result.stdout.no_fnmatch_line("BUDGET test_suite.py::test_own_failure*")
