"""Where CI users look: the job's step summary, github-action-benchmark's JSON, and the live line of long steps."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.measure import progress
from pytest_loadbudget.report.github import github_benchmarks
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB

SUITE = textwrap.dedent(
    """
    import pytest

    class Model:
        def __call__(self, x):
            return x

    def tokenizer():
        return Model()

    def encoder():
        return Model()

    def test_tokenizer(load_model):
        load_model(tokenizer, files=["vocab.bin"])

    def test_encoder(load_model):
        load_model(encoder)
    """
)

#: Every figure a model without TensorFlow can have: timed rounds, size, memory in a fresh process, cold starts.
#: Its 4 MiB of weights make a peak that no other figure equals.
MEASURED_SUITE = textwrap.dedent(
    """
    import pytest

    class Model:
        def __init__(self):
            self.weights = b"w" * (4 << 20)

        def __call__(self, x):
            return x

    def tokenizer():
        return Model()

    @pytest.mark.load_budget(peak_mb=1000, leak_mb=1000, cycles=3, cold_ms=600000, cold_runs=2)
    def test_tokenizer(load_model):
        load_model(tokenizer, files=["vocab.bin"], warmup=1.0)
    """
)

HEADING = "## Model load budgets"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "vocab.bin").write_bytes(b"x" * 300_000)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--loadbudget-rounds=3", *args)


# --- $GITHUB_STEP_SUMMARY


def test_the_report_is_appended_to_the_step_summary_without_an_option(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = suite.path / "summary.md"
    summary.write_text("## An earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(suite).assert_outcomes(passed=2)
    run(suite).assert_outcomes(passed=2)
    text = summary.read_text()
    # Appended after what earlier steps wrote, once per run: never replaced.
    assert text.startswith("## An earlier step\n\n" + HEADING + "\n")
    assert text.count(HEADING) == 2
    lines = text.splitlines()
    assert any(line.startswith("| model | format | runtime |") for line in lines)
    assert sum(line.startswith("| tokenizer | callable | python | cpu | 0.286 MiB |") for line in lines) == 2
    assert sum(line.startswith("| encoder | callable |") for line in lines) == 2


@pytest.mark.parametrize("how", ["flag", "ini", "environment"])
def test_the_step_summary_can_be_turned_off(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    summary = suite.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    args = []
    if how == "flag":
        args.append("--loadbudget-no-step-summary")
    elif how == "ini":
        suite.makeini("[pytest]\nloadbudget_step_summary = false\n")
    else:
        monkeypatch.setenv("LOADBUDGET_STEP_SUMMARY", "false")
    run(suite, "--loadbudget-json=out.json", *args).assert_outcomes(passed=2)
    assert (suite.path / "out.json").exists()  # the run reported: only the summary is off
    assert not summary.exists()


def test_a_run_that_measured_nothing_adds_nothing_to_the_step_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    run(pytester).assert_outcomes(passed=1)
    assert not summary.exists()


def test_an_unwritable_step_summary_is_a_warning_naming_it_and_the_baseline_is_saved(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (suite.path / "a-file").write_text("not a directory")
    summary = suite.path / "a-file" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(suite, "--loadbudget-save=kept", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "loadbudget: saved this run's figures of 2 model(s) to *0001_kept.json",
        f"loadbudget: could not write {summary} ($GITHUB_STEP_SUMMARY): *",
    ])
    assert [path.name for path in (suite.path / ".loadbudget").glob("*/*.json")] == ["0001_kept.json"]
    assert (suite.path / "out.json").exists()


def test_under_xdist_only_the_controller_appends(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    summary = suite.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(suite, "-n", "2").assert_outcomes(passed=2)
    text = summary.read_text()
    assert text.count(HEADING) == 1
    # Both workers' models, in the controller's one table.
    assert "| tokenizer | callable |" in text and "| encoder | callable |" in text


# --- --loadbudget-github-json


def entries_by_name(path: Path) -> dict[str, dict[str, Any]]:
    entries = json.loads(path.read_text())
    assert isinstance(entries, list)
    by_name = {entry["name"]: entry for entry in entries}
    assert len(by_name) == len(entries), "names must be unique: the action charts one series per name"
    return by_name


def check_schema(entry: dict[str, Any]) -> None:
    """github-action-benchmark's customSmallerIsBetter: name, unit, a number; range and extra optional strings."""
    assert set(entry) <= {"name", "unit", "value", "range", "extra"} and {"name", "unit", "value"} <= set(entry)
    assert isinstance(entry["name"], str) and entry["unit"] in ("ms", "MiB", "tensors")
    assert isinstance(entry["value"], (int, float)) and not isinstance(entry["value"], bool)
    assert all(isinstance(entry[key], str) for key in ("range", "extra") if key in entry)


