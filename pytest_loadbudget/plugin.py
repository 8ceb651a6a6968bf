"""pytest hooks of pytest-loadbudget; the work lives in the modules they call."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget import settings as settings_module
from pytest_loadbudget.report import files as report_files
from pytest_loadbudget.report import terminal as terminal_report
from pytest_loadbudget.budget.check import check
from pytest_loadbudget.errors import LoadBudgetError, MarkerError
from pytest_loadbudget.measure.devices import find_gpu
from pytest_loadbudget.measure.floor import bandwidth_or_none
from pytest_loadbudget.session.fixture import BUDGET_KEY, USED_KEY, LoadModel, requested_device
from pytest_loadbudget.baseline.gate import RegressionGate
from pytest_loadbudget.budget.marker import MARKER_NAME, Budget, budget_from_item, describe, marker_help
from pytest_loadbudget.results.record import ModelRecord, TestUse, merge_records
from pytest_loadbudget.settings import Settings
from pytest_loadbudget.session.model_cache import ModelCache
from pytest_loadbudget.report.suggest import suggestions

PLUGIN_KEY = pytest.StashKey["LoadBudgetPlugin"]()
WORKER_OUTPUT_KEY = "loadbudget_records"
BUDGET_SECTION = "loadbudget"
REGRESSION_PREFIX = "loadbudget"


def pytest_addoption(parser: pytest.Parser) -> None:
    settings_module.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", marker_help())
    plugin = LoadBudgetPlugin(config, settings_module.resolve(config))
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "loadbudget-session")


@pytest.fixture
def load_model(request: pytest.FixtureRequest) -> LoadModel:
    """Load a model once per session, measured against the test's load_budget, warm."""
    plugin = request.config.stash[PLUGIN_KEY]
    return LoadModel(plugin.store, plugin.settings, request.node)


