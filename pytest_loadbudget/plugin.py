"""pytest hooks of pytest-loadbudget; the work lives in the modules they call."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import report, settings as settings_module
from .budget import check
from .errors import LoadBudgetError, MarkerError
from .fixture import BUDGET_KEY, USED_KEY, LoadModel
from .markers import MARKER_NAME, budget_from_item, describe, marker_help
from .record import ModelRecord, TestUse, merge_records
from .settings import Settings
from .store import ModelStore

PLUGIN_KEY = pytest.StashKey["LoadBudgetPlugin"]()
WORKER_OUTPUT_KEY = "loadbudget_records"
BUDGET_SECTION = "loadbudget"


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
    return LoadModel(plugin.store, plugin.settings, request.node)  # type: ignore[arg-type]


class LoadBudgetPlugin:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.store = ModelStore(settings)
        self.worker_records: list[ModelRecord] = []

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def records(self) -> list[ModelRecord]:
        own = [entry.record for entry in self.store.entries.values()]
        return merge_records(own + self.worker_records)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.stash[BUDGET_KEY] = None
        try:
            item.stash[BUDGET_KEY] = budget_from_item(item)
        except MarkerError as error:
            problem = str(error)
        else:
            return
        # Outside the except block, so the report shows no chained exception.
        pytest.fail(problem, pytrace=False)

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
        budget = item.stash.get(BUDGET_KEY, None)
        used = item.stash.get(USED_KEY, [])
        lines: list[str] = []
        hints: list[str] = []
        for entry in used:
            misses = check(budget, entry.record) if budget is not None and not self.settings.disable else []
            entry.record.tests.append(TestUse(
                nodeid=item.nodeid,
                budget=describe(budget) if budget is not None else {},
                misses=[miss.line for miss in misses],
            ))
            for miss in misses:
                lines.append(f"{MARKER_NAME}: {miss.line}")
                if miss.hint and f"  {miss.figure}: {miss.hint}" not in hints:
                    hints.append(f"  {miss.figure}: {miss.hint}")
        if budget is not None and not used and call.excinfo is None and not self.settings.disable:
            lines.append(f"{MARKER_NAME}: {item.nodeid} has a budget but loaded no model through load_model")
        if lines:
            test_report.sections.append((BUDGET_SECTION, "\n".join(lines + (["what usually fixes it:"] + hints if hints else []))))
            if test_report.passed:
                test_report.outcome = "failed"
                test_report.longrepr = "\n".join(lines)
        return test_report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        if report.when == "call" and report.failed and any(name == BUDGET_SECTION for name, _ in report.sections):
            if isinstance(report.longrepr, str) and report.longrepr.startswith(MARKER_NAME):
                return "failed", "B", "BUDGET"
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            self.config.workeroutput[WORKER_OUTPUT_KEY] = [r.to_dict() for r in self.records()]  # type: ignore[attr-defined]
            return
        if self.settings.json is not None:
            path = Path(self.settings.json).absolute()
            try:
                report.write_json(path, self.records())
            except OSError as error:
                self.config.issue_config_time_warning(
                    pytest.PytestWarning(f"loadbudget: could not write {path}: {error}"), stacklevel=2
                )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY, [])
        self.worker_records.extend(ModelRecord.from_dict(data) for data in output)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.settings.report or self.is_worker:
            return
        try:
            report.write_terminal_report(terminalreporter, self.records(), verbose=self.config.option.verbose > 0)
        except Exception as error:  # a broken report must not hide the test results
            terminalreporter.write_line(f"loadbudget: the report failed: {type(error).__name__}: {error}", red=True)