def median(summary: dict[str, Any]) -> float:
    return float(summary["median"])


def test_github_json_has_every_figure_of_the_json_report(pytester: pytest.Pytester) -> None:
    (pytester.path / "vocab.bin").write_bytes(b"x" * 300_000)
    pytester.makepyfile(test_suite=MEASURED_SUITE)
    result = run(pytester, "--loadbudget-json=out.json", "--loadbudget-github-json=github.json")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    entries = entries_by_name(pytester.path / "github.json")
    for entry in entries.values():
        check_schema(entry)
    clock = "own" if record["load_own_ms"]["samples"] else "wall"
    load = record["load_own_ms"] if clock == "own" else record["load_ms"]
    warm = record["warm_own_ms"] if clock == "own" else record["warm_ms"]
    cold = record["cold"]
    cold_clock = "own" if "total" in cold["own_phases_ms"] else "wall"
    cold_phases = cold["own_phases_ms"] if cold_clock == "own" else cold["phases_ms"]
    expected = {
        f"tokenizer load ({clock})": ("ms", median(load)),
        f"tokenizer warm-up ({clock})": ("ms", median(warm)),
        "tokenizer first load": ("ms", record["first_load_ms"]),
        "tokenizer size": ("MiB", record["size_bytes"] / MIB),
        "tokenizer peak": ("MiB", record["memory"]["peak_bytes"] / MIB),
        "tokenizer leak": ("MiB", record["memory"]["leak_bytes"] / MIB),
        f"tokenizer cold start ({cold_clock})": ("ms", median(cold_phases["total"])),
        f"tokenizer cold start-up ({cold_clock})": ("ms", median(cold_phases["startup"])),
        f"tokenizer cold import ({cold_clock})": ("ms", median(cold_phases["import"])),
        f"tokenizer cold read ({cold_clock})": ("ms", median(cold_phases["read"])),
        f"tokenizer cold load ({cold_clock})": ("ms", median(cold_phases["load"])),
        f"tokenizer cold first call ({cold_clock})": ("ms", median(cold_phases["first_call"])),
        "tokenizer cold peak": ("MiB", sorted(run["peak_bytes"] for run in cold["runs"])[0] / MIB),
    }
    assert set(entries) == set(expected)
    assert entries["tokenizer peak"]["value"] > 3, "the 4 MiB of weights, or the figures could not be told apart"
    for name, (unit, value) in expected.items():
        assert entries[name]["unit"] == unit, name
        if name != "tokenizer cold peak":
            assert entries[name]["value"] == pytest.approx(value, abs=1e-3), name
    # Two fresh processes: their median, the mean of the two peaks.
    peaks = [run["peak_bytes"] for run in cold["runs"]]
    assert entries["tokenizer cold peak"] == {
        "name": "tokenizer cold peak", "unit": "MiB", "value": round(round(sum(peaks) / 2) / MIB, 4),
        "extra": "median of 2 fresh processes",
    }
    # Three timed rounds: their spread (half the interquartile range) and their span go with the median.
    for name, summary in ((f"tokenizer load ({clock})", load), (f"tokenizer warm-up ({clock})", warm)):
        assert entries[name]["range"] == f"± {(summary['q3'] - summary['q1']) / 2:.3f}", name
        assert entries[name]["extra"] == (f"median of 3 rounds, min {summary['min']:.3f} ms, "
                                          f"max {summary['max']:.3f} ms"), name


def test_github_json_judges_the_clock_asked_for(suite: pytest.Pytester) -> None:
    run(suite, "--loadbudget-github-json=github.json", "--loadbudget-json=out.json",
        "--loadbudget-clock=wall").assert_outcomes(passed=2)
    entries = entries_by_name(suite.path / "github.json")
    assert {"tokenizer load (wall)", "tokenizer first load", "tokenizer size", "encoder load (wall)"} <= set(entries)
    assert not any("(own)" in name for name in entries)
    # The wall time's median, not the own time's under the wall time's name.
    for model in json.loads((suite.path / "out.json").read_text())["models"]:
        assert entries[f"{model['name']} load (wall)"]["value"] == pytest.approx(median(model["load_ms"]), abs=1e-3)


