"""pytest hooks of pytest-loadbudget; the work lives in the modules they call.

Every pytest run where the plugin is installed imports this module, and
``pytest --help`` runs ``pytest_configure``: both stay light (the settings,
the marker's signature). numpy, filelock, the formats and the measuring,
baseline and report code load in the hook that first needs them: when a test
sets a budget or loads a model, or when a report or a baseline is asked for.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadbudget import settings as settings_module
from pytest_loadbudget.config import collect_root_config, may_declare_models
from pytest_loadbudget.errors import LoadBudgetError, MarkerError
from pytest_loadbudget.judge import JUDGEMENT_KEY, BudgetExceeded, Judgement
from pytest_loadbudget.settings import Settings
from pytest_loadbudget.stash_keys import AGAINST_KEY, BUDGET_KEY, USED_KEY

if TYPE_CHECKING:
    from pytest_loadbudget.baseline.confirm import Remeasure
    from pytest_loadbudget.baseline.gate import RegressionGate
    from pytest_loadbudget.baseline.lookup import GateSummary
    from pytest_loadbudget.budget.marker import Budget
    from pytest_loadbudget.paired.gate import PairedGate
    from pytest_loadbudget.results.record import ModelRecord
    from pytest_loadbudget.session.fixture import LoadModel
    from pytest_loadbudget.session.model_cache import ModelCache

PLUGIN_KEY = pytest.StashKey["LoadBudgetPlugin"]()
WORKER_OUTPUT_KEY = "loadbudget_records"
BUDGET_SECTION = "loadbudget"
#: The user property on the report of a test the plugin failed (a budget
#: miss, a regression): it travels with the report to xdist's controller,
#: where the BUDGET status is decided, and a user's own message cannot fake it.
VERDICT_PROPERTY = "loadbudget_verdict"


def pytest_addoption(parser: pytest.Parser) -> None:
    settings_module.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    from pytest_loadbudget.budget.marker import marker_help

    config.addinivalue_line("markers", marker_help())
    plugin = LoadBudgetPlugin(config, settings_module.resolve(config))
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "loadbudget-session")
    collect_root_config(config)


@pytest.fixture
def load_model(request: pytest.FixtureRequest) -> LoadModel:
    """Load a model once per session, measured against the test's load_budget, warm."""
    return request.config.stash[PLUGIN_KEY].loader_for(request.node)


