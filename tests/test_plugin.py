"""Plugin behaviour with loader functions: budgets, caching, options, report.

Loader functions keep these tests free of TensorFlow; the formats have their
own tests. A loader must live at module level of the test file so that the
memory measurement can replay it in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

LOADERS = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    import pytest

    CALLS = []
    KEPT = []

    class Model:
        def __init__(self, first_call_s=0.0, payload=None):
            self.first_call_s = first_call_s
            self.calls = 0
            self.payload = payload

        def __call__(self, x):
            if self.calls == 0:
                time.sleep(self.first_call_s)
            self.calls += 1
            return np.asarray(x) * 2

    def quick():
        CALLS.append(1)
        return Model()

    def slow(delay_s=0.03):
        time.sleep(delay_s)
        return Model()

    def slow_first_call():
        return Model(first_call_s=0.05)

    def big(mib=64):
        # Touch every page so the memory is resident, not just reserved.
        return Model(payload=np.ones(mib * 2**20 // 8))

    def leaky(mib=8):
        KEPT.append(np.ones(mib * 2**20 // 8))
        return Model()

    def in_child():
        main = sys.modules["__main__"]
        return getattr(main, "__spec__", None) is not None and main.__spec__.name == "pytest_loadbudget.fresh.memory_child"

    def crashes_in_child():
        if in_child():
            os.kill(os.getpid(), 9)
        return Model()

    def hangs_in_child():
        if in_child():
            time.sleep(60)
        return Model()
    """
)


@pytest.fixture
def suite(pytester: pytest.Pytester):
    """Write a test file made of the loaders above and the given tests."""

    def write(tests: str) -> None:
        pytester.makepyfile(test_suite=LOADERS + textwrap.dedent(tests))

    return write


def read_json(pytester: pytest.Pytester, name: str = "out.json") -> dict:
    return json.loads((pytester.path / name).read_text())


def test_load_budget_that_holds_passes(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5000, warm_ms=5000)
        def test_it(load_model):
            model = load_model(quick, warmup=np.ones(3))
            assert model(np.ones(3)).tolist() == [2, 2, 2]
        """
    )
    pytester.runpytest("--loadbudget-rounds=2").assert_outcomes(passed=1)


def test_load_time_over_budget_fails_with_one_line(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5)
        def test_it(load_model):
            load_model(slow, delay_s=0.03)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: slow load * ms own time > budget 5 ms (median of 3, *..*)",
        "*what usually fixes it:*",
        "*BUDGET test_suite.py::test_it - load_budget: slow load*",
    ])
    # The failure is the line; the section beside it adds what fixes it, not the line again.
    assert sum(line.startswith("load_budget: slow load") for line in result.stdout.lines) == 1


def test_warm_up_over_budget_fails(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(warm_ms=10)
        def test_it(load_model):
            model = load_model(slow_first_call, warmup=np.ones(2))
            assert model.calls == 1, "the model handed out is already warm"
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*load_budget: slow_first_call warm-up * ms own time > budget 10 ms (median of 2, *"])


def test_warm_up_function_is_timed(pytester, suite):
    # One model (same loader, same warm-up): a tight budget misses, a loose one holds.
    suite(
        """
        WARMED = []

        def warm_up(model):
            WARMED.append(model)
            model(np.ones(2))
            time.sleep(0.05)

        @pytest.mark.load_budget(warm_ms=10)
        def test_over(load_model):
            load_model(quick, warmup=warm_up)

        @pytest.mark.load_budget(warm_ms=60_000)
        def test_under(load_model):
            model = load_model(quick, warmup=warm_up)
            assert model.calls == 1, "the model handed out is already warm"

        def test_warm_up_ran_on_every_fresh_model():
            # Before the rounds, then once per round, each time on the model just loaded.
            assert len(WARMED) == 4 and len({id(model) for model in WARMED}) == 4
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=3", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*load_budget: quick warm-up * ms own time > budget 10 ms (median of 3, *..*)"])
    (record,) = read_json(pytester)["models"]
    samples = record["warm_ms"]["samples"]
    assert len(samples) == 3
    # The function's own sleep is inside the timed call (a lower bound, not a speed claim).
    assert min(samples) >= 50


