"""Fixtures shared by the format tests: tiny models in every format, built once per session."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

# numpy imported here, once: the plugin no longer imports it at start-up, and
# each in-process pytester run drops the modules it imported, which numpy>=2.3
# refuses to import a second time in one process.
import numpy  # noqa: F401
import pytest

import models


@pytest.fixture(scope="session")
def model_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The path to hand to ``load_model`` for each format (see ``models.build_models``).

    Shared by every test: copy a model (``models.copy_model``) before breaking it.
    Without tensorflowjs only the TensorFlow formats are built; a test that
    asks for a TF.js one skips, saying why.
    """
    models.quiet_tf()
    pytest.importorskip("tensorflow")
    return models.build_models(tmp_path_factory.mktemp("models"))


#: What a loadbudget run in pytester returns: the result and the --loadbudget-json document.
RunResult = tuple[pytest.RunResult, dict[str, Any]]


@pytest.fixture
def run_loadbudget(pytester: pytest.Pytester) -> Callable[..., RunResult]:
    """Write ``source`` as a test module, run it in process, and read the JSON report.

    One timed round per model unless ``args`` says otherwise: the tests check
    what is measured, not how fast.
    """

    def run(source: str, *args: str) -> RunResult:
        pytester.makepyfile(test_models=textwrap.dedent(source))
        report = pytester.path / "loadbudget.json"
        # In file order: some generated modules check what earlier tests did.
        options = [f"--loadbudget-json={report}", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
        if not any(arg.startswith("--loadbudget-rounds") for arg in args):
            options.append("--loadbudget-rounds=1")
        result = pytester.runpytest(*options)
        document = json.loads(report.read_text()) if report.exists() else {}
        return result, document

    return run



@pytest.fixture(autouse=True)
def generated_suites_run_in_file_order(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-randomly, installed for the interplay tests, would shuffle the suites
    that tests generate; those that check ordering (-x, counts, report rows)
    need file order. Tests that want it pass ``-p randomly``."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly")


@pytest.fixture(autouse=True)
def generated_suites_leave_the_job_summary_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """On GitHub Actions every generated suite would append its report to this project's own job summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(scope="session")
def tfjs_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A float32 and a uint8 TF.js graph model and a layers model, built once per session."""
    from tfjs_fixtures import graph_models, layers_model, quiet_tf

    quiet_tf()
    pytest.importorskip("tensorflowjs")
    directory = tmp_path_factory.mktemp("tfjs_models")
    built = graph_models(directory / "graph")
    built["layers"] = layers_model(directory / "layers")
    return built


#: Why the stand-in browser below records no trace, as the plugin says it.
NO_TRACE_NOTE = "Chrome's trace could not be recorded (Error: Tracing has already been started)"


@pytest.fixture
def browser_without_trace(monkeypatch: pytest.MonkeyPatch) -> str:
    """The browser runtime as on a Chromium that records no trace (the Long Tasks API stands in); its note."""
    from typing import Any

    from pytest_loadbudget.tfjs_runtime import browser
    from pytest_loadbudget.tfjs_runtime.trace import PageTracer

    class Untraced(PageTracer):
        def start(self, page: Any) -> bool:
            self.note = NO_TRACE_NOTE
            return False

    monkeypatch.setattr(browser, "PageTracer", Untraced)
    return NO_TRACE_NOTE
