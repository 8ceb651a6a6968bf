"""Native Windows, simulated: no POSIX-only modules and no /proc.

Windows has no ``resource`` and no ``fcntl`` module; importing either at the
plugin's import broke every pytest run there. These tests hide both (as
``sys.modules[name] = None`` does: the import raises ImportError) in a fresh
interpreter, and for a whole run also hide /proc, so that resident memory
cannot be read at all, as on Windows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

POSIX_ONLY = ("resource", "fcntl")
#: Every module a run of the plugin may import, parent and children.
PLUGIN_MODULES = (
    "pytest_loadbudget.plugin",
    "pytest_loadbudget.measure.rss",
    "pytest_loadbudget.measure.memory",
    "pytest_loadbudget.measure.page_cache",
    "pytest_loadbudget.measure.floor",
    "pytest_loadbudget.fresh.cold",
    "pytest_loadbudget.fresh.cold_child",
    "pytest_loadbudget.fresh.memory_child",
    "pytest_loadbudget.session.model_cache",
    "pytest_loadbudget.cli.main",
    "pytest_loadbudget.tfjs_runtime",
)

#: Run at the start of every interpreter of the simulated run (children included: they inherit PYTHONPATH).
SITECUSTOMIZE = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path

    for name in {POSIX_ONLY!r}:
        sys.modules[name] = None

    import pytest_loadbudget.measure.rss as rss

    rss._PROC_SELF = Path("/nonexistent/proc/self")  # no VmRSS, no VmHWM, no clear_refs
    """
)


def test_the_plugin_imports_without_posix_only_modules() -> None:
    hide = "".join(f"sys.modules[{name!r}] = None; " for name in POSIX_ONLY)
    imports = "; ".join(f"importlib.import_module({module!r})" for module in PLUGIN_MODULES)
    code = f"import importlib, sys; {hide}{imports}; print('imported')"
    completed = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "imported"


def test_pytest_runs_with_the_plugin_without_posix_only_modules() -> None:
    hide = "".join(f"sys.modules[{name!r}] = None; " for name in POSIX_ONLY)
    code = f"import sys; {hide}import pytest; sys.exit(pytest.main(['--help']))"
    completed = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "--loadbudget-report" in completed.stdout, "the plugin was loaded"


def test_memory_budgets_say_not_measured_on_this_platform(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = pytester.mkdir("simulated_windows")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(
        """
        import pytest

        class Model:
            pass

        def loader():
            return Model()

        @pytest.mark.load_budget(peak_mb=100, leak_mb=100, cycles=2)
        def test_memory(load_model):
            load_model(loader, warmup=None)

        @pytest.mark.load_budget(cold_ms=600000)
        def test_cold(load_model):
            load_model(loader, warmup=None)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-rounds=1", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    note = "not measured on this platform (*: no /proc and no getrusage to read resident memory)"
    result.stdout.fnmatch_lines([
        f"*load_budget: loader peak not measured: {note}",
        f"*load_budget: loader leak not measured: {note}",
    ])
    result.stdout.fnmatch_lines([f"loader memory: {note}"])
    result.stdout.fnmatch_lines(["loader cold start: start-up * (median of 3 fresh processes)"])
    assert "Traceback" not in result.stdout.str()