def test_warm_up_budget_without_warm_up_input_says_what_to_pass(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(warm_ms=10)
        def test_it(load_model):
            load_model(quick)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*quick warm-up not measured: *pass warmup=... to load_model*"])


@pytest.mark.parametrize(("budget_mib", "outcome"), [(1, "passed"), (0.5, "failed")])
def test_size_budget_counts_the_files_the_load_reads(pytester, suite, budget_mib, outcome):
    (pytester.path / "vocab.bin").write_bytes(b"x" * 700_000)
    (pytester.path / "merges.bin").write_bytes(b"x" * 100_000)
    suite(
        f"""
        @pytest.mark.load_budget(mb={budget_mib})
        def test_it(load_model):
            load_model(quick, name="tokenizer", files=["vocab.bin", "merges.bin"])
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(**{outcome: 1})
    record = read_json(pytester)["models"][0]
    assert record["size_bytes"] == 800_000
    assert record["files"] == 2
    if outcome == "failed":
        result.stdout.fnmatch_lines([f"*load_budget: tokenizer size 0.763 MiB > budget {budget_mib:g} MiB (2 files)"])


def test_peak_memory_is_measured_in_a_fresh_process(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(peak_mb=32)
        def test_over(load_model):
            load_model(big, mib=64)

        @pytest.mark.load_budget(peak_mb=256)
        def test_under(load_model):
            load_model(big, mib=64)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*load_budget: big peak * MiB > budget 32 MiB (load + warm-up, fresh process)"])
    memory = read_json(pytester)["models"][0]["memory"]
    assert memory["where"] == "fresh process"
    assert 60 * 2**20 <= memory["peak_bytes"] <= 100 * 2**20


def test_leak_over_cycles_fails(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(leak_mb=5, cycles=4)
        def test_leaky(load_model):
            load_model(leaky, mib=8)

        @pytest.mark.load_budget(leak_mb=5, cycles=4)
        def test_clean(load_model):
            load_model(big, mib=8)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: leaky leak * MiB > budget 5 MiB (after 4 load/release cycles, * MiB per cycle, fresh process)"
    ])
    leaky = next(m for m in read_json(pytester)["models"] if m["name"] == "leaky")
    # Three cycles after the reference one, 8 MiB kept by each.
    assert 20 * 2**20 <= leaky["memory"]["leak_bytes"] <= 30 * 2**20
    assert len(leaky["memory"]["rss_after_cycles"]) == 4


def test_loader_that_cannot_be_replayed_is_measured_in_process_and_says_so(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(peak_mb=256)
        def test_it(load_model):
            load_model(lambda: Model(payload=np.ones(2**20)), name="local")
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    memory = read_json(pytester)["models"][0]["memory"]
    assert memory["where"] == "in-process"
    assert "cannot be replayed" in memory["note"]
    result.stdout.fnmatch_lines(["* measured in the test process (a lower bound)*"])


def test_child_crash_fails_the_test_naming_the_model(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(peak_mb=100)
        def test_crash(load_model):
            load_model(crashes_in_child)

        def test_other():
            pass
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*crashes_in_child: the fresh process measuring memory exited with signal 9*"])


def test_child_timeout_fails_the_test_naming_the_model(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(peak_mb=100)
        def test_hang(load_model):
            load_model(hangs_in_child)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-timeout=2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hangs_in_child: the memory measurement in a fresh process did not finish in 2 s*"])


def test_model_is_loaded_once_per_session(pytester, suite):
    suite(
        """
        def test_first(load_model):
            assert isinstance(load_model(quick), Model)

        @pytest.mark.parametrize("n", range(3))
        def test_parametrized(load_model, n):
            load_model(quick)

        def test_same_object(load_model):
            assert load_model(quick) is load_model(quick)

        def test_count():
            # The first load before the rounds, then the two timed rounds.
            assert len(CALLS) == 3, CALLS
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=2", "--loadbudget-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=6)
    (record,) = read_json(pytester)["models"]
    assert len(record["load_ms"]["samples"]) == 2
    assert len(record["tests"]) == 5


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        ("msx=3", "*got an unexpected keyword argument 'msx'*accepted keywords: ms, mb, warm_ms*"),
        ("300", "*takes keyword arguments only*"),
        ("ms=-1", "*ms=-1 must be greater than 0*"),
        ("mb='big'", "*mb='big' must be a number*"),
        ("peak_mb=True", "*peak_mb=True must be a number*"),
        ("leak_mb=1, cycles=1", "*cycles=1 must be an integer of at least 2*"),
        ("rounds=0", "*rounds=0 must be an integer of at least 1*"),
    ],
)
def test_bad_marker_argument_is_an_error_of_that_test_only(pytester, suite, marker, problem):
    suite(
        f"""
        @pytest.mark.load_budget({marker})
        def test_bad(load_model):
            load_model(quick)

        def test_good(load_model):
            load_model(quick)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*invalid @pytest.mark.load_budget on test_suite.py::test_bad: {problem.lstrip('*')}"])


def test_budget_on_a_test_that_loads_nothing_fails(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=100)
        def test_it():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_suite.py::test_it has a budget but loaded no model through load_model*"])


def test_budget_on_a_class_applies_to_its_tests(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5)
        class TestSlow:
            def test_it(self, load_model):
                load_model(slow)
        """
    )
    pytester.runpytest("--loadbudget-rounds=1").assert_outcomes(failed=1)


