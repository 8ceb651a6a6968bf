"""Cold-start budgets through the marker: measured in fresh processes, diagnosed on a miss."""

from __future__ import annotations

import json
import textwrap

import pytest

SUITE = textwrap.dedent(
    """
    import time
    import pytest

    class Model:
        def __init__(self):
            self.calls = 0

        def __call__(self, x):
            if self.calls == 0:
                time.sleep(0.3)  # the first call compiles, as a real model's does
            self.calls += 1
            return x

    def slow_first_call():
        return Model()

    @pytest.mark.load_budget(cold_ms=100, cold_runs=2)
    def test_cold_over(load_model):
        load_model(slow_first_call, warmup=1.0)

    @pytest.mark.load_budget(cold_ms=60000, import_ms=60000, cold_runs=2)
    def test_cold_under(load_model):
        load_model(slow_first_call, warmup=1.0)
    """
)


def test_cold_budget_fails_with_the_dominant_phase_and_a_diagnosis(pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: slow_first_call cold start * ms > budget 100 ms (median of 2 fresh processes, *; "
        "dominant phase: first call)",
        "diagnosis (what dominates, and what usually fixes it):",
        "  slow_first_call: First call dominates the cold start",
        "      first call * ms of a * ms cold start*",
    ])
    result.stdout.fnmatch_lines(["slow_first_call cold start: start-up * + import * + read * + load * + first call * = * ms "
                                 "(median of 2 fresh processes)"])
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    runs = record["cold"]["runs"]
    assert len(runs) == 2
    assert all(run["first_call_ms"] >= 300 for run in runs)


def test_cold_budget_on_a_lambda_says_it_cannot_be_replayed(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(cold_ms=1000)
        def test_it(load_model):
            load_model(lambda: dict(), name="local")
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*local cold start not measured: the loader cannot be replayed in a fresh process*"])


def test_diagnose_option_prints_advice_for_every_model(pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-diagnose", "-k", "under")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*- loadbudget diagnosis -*", "slow_first_call: *"])


@pytest.mark.parametrize(
    ("marker", "problem"),
    [("cold_runs=0", "*cold_runs=0 must be an integer of at least 1*"),
     ("cold_disk='yes'", "*cold_disk='yes' must be True or False*"),
     ("import_ms=0", "*import_ms=0 must be greater than 0*")],
)
def test_bad_cold_keywords_are_marker_errors(pytester, marker, problem):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget({marker})
        def test_it(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([problem])


@pytest.mark.parametrize(
    ("ini", "check"),
    [("loadbudget_cold = all\nloadbudget_cold_runs = 2", "runs"),
     ("loadbudget_cold = all\nloadbudget_cold_runs = 1\nloadbudget_cold_disk = true", "disk"),
     ("loadbudget_diagnose = true", "diagnose")],
)
def test_cold_ini_keys_are_read(pytester, ini, check):
    pytester.makeini(f"[pytest]\n{ini}\n")
    (pytester.path / "vocab.bin").write_bytes(b"v" * 10_000)
    pytester.makepyfile(
        """
        def loader():
            return dict()

        def test_it(load_model):
            load_model(loader, files=["vocab.bin"])
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    if check == "runs":
        assert len(record["cold"]["runs"]) == 2
    elif check == "disk":
        assert record["cold"]["evict"] is True
    else:
        result.stdout.fnmatch_lines(["*- loadbudget diagnosis -*"])