class LoadBudgetPlugin:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.worker_records: list[ModelRecord] = []
        #: Report files that could not be written, one line each, shown at the end.
        self.problems: list[str] = []
        self._store: ModelCache | None = None
        self._gate: RegressionGate | None = None
        self._paired: PairedGate | None = None
        #: What the run was compared with (--loadbudget-compare), set when the session finishes.
        self._summary: GateSummary | None = None

    # Methods, not properties: pytest before 8.1 reads every attribute of a
    # plugin object when it registers it, which would create both at once.
    def store(self) -> ModelCache:
        """The session's models, created on the first ``load_model`` (with the measuring code)."""
        if self._store is None:
            from pytest_loadbudget.measure import progress
            from pytest_loadbudget.session.model_cache import ModelCache

            progress.start(self.config)  # the live line of long measurements, from the first model on
            self._store = ModelCache(self.settings)
        return self._store

    def gate(self) -> RegressionGate:
        """The baseline to compare with and the run to save, created when a verdict or a save needs it."""
        if self._gate is None:
            from pytest_loadbudget.baseline.gate import RegressionGate

            self._gate = RegressionGate(self.settings, self.config.rootpath)
        return self._gate

    def paired_gate(self) -> PairedGate:
        """The baseline artifacts measured beside each model (--loadbudget-against, load_model(against=))."""
        if self._paired is None:
            from pytest_loadbudget.paired.gate import PairedGate

            self._paired = PairedGate(self.settings, self.config.rootpath)
        return self._paired

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """A SOURCE that is neither a directory nor a revision is a usage error before any test runs."""
        if self.settings.against is None or self.settings.disable:
            return
        from pytest_loadbudget.paired.source import SourceError

        try:
            self.paired_gate().source()
        except SourceError as error:
            raise pytest.UsageError(str(error)) from None

    def loader_for(self, item: pytest.Item) -> LoadModel:
        """The ``load_model`` of a test, or of a model entry of a configuration file."""
        from pytest_loadbudget.session.fixture import LoadModel

        return LoadModel(self.store(), self.settings, item)

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        """A pyproject.toml or loadbudget.toml with ``models`` entries: one item per model they name."""
        if not may_declare_models(file_path):
            return None
        from pytest_loadbudget.config.items import collect_config_file

        return collect_config_file(file_path, parent, self.loader_for)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def records(self) -> list[ModelRecord]:
        own = [entry.record for entry in self._store.entries.values()] if self._store is not None else []
        if not own and not self.worker_records:
            return []
        from pytest_loadbudget.results.record import merge_records

        return merge_records(own + self.worker_records)

    def pytest_report_header(self) -> str:
        """The settings that change figures, and the machine id baselines are kept under."""
        from pytest_loadbudget.baseline.fingerprint import hardware_facts, machine_id

        settings = self.settings
        parts = [f"rounds {settings.rounds or 'auto'}", f"cycles {settings.cycles}", f"memory {settings.memory}"]
        if settings.device:
            parts.append(f"device {settings.device}")
        if settings.clock != "own":  # the default is not worth a word; wall time changes every verdict
            parts.append(f"clock {settings.clock}")
        if settings.compare is not None:
            parts.append(f"compare {settings.compare or 'newest per model'}")
        if settings.save is not None:
            parts.append(f"save {settings.save or '(date and time)'}")
        elif settings.autosave:
            parts.append("save (commit id)")
        if settings.against is not None:
            parts.append(f"against {settings.against} (paired)")
        from pytest_loadbudget.measure.tracing import running_coverage

        if running_coverage() is not None:  # pytest-cov starts it before the header is written
            parts.append("coverage paused around timed loads")
        if settings.disable:
            parts = ["disabled: models load once, nothing is measured"]
        return f"loadbudget: {', '.join(parts)}; machine {settings.machine or machine_id(hardware_facts())}"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from pytest_loadbudget.budget.marker import budget_from_item

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
        if budget is None and not self.settings.device:
            return  # nothing asks for a device
        from pytest_loadbudget.measure.devices import find_gpu
        from pytest_loadbudget.session.fixture import requested_device

        if requested_device(budget, self.settings) != "gpu":
            return
        gpu, why = find_gpu()
        if gpu is not None:
            return
        if self.settings.require_gpu:
            pytest.fail(f"this test needs a GPU and --loadbudget-require-gpu is set: {why}", pytrace=False)
        pytest.skip(f"needs a GPU: {why}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Judge the test's budgets and the gate in its call: an error while judging is the test's own."""
        try:
            outcome = yield
        except Exception:
            # The test's own failure is what it reports; its figures still get their lines (no pairs: they
            # take seconds a failed test does not need). A skip, an xfail, Ctrl-C or pytest.exit passes through.
            try:
                self._judge(item, test_passed=False)
            except Exception:  # noqa: BLE001 - the test's error stands; the judging one is shown beside it
                item.stash[JUDGEMENT_KEY] = Judgement(details=[
                    "judging the figures failed too:", *traceback.format_exc().splitlines()])
            raise
        judgement = self._judge(item, test_passed=True)
        if judgement is not None and judgement.lines:
            judgement.failed = True
            raise BudgetExceeded(judgement.lines)
        return outcome

    def _judge(self, item: pytest.Item, *, test_passed: bool) -> Judgement | None:
        budget = item.stash.get(BUDGET_KEY, None)
        used = item.stash.get(USED_KEY, [])
        if self.settings.disable or (budget is None and not used):
            return None
        from pytest_loadbudget.budget.marker import MARKER_NAME
        from pytest_loadbudget.judge import GatePolicy, PairedPolicy, SavedRunsPolicy, judge

        policies: list[GatePolicy] = [SavedRunsPolicy(self.gate, self._remeasurer)]
        against = item.stash.get(AGAINST_KEY, {})
        if test_passed and (self.settings.against is not None or against):
            policies.insert(0, PairedPolicy(self.paired_gate, against))
        judgement = judge(item.nodeid, budget, used, policies, self.settings.clock)
        if budget is not None and not used and test_passed:
            judgement.lines.append(f"{MARKER_NAME}: {item.nodeid} has a budget but loaded no model through load_model")
        item.stash[JUDGEMENT_KEY] = judgement
        return judgement

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Render what the call judged: the failure lines, and the report section beside them."""
        test_report = yield
        if call.when != "call":
            return test_report
        if call.excinfo is not None and call.excinfo.errisinstance(LoadBudgetError):
            # The error names the file and the problem; a traceback into the loader adds nothing.
            test_report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
        judgement = item.stash.get(JUDGEMENT_KEY, None)
        if judgement is None:
            return test_report
        if judgement.failed and hasattr(test_report, "wasxfail"):
            # xfail expects the test's own failure: a budget miss or a regression is never the expected one.
            del test_report.wasxfail
            test_report.outcome = "failed"
        failed_here = judgement.failed and test_report.failed
        if failed_here:
            # The failure is the lines themselves: no traceback, no exception name, each line once.
            test_report.longrepr = "\n".join(judgement.lines)
            test_report.user_properties.append((VERDICT_PROPERTY, "failed"))
        # Beside a failure of the plugin's, the section adds the details; beside the test's own, the lines too.
        section = judgement.details if failed_here else judgement.lines + judgement.details
        if section:
            test_report.sections.append((BUDGET_SECTION, "\n".join(section)))
        return test_report

    def _remeasurer(self, key: str) -> Remeasure | None:
        """The gate's second measurement of a model this process measured (once, and only if a figure is suspect)."""
        store = self._store
        if store is None:
            return None
        return lambda rounds, cold: store.remeasure_timings(key, rounds=rounds, cold=cold)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        properties = getattr(report, "user_properties", ())
        if report.when == "call" and report.failed and any(name == VERDICT_PROPERTY for name, _ in properties):
            return "failed", "B", "BUDGET"
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            if self.is_worker:
                records = [record.to_dict() for record in self.records()]
                self.config.workeroutput[WORKER_OUTPUT_KEY] = records  # type: ignore[attr-defined]
            else:
                self._finish_run()
        finally:
            # In every process, xdist workers included: a browser, Playwright
            # and a model server left open would live until the process exits.
            if self._store is not None:
                self._store.runtimes.close()
            if self._paired is not None:
                self._paired.close()

    def _finish_run(self) -> None:
        records = self.records()
        # Before the save, which the baseline must not include; here, where
        # xdist's controller holds every worker's records.
        if self.settings.compare is not None and not self.settings.disable:
            self._summary = self.gate().summary(records)
        # The baseline first: a report file that cannot be written must not cost it.
        if (self.settings.save is not None or self.settings.autosave) and not self.settings.disable:
            self.gate().save(records)
        targets = (self.settings.json, self.settings.markdown, self.settings.benchmark_json, self.settings.github_json,
                   self.settings.step_summary_file, self.settings.html)
        if any(target is not None for target in targets):
            from pytest_loadbudget.report.files import write_report_files

            self.problems.extend(write_report_files(self.settings, records, self._summary, self._html_writer(records)))

    def _html_writer(self, records: list[ModelRecord]) -> list[tuple[str, str | None, Callable[[Path], None]]]:
        """The --loadbudget-html page, written after the save: it charts the saved runs and this one."""
        if self.settings.html is None:
            return []

        def write(path: Path) -> None:
            from pytest_loadbudget.report.html import write_html

            write_html(path, records, self.gate(), self._summary, self.settings.clock)

        return [("--loadbudget-html", self.settings.html, write)]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY, [])
        if output:
            from pytest_loadbudget.results.record import ModelRecord

            self.worker_records.extend(ModelRecord.from_dict(data) for data in output)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        try:
            self._terminal_summary(terminalreporter)
        except Exception:  # noqa: BLE001 - a broken report must not hide the results; its traceback is shown
            terminalreporter.write_line("loadbudget: the report failed (a bug: please report it with this "
                                        "traceback):", red=True)
            for line in traceback.format_exc().splitlines():
                terminalreporter.write_line(line)

    def _terminal_summary(self, terminal: Any) -> None:
        records = self.records() if self.settings.report or self.settings.diagnose or self.settings.suggest else []
        if self.settings.report or self.settings.diagnose:
            from pytest_loadbudget.measure.floor import bandwidth_or_none
            from pytest_loadbudget.report import terminal as terminal_report

            terminal_report.write_terminal_report(
                terminal, records, verbose=self.config.option.verbose > 0, baseline=self._summary,
                bandwidth=bandwidth_or_none(), diagnose=self.settings.diagnose, clock=self.settings.clock,
            )
        if self.settings.suggest == "markers":
            from pytest_loadbudget.report.suggest import write_suggestions

            write_suggestions(terminal, records, self.settings.clock)
        elif self.settings.suggest:  # "config", or a .toml file to write the entries to
            from pytest_loadbudget.config.suggest import write_config_suggestions

            write_config_suggestions(terminal, records, self.settings.suggest, self.config.rootpath,
                                     self.settings.clock)
        if self._paired is not None or self.worker_records:  # pairs ran here, or maybe in a worker
            from pytest_loadbudget.paired.summary import paired_summary

            for line in paired_summary(self.records()):
                terminal.write_line(f"loadbudget: {line}")
        summary = self._summary
        if summary is not None and not (self.settings.report or self.settings.diagnose):
            for line in summary.lines():  # the report lists them itself
                terminal.write_line(f"loadbudget: {line}")
        if summary is not None and summary.not_enforced:
            terminal.write_line(f"loadbudget: {summary.not_enforced}", red=True, bold=True)
        gate = self._gate
        for message in gate.messages if gate is not None else []:
            terminal.write_line(f"loadbudget: {message}")
        for problem in (gate.problems if gate is not None else []) + self.problems:
            terminal.write_line(f"loadbudget: {problem}", yellow=True)