def test_github_json_range_is_half_the_interquartile_range() -> None:
    rounds = [10.0, 20.0, 30.0, 40.0, 50.0]  # quartiles 20 and 40 (inclusive method): an IQR of 20 ms
    record = ModelRecord(key="k", name="model.keras", format="keras", identity="keras:model.keras",
                         load_ms=Samples([value + 5 for value in rounds]), load_own_ms=Samples(rounds))
    (load,) = github_benchmarks([record], clock="own")
    assert load == {"name": "model.keras load (own)", "unit": "ms", "value": 30.0, "range": "± 10.000",
                    "extra": "median of 5 rounds, min 10.000 ms, max 50.000 ms"}
    (wall,) = github_benchmarks([record], clock="wall")
    assert (wall["name"], wall["value"], wall["range"]) == ("model.keras load (wall)", 35.0, "± 10.000")


def test_github_json_names_the_gpu_a_python_model_ran_on_without_its_driver() -> None:
    def on(device: str) -> ModelRecord:
        return ModelRecord(key=f"k-{device}", name="model.keras", format="keras", device=device,
                           identity=f"keras:model.keras@{device.split(' (driver')[0]}",
                           load_own_ms=Samples([12.0, 10.0, 11.0]), size_bytes=2 * MIB, files=1)

    records = [on("cpu"), on("gpu: NVIDIA H100 80GB HBM3 (driver 550.54.15)"), on("gpu")]
    entries = {entry["name"]: entry["value"] for entry in github_benchmarks(records, clock="own")}
    # One chart per device; a driver upgrade keeps the GPU's chart.
    assert entries == {
        "model.keras load (own)": 11.0, "model.keras size": 2.0,
        "model.keras [gpu: NVIDIA H100 80GB HBM3] load (own)": 11.0, "model.keras [gpu: NVIDIA H100 80GB HBM3] size": 2.0,
        "model.keras [gpu] load (own)": 11.0, "model.keras [gpu] size": 2.0,
    }


def test_github_json_names_tfjs_figures_and_tells_models_of_one_name_apart() -> None:
    browser = ModelRecord(
        key="k1", name="web/model.json", format="tfjs-graph", runtime="browser webgl cache", identity="id-browser",
        load_ms=Samples([40.0, 20.0, 22.0]), warm_ms=Samples([90.0, 30.0, 31.0]),
        runtime_figures={"first_load_ms": 40.0, "reload_ms": [20.0, 22.0], "cached_load_ms": 21.0,
                         "startup_ms": 800.0, "predict_ms": [3.0, 5.0, 4.0], "leak_tensors": 2,
                         "gpu_bytes": 3 * MIB, "memory": {"after_load": {"numTensors": 12, "numBytes": 2 * MIB}}},
    )
    same_name = [ModelRecord(key=f"k{n}", name="model.keras", format="keras", identity=f"keras:{folder}/model.keras",
                             size_bytes=MIB) for n, folder in ((2, "a"), (3, "b"))]
    entries = {entry["name"]: entry for entry in github_benchmarks([browser, *same_name], clock="own")}
    for entry in entries.values():
        check_schema(entry)
    tfjs = "web/model.json [browser webgl cache]"
    # The browser has no own time: its rounds are wall time, and the name says so.
    assert entries[f"{tfjs} load (wall)"]["value"] == 22.0
    assert entries[f"{tfjs} first load"]["value"] == 40.0
    assert entries[f"{tfjs} cached load"]["value"] == 21.0
    assert entries[f"{tfjs} runtime start-up"]["value"] == 800.0
    assert entries[f"{tfjs} predict"]["value"] == 4.0
    assert entries[f"{tfjs} leaked tensors"] == {"name": f"{tfjs} leaked tensors", "unit": "tensors", "value": 2}
    assert entries[f"{tfjs} tensors after load"]["value"] == 12
    assert entries[f"{tfjs} GPU memory"]["value"] == 3.0
    assert entries[f"{tfjs} TF.js memory after load"]["value"] == 2.0
    assert {"model.keras (keras:a/model.keras) size", "model.keras (keras:b/model.keras) size"} <= set(entries)


# --- the live line of long measurements


class FakeWriter:
    """pytest's TerminalWriter as the live line sees it: a terminal 60 columns wide."""

    def __init__(self, current_line_width: int) -> None:
        self.fullwidth = 60
        self.width_of_current_line = current_line_width
        self.raw: list[str] = []

    def write_raw(self, msg: str, *, flush: bool = False) -> None:
        self.raw.append(msg)


def test_the_live_line_is_drawn_below_the_test_line_and_erased_back_to_it() -> None:
    writer = FakeWriter(current_line_width=17)  # "test_models.py .."
    line = progress.LiveLine(writer, show_after=0, clock=lambda: 7.4)
    with line.step("mobilenetv2.h5", "cold start", 2, 3):
        assert writer.raw == ["\nloadbudget: mobilenetv2.h5: cold start 2 of 3, 0 s" + progress.CLEAR_TO_END]
    # The row cleared, the cursor back at the end of the test's line: pytest's own count still holds.
    assert writer.raw[-1] == "\r" + progress.CLEAR_TO_END + progress.UP + "\x1b[17C"
    assert len(writer.raw) == 2