def test_failing_test_keeps_its_own_error_and_gains_the_budget_section(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5)
        def test_it(load_model):
            load_model(slow)
            assert False, "the test's own failure"
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the test's own failure*", "*- loadbudget -*", "load_budget: slow load*"])


def test_an_error_while_judging_is_that_tests_error_and_the_run_goes_on(pytester, suite):
    # A broken budget check stands for any bug of the judging code: the test errs, never the session.
    pytester.makeconftest(
        """
        import pytest
        import pytest_loadbudget.budget.check as check_module

        @pytest.fixture(autouse=True)
        def broken_check(monkeypatch):
            def check(*args, **kwargs):
                raise RuntimeError("the budget check broke")
            monkeypatch.setattr(check_module, "check", check)
        """
    )
    suite(
        """
        @pytest.mark.load_budget(ms=5000)
        def test_judged(load_model):
            load_model(quick)

        def test_after_it():
            pass
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "-p", "no:randomly", "--durations=0", "-vv")
    result.assert_outcomes(failed=1, passed=1)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines([
        "*RuntimeError: the budget check broke",
        "*FAILED test_suite.py::test_judged - RuntimeError: the budget check broke*",
    ])
    # The judging ran in the test's call: --durations counts it there.
    result.stdout.fnmatch_lines(["*s call *test_suite.py::test_judged"])


def test_the_second_measurement_runs_in_the_tests_call(pytester, suite):
    # The gate's second measurement is timed as part of the call: a judging step that sleeps shows there.
    pytester.makeconftest(
        """
        import time
        import pytest
        import pytest_loadbudget.judge as judge_module

        @pytest.fixture(autouse=True)
        def slow_judging(monkeypatch):
            judge = judge_module.judge
            def slow(*args, **kwargs):
                time.sleep(0.6)
                return judge(*args, **kwargs)
            monkeypatch.setattr(judge_module, "judge", slow)
        """
    )
    suite(
        """
        @pytest.mark.load_budget(ms=5000)
        def test_judged(load_model):
            load_model(quick)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--durations=0", "-vv")
    result.assert_outcomes(passed=1)
    durations = [line.split() for line in result.stdout.lines if line.rstrip().endswith("test_suite.py::test_judged")]
    call = [float(words[0].rstrip("s")) for words in durations if len(words) >= 3 and words[1] == "call"]
    assert call and call[0] >= 0.6


def test_report_lists_every_model_once_with_its_budget_use(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5000)
        def test_a(load_model):
            load_model(quick)

        @pytest.mark.load_budget(ms=10000)
        def test_b(load_model):
            load_model(quick)

        def test_c(load_model):
            load_model(slow, name="unbudgeted")
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=2", "--loadbudget-report")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*= loadbudget report =*",
        "model*format*size*load*warm-up*peak*leak*budget",
        "quick*callable*-*ms (own *) [[]*..*[]] n=2 (0%)*ok",
        "unbudgeted*callable*no budget",
        "*(use -v to see the raw samples)",
    ])
    assert result.stdout.str().count("quick ") == 1