class LoadBudgetPlugin:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.store = ModelCache(settings)
        self.gate = RegressionGate(settings, config.rootpath)
        self.worker_records: list[ModelRecord] = []

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def records(self) -> list[ModelRecord]:
        own = [entry.record for entry in self.store.entries.values()]
        return merge_records(own + self.worker_records)

    def pytest_report_header(self) -> str:
        """The settings that change figures, and the machine id baselines are kept under."""
        settings = self.settings
        parts = [f"rounds {settings.rounds or 'auto'}", f"cycles {settings.cycles}", f"memory {settings.memory}"]
        if settings.device:
            parts.append(f"device {settings.device}")
        if settings.compare is not None:
            parts.append(f"compare {settings.compare or 'latest'}")
        if settings.save is not None:
            parts.append(f"save {settings.save or '(date and time)'}")
        if settings.disable:
            parts = ["disabled: models load once, nothing is measured"]
        return f"loadbudget: {', '.join(parts)}; machine {self.gate.machine_id}"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.stash[BUDGET_KEY] = None
        try:
            budget = budget_from_item(item)
        except MarkerError as error:
            problem = str(error)
        else:
            item.stash[BUDGET_KEY] = budget
            self._check_device(budget)
            return
        # Outside the except block, so the report shows no chained exception.
        pytest.fail(problem, pytrace=False)

    def _check_device(self, budget: Budget | None) -> None:
        if requested_device(budget, self.settings) != "gpu":
            return
        gpu, why = find_gpu()
        if gpu is not None:
            return
        if self.settings.require_gpu:
            pytest.fail(f"this test needs a GPU and --loadbudget-require-gpu is set: {why}", pytrace=False)
        pytest.skip(f"needs a GPU: {why}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        test_report = yield
        if call.when != "call":
            return test_report
        if call.excinfo is not None and call.excinfo.errisinstance(LoadBudgetError):
            # The error names the file and the problem; a traceback into the loader adds nothing.
            test_report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
        if self.settings.disable:
            return test_report
        budget = item.stash.get(BUDGET_KEY, None)
        used = item.stash.get(USED_KEY, [])
        lines, details = self._verdicts(item, budget, [entry.record for entry in used])
        if budget is not None and not used and call.excinfo is None:
            lines.append(f"{MARKER_NAME}: {item.nodeid} has a budget but loaded no model through load_model")
        if lines or details:
            test_report.sections.append((BUDGET_SECTION, "\n".join(lines + details)))
        if lines and test_report.passed:
            test_report.outcome = "failed"
            test_report.longrepr = "\n".join(lines)
        return test_report

    def _verdicts(
        self, item: pytest.Item, budget: Budget | None, records: list[ModelRecord]
    ) -> tuple[list[str], list[str]]:
        """Failure lines (budget misses, regressions) and the details shown beside them."""
        lines: list[str] = []
        hints: list[str] = []
        notes: list[str] = []
        for record in records:
            misses = check(budget, record) if budget is not None else []
            record.tests.append(TestUse(
                nodeid=item.nodeid,
                budget=describe(budget) if budget is not None else {},
                misses=[miss.line for miss in misses],
            ))
            for miss in misses:
                lines.append(f"{MARKER_NAME}: {miss.line}")
                if miss.hint and f"  {miss.figure}: {miss.hint}" not in hints:
                    hints.append(f"  {miss.figure}: {miss.hint}")
            for comparison in self.gate.check(budget, record):
                if comparison.regression:
                    lines.append(f"{REGRESSION_PREFIX}: {comparison.line}")
                elif comparison.note:
                    notes.append(f"{REGRESSION_PREFIX}: {comparison.line} [{comparison.note}]")
        diagnosis = []
        if lines:
            found = terminal_report.diagnosis_lines(records, bandwidth_or_none(), say_when_nothing=False)
            diagnosis = ["  " + line for line in found]
        if diagnosis:
            details = notes + ["diagnosis (what dominates, and what usually fixes it):", *diagnosis]
        else:
            details = notes + (["what usually fixes it:", *hints] if hints else [])
        return lines, details

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        if report.when == "call" and report.failed and isinstance(report.longrepr, str):
            if report.longrepr.startswith((f"{MARKER_NAME}:", f"{REGRESSION_PREFIX}:")):
                return "failed", "B", "BUDGET"
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            self.config.workeroutput[WORKER_OUTPUT_KEY] = [r.to_dict() for r in self.records()]  # type: ignore[attr-defined]
            return
        records = self.records()
        baseline = self.gate.describe_baseline()
        outputs: list[tuple[str | None, Callable[[Path], None]]] = [
            (self.settings.json, lambda path: report_files.write_json(path, records, baseline)),
            (self.settings.markdown, lambda path: report_files.write_markdown(path, records, baseline)),
            (self.settings.benchmark_json, lambda path: report_files.write_benchmark_json(path, records)),
        ]
        for target, write in outputs:
            if target is None:
                continue
            path = Path(target).absolute()
            try:
                write(path)
            except OSError as error:
                self.gate.problems.append(f"could not write {path}: {error}")
        if not self.settings.disable:
            self.gate.save(records)
        self.store.runtimes.close()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY, [])
        self.worker_records.extend(ModelRecord.from_dict(data) for data in output)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        try:
            self._terminal_summary(terminalreporter)
        except Exception as error:  # a broken report must not hide the test results
            terminalreporter.write_line(f"loadbudget: the report failed: {type(error).__name__}: {error}", red=True)

    def _terminal_summary(self, terminal: Any) -> None:
        records = self.records()
        if self.settings.report or self.settings.diagnose:
            terminal_report.write_terminal_report(
                terminal, records, verbose=self.config.option.verbose > 0, baseline=self.gate.describe_baseline(),
                bandwidth=bandwidth_or_none(), diagnose=self.settings.diagnose,
            )
        if self.settings.suggest:
            terminal.write_sep("=", "loadbudget suggested budgets")
            terminal.write_line("this run's figures plus headroom (times x1.5, size x1.1, peak x1.25, leak x2):")
            for nodeid, marker in suggestions(records):
                terminal.write_line(nodeid)
                terminal.write_line(f"    {marker}")
        for message in self.gate.messages:
            terminal.write_line(f"loadbudget: {message}")
        for problem in self.gate.problems:
            terminal.write_line(f"loadbudget: {problem}", yellow=True)