def test_the_live_line_redraws_the_elapsed_time_and_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "REFRESH_S", 0.001)
    writer = FakeWriter(current_line_width=0)
    readings = [0.0, 3.2, 4.6]  # the start, then each drawing; the last one again from then on

    def clock() -> float:
        return readings.pop(0) if len(readings) > 1 else readings[0]

    line = progress.LiveLine(writer, show_after=0.001, clock=clock)
    with line.step("model.keras", "memory"):
        for _ in range(3000):  # at most 30 s on a machine this busy
            if len(writer.raw) >= 2:
                break
            time.sleep(0.01)
    drawn = writer.raw[:2]
    # On an empty line it draws on the line itself, and then over itself.
    assert drawn == [
        "\rloadbudget: model.keras: memory, 3 s" + progress.CLEAR_TO_END,
        "\rloadbudget: model.keras: memory, 5 s" + progress.CLEAR_TO_END,
    ]
    assert writer.raw[-1] == "\r" + progress.CLEAR_TO_END


def test_the_live_line_is_cut_one_column_short_of_the_terminal() -> None:
    writer = FakeWriter(current_line_width=0)
    line = progress.LiveLine(writer, show_after=0, clock=lambda: 0.0)
    with line.step("a-model-with-a-very-long-name-indeed.keras", "memory in a fresh process"):
        pass
    # A line that wraps could not be rewritten with \r.
    assert writer.raw[0] == "\r" + "loadbudget: a-model-with-a-very-long-name-indeed.keras: mem" + progress.CLEAR_TO_END
    assert len("loadbudget: a-model-with-a-very-long-name-indeed.keras: mem") == writer.fullwidth - 1


def test_a_short_step_draws_nothing_and_off_costs_nothing() -> None:
    writer = FakeWriter(current_line_width=5)
    line = progress.LiveLine(writer, show_after=60)
    with line.step("model.keras", "cold start", 1, 3):
        pass
    assert writer.raw == []
    previous = progress.install(None)
    try:
        assert progress.live_step("model.keras", "cold start") is progress.NO_STEP
    finally:
        progress.install(previous)


#: The terminal reporter told it writes to a terminal, as on a developer's machine.
AS_ON_A_TERMINAL = textwrap.dedent(
    """
    import pytest

    class Yes:
        # As pytest's own: read as a bool, or called.
        def __bool__(self):
            return True

        def __call__(self):
            return True

    @pytest.hookimpl(trylast=True)
    def pytest_configure(config):
        config.pluginmanager.get_plugin("terminalreporter").isatty = Yes()
    """
)

SLOW_SUITE = textwrap.dedent(
    """
    import pytest

    class Model:
        def __call__(self, x):
            return x

    def tokenizer():
        return Model()

    @pytest.mark.load_budget(peak_mb=1000, cold_ms=600000, cold_runs=2)
    def test_tokenizer(load_model):
        load_model(tokenizer, warmup=1.0)
    """
)


@pytest.fixture
def slow_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Every step counts as long: the line shows at once, whatever this machine's speed.
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    pytester.makepyfile(test_suite=SLOW_SUITE)
    return pytester


def test_long_measurements_show_a_live_line_on_a_terminal(slow_suite: pytest.Pytester) -> None:
    slow_suite.makeconftest(AS_ON_A_TERMINAL)
    result = run(slow_suite)
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    for shown in ("loadbudget: tokenizer: memory in a fresh process (1 load/release cycle), 0 s",
                  "loadbudget: tokenizer: cold start 1 of 2, 0 s", "loadbudget: tokenizer: cold start 2 of 2, 0 s"):
        # Below "test_suite.py ", erased, and the cursor back after its 14 columns (pytester reads \r as a new line).
        erased = progress.CLEAR_TO_END + progress.UP + "\x1b[14C"
        assert "\n" + shown + progress.CLEAR_TO_END + "\n" + erased in output, shown
    assert "test_suite.py \nloadbudget: tokenizer: memory" in output


@pytest.mark.parametrize("why", ["-q", "no terminal"])
def test_no_live_line_under_q_or_without_a_terminal(slow_suite: pytest.Pytester, why: str) -> None:
    if why == "-q":
        slow_suite.makeconftest(AS_ON_A_TERMINAL)
    result = run(slow_suite, *(["-q"] if why == "-q" else []))
    result.assert_outcomes(passed=1)
    assert "loadbudget: tokenizer:" not in result.stdout.str()
    assert progress.CLEAR_TO_END not in result.stdout.str()