def test_verbose_report_shows_raw_samples(pytester, suite):
    suite(
        """
        def test_a(load_model):
            load_model(quick)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=3", "--loadbudget-report", "-v")
    result.stdout.fnmatch_lines(["quick load samples (ms): *, *, *"])


def test_no_report_unless_asked(pytester, suite):
    suite(
        """
        def test_a(load_model):
            load_model(quick)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.stdout.no_fnmatch_line("*loadbudget report*")


def test_json_holds_figures_samples_and_budgets(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=1, peak_mb=500)
        def test_a(load_model):
            load_model(slow, warmup=np.zeros(1))
        """
    )
    pytester.runpytest("--loadbudget-rounds=3", "--loadbudget-json=reports/out.json")
    document = read_json(pytester, "reports/out.json")
    assert document["version"] == 1
    assert document["machine"]["cpus"] >= 1
    (record,) = document["models"]
    assert record["format"] == "callable"
    assert len(record["load_ms"]["samples"]) == 3
    assert record["load_ms"]["min"] <= record["load_ms"]["median"] <= record["load_ms"]["max"]
    assert record["load_ms"]["median"] >= 30
    assert len(record["warm_ms"]["samples"]) == 3
    assert record["memory"]["cycles"] == 1
    (use,) = record["tests"]
    assert use["nodeid"] == "test_suite.py::test_a"
    assert use["budget"] == {"ms": 1, "peak_mb": 500}
    assert use["misses"][0].startswith("slow load")


def test_loading_error_is_reported_without_a_traceback(pytester, suite):
    suite(
        """
        def test_a(load_model):
            load_model("missing/model.keras")

        def test_b(load_model):
            load_model(quick)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ModelFileError: *missing*model.keras: does not exist*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_disable_loads_once_and_checks_nothing(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=0.0001, peak_mb=0.001)
        def test_a(load_model):
            load_model(quick)

        def test_count():
            assert len(CALLS) == 1

        def test_a_test_can_tell(load_model):
            assert not load_model.measuring
        """
    )
    pytester.runpytest("--loadbudget-disable", "-p", "no:randomly").assert_outcomes(passed=3)
    # Measuring, the same test can tell too.
    pytester.runpytest("-p", "no:randomly", "-k", "can_tell").assert_outcomes(failed=1)


def test_memory_all_measures_models_without_memory_budgets(pytester, suite):
    suite(
        """
        def counted(mib=16):
            # One line per load, naming the process: what ran where, counted from outside.
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "loads.txt"), "a") as out:
                out.write(f"{os.getpid()}\\n")
            return big(mib)

        def test_a(load_model):
            load_model(counted, mib=16)
        """
    )
    pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-memory=all", "--loadbudget-cycles=3",
                       "--loadbudget-json=out.json").assert_outcomes(passed=1)
    memory = read_json(pytester)["models"][0]["memory"]
    assert memory["cycles"] == 3
    assert memory["where"] == "fresh process"
    assert memory["peak_bytes"] >= 15 * 2**20
    # The recorded count is not proof: one RSS reading per cycle that ran ...
    assert len(memory["rss_after_cycles"]) == 3
    # ... and one load per cycle in the fresh process (the test process: first load + 1 round).
    loads = Counter((pytester.path / "loads.txt").read_text().split())
    assert loads.pop(str(os.getpid())) == 2
    assert list(loads.values()) == [3]


def test_junit_xml_carries_the_budget_failure(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5)
        def test_it(load_model):
            load_model(slow)
        """
    )
    pytester.runpytest("--loadbudget-rounds=1", "--junit-xml=junit.xml")
    xml = (pytester.path / "junit.xml").read_text()
    assert '<failure message="load_budget: slow load' in xml


