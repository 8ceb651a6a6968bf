"""What the plugin costs a pytest run that does not use it: the modules it imports.

Every pytest run of a project with the plugin installed imports it, and
``pytest --help`` configures it: numpy, filelock, TensorFlow, the formats and
the measuring, baseline and report code load only when a test or an option
needs them. Each check runs in a fresh interpreter, whose modules are its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: Modules, or packages with every module under them, that a plain import must not bring in.
HEAVY = (
    "numpy",
    "filelock",
    "tensorflow",
    "keras",
    "tensorflowjs",
    "pytest_benchmark",
    "pytest_loadbudget.formats",
    "pytest_loadbudget.report",
    "pytest_loadbudget.baseline",
    "pytest_loadbudget.session",
    "pytest_loadbudget.results",
    "pytest_loadbudget.fresh.cold",
    "pytest_loadbudget.fresh.memory_child",
    "pytest_loadbudget.measure.loads",
    "pytest_loadbudget.measure.memory",
    "pytest_loadbudget.model.request",
    "pytest_loadbudget.model.entry",
    "pytest_loadbudget.diagnose",
    "pytest_loadbudget.tfjs_runtime",
)


def heavy_modules(modules: list[str]) -> list[str]:
    return sorted(name for name in modules if any(name == heavy or name.startswith(f"{heavy}.") for heavy in HEAVY))


def modules_after(code: str, cwd: object) -> list[str]:
    """sys.modules of a fresh interpreter after ``code``; the last stdout line is their JSON list."""
    script = f"{textwrap.dedent(code)}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, check=True)
    return list(json.loads(completed.stdout.splitlines()[-1]))


def test_importing_the_plugin_imports_nothing_heavy(pytester):
    modules = modules_after("import pytest_loadbudget.plugin", pytester.path)
    assert "pytest_loadbudget.plugin" in modules
    assert heavy_modules(modules) == []


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(["--markers"], id="markers"),
        pytest.param(["-q"], id="a run without budgets or models"),
    ],
)
def test_a_pytest_run_that_does_not_use_the_plugin_imports_nothing_heavy(pytester, args):
    pytester.makepyfile("def test_plain():\n    assert True\n")

    def modules_of_run(*more: str) -> list[str]:
        code = f"""
            import contextlib, io, pytest
            with contextlib.redirect_stdout(io.StringIO()):
                pytest.main({[*args, "-p", "no:cacheprovider", *more]!r})
        """
        return modules_after(code, pytester.path)

    modules = modules_of_run()
    assert "pytest_loadbudget.plugin" in modules, "the plugin was loaded from its entry point"
    # Other plugins may import numpy themselves (pytest-randomly reseeds it): what the plugin adds counts.
    without_the_plugin = set(modules_of_run("-p", "no:loadbudget"))
    assert heavy_modules([name for name in modules if name not in without_the_plugin]) == []
