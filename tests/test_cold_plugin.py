"""Cold-start budgets through the marker: measured in fresh processes, diagnosed on a miss."""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path
from typing import Any

import pytest

# tests/ is on sys.path, as for conftest's ``import models``.
from models import marker_error

from pytest_loadbudget.measure.page_cache import MEMORY_FILESYSTEMS, filesystem_type
from pytest_loadbudget.units import format_mib

#: The float32 weights of the TF.js graph model below: enough for the quantization advice (256 KiB and up).
WEIGHT_SHAPE = (250, 400)
WEIGHT_BYTES = 250 * 400 * 4
VOCAB_BYTES = 10_000

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


def test_cold_budget_fails_with_the_dominant_phase_and_a_diagnosis(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    runs = record["cold"]["runs"]
    assert len(runs) == 2
    assert all(run["first_call_ms"] >= 300 for run in runs)
    # Which phase dominates depends on the machine: the 300 ms first call, or the start-up
    # of a Python on a busy one. The miss names the phase with the largest median.
    phases = {"startup": "start-up", "import": "import", "read": "read", "load": "load", "first_call": "first call"}
    dominant = max(phases, key=lambda phase: statistics.median(run[f"{phase}_ms"] for run in runs))
    result.stdout.fnmatch_lines([
        (
            "*load_budget: slow_first_call cold start * ms own time > budget 100 ms (median of 2 fresh processes, *; "
            f"dominant phase: {phases[dominant]})"
        ),
        "diagnosis (what dominates, and what usually fixes it):",
        f"  slow_first_call: {phases[dominant].capitalize()} dominates the cold start",
        f"      {phases[dominant]} * ms of a * ms cold start*",
    ])
    if dominant != "first_call":  # the first call's own advice follows the dominant phase's
        result.stdout.fnmatch_lines([
            "diagnosis (what dominates, and what usually fixes it):",
            "  slow_first_call: First call far slower than the next ones: warm up at load",
            "      first call * ms, then * per call (* the steady call): *",
        ])
    result.stdout.fnmatch_lines([
        "slow_first_call cold start: start-up * + import * + read * + load * + first call * = * ms (median of 2 *)",
    ])


def write_float32_graph_model(directory: Path) -> tuple[str, str]:
    """A TF.js graph model of one float32 weight, written by hand (no TensorFlow needed).

    Returns its size and its size stored as uint8 (a quarter of the weights), as the report
    prints them: to three figures the quantization entry model.json gains does not show.
    """
    directory.mkdir(parents=True, exist_ok=True)
    weights = [{"name": "dense/kernel", "shape": list(WEIGHT_SHAPE), "dtype": "float32"}]
    document = {"format": "graph-model", "modelTopology": {"node": []},
                "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}]}
    (directory / "model.json").write_text(json.dumps(document))
    (directory / "group1-shard1of1.bin").write_bytes(b"\0" * WEIGHT_BYTES)
    size = (directory / "model.json").stat().st_size + WEIGHT_BYTES
    return format_mib(size), format_mib(size - WEIGHT_BYTES * 3 // 4)


def quantization_advice(name: str, size: str, uint8: str) -> list[str]:
    return [
        f"{name}: float32 TF.js weights: uint8 quantization would cut {size} to about {uint8}",
        f"    {format_mib(WEIGHT_BYTES)} of {size} (model.json + shards) are float32 weights; uint8 about {uint8} *",
        "    fix: Convert with tensorflowjs_converter --quantize_uint8 '[*]'*",
    ]


def assert_evicted_before_each_run(record: dict[str, Any], directory: Path, runs: int) -> None:
    """The cold runs of ``record`` (a loader reading vocab.bin) each started with vocab.bin evicted."""
    cold = record["cold"]
    assert cold["evict"] is True and len(cold["runs"]) == runs
    memory = filesystem_type(directory) in MEMORY_FILESYSTEMS
    for run in cold["runs"]:
        cache = run["page_cache"]
        # Resident before: written by the test, then read back by each child; so there was something to drop.
        assert cache["evicted"] is True and cache["total_bytes"] == cache["resident_before"] == VOCAB_BYTES, cache
        if memory:  # tmpfs keeps its pages; the report must say so rather than pretend
            assert cache["problem"] == "the pages stayed cached (a memory filesystem such as tmpfs cannot drop them)"
        else:
            assert cache["problem"] == "" and cache["resident_after"] == 0, cache


def test_import_budget_miss_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite=SUITE + textwrap.dedent(
            """
            @pytest.mark.load_budget(import_ms=0.001, cold_runs=2)
            def test_import_over(load_model):
                load_model(slow_first_call, warmup=1.0)
            """
        )
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "-k", "import_over or under")
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    result.stdout.fnmatch_lines([
        "*load_budget: slow_first_call import * ms own time > budget 0.001 ms (median of 2 fresh processes, *; dominant *)",
    ])
    result.stdout.no_fnmatch_line("*slow_first_call cold start * > budget*")  # cold_ms is not set: import alone
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert all(run["import_ms"] > 0.001 for run in record["cold"]["runs"])


def test_cold_disk_marker_evicts_the_files_before_each_cold_run(pytester: pytest.Pytester) -> None:
    (pytester.path / "vocab.bin").write_bytes(b"v" * VOCAB_BYTES)
    pytester.makepyfile(
        """
        import pytest

        def loader():
            return dict()

        @pytest.mark.load_budget(cold_ms=60000, cold_runs=2, cold_disk=True)
        def test_it(load_model):
            load_model(loader, files=["vocab.bin"])
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert_evicted_before_each_run(record, pytester.path, runs=2)


def test_cold_budget_on_a_lambda_says_it_cannot_be_replayed(pytester: pytest.Pytester) -> None:
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


def test_diagnose_option_prints_advice_for_every_model(pytester: pytest.Pytester) -> None:
    size, uint8 = write_float32_graph_model(pytester.path / "web")
    pytester.makepyfile(
        test_suite=SUITE,
        test_more="""
            def plain():
                return dict()

            def test_web(load_model):
                load_model("web/model.json")

            def test_plain(load_model):
                load_model(plain)
            """,
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-diagnose", "-k", "not over")
    result.assert_outcomes(passed=3, deselected=1)
    # One call per model: the order of the models is not the point.
    result.stdout.fnmatch_lines(["*- loadbudget diagnosis -*", *quantization_advice("web/model.json", size, uint8)])
    result.stdout.fnmatch_lines(["*- loadbudget diagnosis -*", "plain: nothing stands out"])
    # A 300 ms first call against a steady call of microseconds: warm-up advice, whether the
    # first call or (on a busy machine) the start-up dominates the cold start.
    result.stdout.re_match_lines([
        r".*- loadbudget diagnosis -.*",
        r"slow_first_call: (First call dominates the cold start|First call far slower .*: warm up at load)$",
        r"    (first call .* cold start \(\d+%\); )?first call \d.* ms, then .* per call \(.* the steady call\): .*",
        r"    fix: Run one dummy inference right after loading, .*",
    ])
    result.stdout.no_fnmatch_line("slow_first_call: nothing stands out")


@pytest.mark.parametrize(
    ("marker", "problem"),
    [("cold_runs=0", "*cold_runs=0 must be an integer of at least 1*"),
     ("cold_disk='yes'", "*cold_disk='yes' must be True or False*"),
     ("import_ms=0", "*import_ms=0 must be greater than 0*")],
)
def test_bad_cold_keywords_are_marker_errors(pytester: pytest.Pytester, marker: str, problem: str) -> None:
    result = marker_error(pytester, marker)
    result.stdout.fnmatch_lines([problem])


@pytest.mark.parametrize(
    ("ini", "check"),
    [("loadbudget_cold = all\nloadbudget_cold_runs = 2", "runs"),
     ("loadbudget_cold = all\nloadbudget_cold_runs = 1\nloadbudget_cold_disk = true", "disk"),
     ("loadbudget_diagnose = true", "diagnose")],
)
def test_cold_ini_keys_are_read(pytester: pytest.Pytester, ini: str, check: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    (pytester.path / "vocab.bin").write_bytes(b"v" * VOCAB_BYTES)
    # The diagnosis case loads a model with advice that shows whatever the machine's speed.
    size, uint8 = write_float32_graph_model(pytester.path / "web")
    model = '"web/model.json"' if check == "diagnose" else 'loader, files=["vocab.bin"]'
    pytester.makepyfile(
        f"""
        def loader():
            return dict()

        def test_it(load_model):
            load_model({model})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    if check == "runs":
        assert len(record["cold"]["runs"]) == 2
    elif check == "disk":
        assert_evicted_before_each_run(record, pytester.path, runs=1)
    else:
        result.stdout.fnmatch_lines(["*- loadbudget diagnosis -*", *quantization_advice("web/model.json", size, uint8)])


@pytest.mark.parametrize(
    ("options", "check"),
    [(["--loadbudget-cold=all", "--loadbudget-cold-runs=2"], "runs"),
     (["--loadbudget-cold=all", "--loadbudget-cold-runs=1", "--loadbudget-cold-disk"], "disk")],
    ids=["cold-runs", "cold-disk"],
)
def test_cold_options_on_the_command_line_win_over_the_ini_file(
    pytester: pytest.Pytester, options: list[str], check: str
) -> None:
    # The ini file says the opposite of every option: a value that is not read from the
    # command line shows as the ini file's.
    pytester.makeini("[pytest]\nloadbudget_cold = budget\nloadbudget_cold_runs = 3\nloadbudget_cold_disk = false\n")
    (pytester.path / "vocab.bin").write_bytes(b"v" * VOCAB_BYTES)
    pytester.makepyfile(
        """
        def loader():
            return dict()

        def test_it(load_model):
            load_model(loader, files=["vocab.bin"])
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", *options)
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert record["cold"] is not None, "--loadbudget-cold=all measured no cold start"
    if check == "runs":
        assert len(record["cold"]["runs"]) == 2 and record["cold"]["evict"] is False
    else:
        assert_evicted_before_each_run(record, pytester.path, runs=1)