def test_works_without_the_cache_provider_and_with_exitfirst(pytester, suite):
    suite(
        """
        @pytest.mark.load_budget(ms=5)
        def test_first(load_model):
            load_model(slow)

        def test_never_run():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-x", "--loadbudget-rounds=1",
                                "--loadbudget-report")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["slow*callable*MISS (1 test)"])


def test_xdist_workers_measure_and_the_controller_reports_each_model_once(pytester, suite):
    pytest.importorskip("xdist")
    suite(
        """
        @pytest.mark.parametrize("n", range(6))
        def test_quick(load_model, n):
            load_model(quick)

        @pytest.mark.parametrize("n", range(6))
        @pytest.mark.load_budget(ms=5)
        def test_slow(load_model, n):
            load_model(slow)
        """
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json"
    )
    result.assert_outcomes(passed=6, failed=6)
    models = read_json(pytester)["models"]
    assert sorted(m["name"] for m in models) == ["quick", "slow"]
    slow_record = next(m for m in models if m["name"] == "slow")
    assert len(slow_record["tests"]) == 6
    assert result.stdout.str().count("\nquick ") == 1
    result.stdout.fnmatch_lines(["slow*callable*MISS (6 tests)"])


def test_header_names_the_settings_and_the_machine(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--loadbudget-rounds=3", "--loadbudget-compare=v1")
    result.stdout.fnmatch_lines(["loadbudget: rounds 3, cycles 5, memory budget, compare v1; machine *-*cpu-*"])


def test_help_lists_the_options_and_markers_line(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines([
        "budgets on how ML models load (pytest-loadbudget):",
        "*--loadbudget-report*",
        "*--loadbudget-json=PATH*",
        "*--loadbudget-rounds=N*",
        "*loadbudget_rounds (string):*",
    ])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.load_budget(ms=None, mb=None, warm_ms=None, *): fail the test when*"])


def test_plugin_import_and_help_do_not_import_tensorflow(pytester):
    code = (
        "import sys, pytest\n"
        "pytest.main(['--help'])\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'tensorflowjs') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=pytester.path)
    assert "--loadbudget-report" in completed.stdout
    assert "HEAVY []" in completed.stdout


@pytest.mark.parametrize(
    ("ini", "env", "args", "expected_rounds"),
    [
        ("loadbudget_rounds = 4", None, [], 4),
        ("loadbudget_rounds = 4", "3", [], 3),
        ("loadbudget_rounds = 4", "3", ["--loadbudget-rounds=2"], 2),
        ("", None, [], None),
    ],
)
def test_settings_precedence_command_line_environment_ini(pytester, suite, monkeypatch, ini, env, args, expected_rounds):
    pytester.makeini(f"[pytest]\n{ini}\n")
    if env is not None:
        monkeypatch.setenv("LOADBUDGET_ROUNDS", env)
    suite(
        """
        def test_a(load_model):
            load_model(quick)
        """
    )
    pytester.runpytest(*args, "--loadbudget-json=out.json").assert_outcomes(passed=1)
    samples = read_json(pytester)["models"][0]["load_ms"]["samples"]
    if expected_rounds is None:
        assert len(samples) >= 5  # adaptive: at least 5
    else:
        assert len(samples) == expected_rounds


@pytest.mark.parametrize(
    ("ini_line", "check"),
    [
        ("loadbudget_report = true", "report"),
        ("loadbudget_json = from-ini.json", "json"),
        ("loadbudget_rounds = 2", "rounds"),
        ("loadbudget_cycles = 3", "cycles"),
        ("loadbudget_memory = all", "memory"),
        ("loadbudget_timeout = 1", "timeout"),
        ("loadbudget_disable = true", "disable"),
    ],
)
def test_every_ini_key_is_read(pytester, suite, monkeypatch, ini_line, check):
    if check == "timeout":
        monkeypatch.setenv("HANG", "1")
    pytester.makeini(f"[pytest]\n{ini_line}\n")
    suite(
        """
        @pytest.mark.load_budget(ms=5)
        def test_a(load_model):
            if "HANG" in os.environ:
                load_model(hangs_in_child)
            else:
                load_model(big, mib=1)
        """
    )
    extra = [] if check == "json" else ["--loadbudget-json=out.json"]
    result = pytester.runpytest(*extra)
    if check == "report":
        result.stdout.fnmatch_lines(["*= loadbudget report =*"])
    elif check == "json":
        assert (pytester.path / "from-ini.json").exists()
    elif check == "rounds":
        assert len(read_json(pytester)["models"][0]["load_ms"]["samples"]) == 2
    elif check == "cycles":
        # cycles apply where memory is measured: together with memory=all
        pytester.makeini(f"[pytest]\n{ini_line}\nloadbudget_memory = all\n")
        pytester.runpytest("--loadbudget-json=out.json")
        memory = read_json(pytester)["models"][0]["memory"]
        assert memory["cycles"] == 3
        assert len(memory["rss_after_cycles"]) == 3, "the cycles that ran"
    elif check == "memory":
        # ms=5 alone asks for no memory figure: only memory=all measures it, with the default 5 cycles.
        memory = read_json(pytester)["models"][0]["memory"]
        assert memory is not None, "loadbudget_memory = all was not applied"
        assert memory["where"] == "fresh process"
        assert memory["peak_bytes"] is not None
        assert len(memory["rss_after_cycles"]) == 5
    elif check == "timeout":
        pytester.makeini(f"[pytest]\n{ini_line}\nloadbudget_memory = all\n")
        result = pytester.runpytest("--loadbudget-json=out.json")
        result.stdout.fnmatch_lines(["*hangs_in_child: the memory measurement in a fresh process did not finish in 1 s*"])
    elif check == "disable":
        # Whether the 5 ms budget holds says nothing (a 1 MiB load usually fits it):
        # disabled, nothing is timed or checked, and the header says so.
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["loadbudget: disabled: models load once, nothing is measured; machine *"])
        (record,) = read_json(pytester)["models"]
        assert record["load_ms"]["samples"] == [] and record["warm_ms"]["samples"] == []


@pytest.mark.parametrize(
    ("source", "setting", "value", "message"),
    [
        ("ini", "loadbudget_rounds", "many", "*invalid value for ini key loadbudget_rounds: 'many' is not an integer*"),
        ("env", "LOADBUDGET_CYCLES", "1", "*invalid value for environment variable LOADBUDGET_CYCLES: *at least 2 cycles*"),
        ("ini", "loadbudget_memory", "some", "*loadbudget_memory: 'some': choose one of budget, all*"),
        ("cli", "--loadbudget-timeout", "-3", "*--loadbudget-timeout: '-3' must be greater than 0*"),
    ],
)
def test_bad_setting_is_a_usage_error_naming_where_it_came_from(pytester, monkeypatch, source, setting, value, message):
    pytester.makepyfile("def test_a(): pass")
    args: list[str] = []
    if source == "ini":
        pytester.makeini(f"[pytest]\n{setting} = {value}\n")
    elif source == "env":
        monkeypatch.setenv(setting, value)
    else:
        args = [f"{setting}={value}"]
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
