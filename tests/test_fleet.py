"""Fleet start: N fresh processes doing the same cold start at one moment, against a single one.

The plugin's tests run a tiny .tflite model (built here) through the marker;
the barrier and failure tests call ``measure_fleet`` with loaders defined in
modules written at test time (a fresh process imports them by name); the gate,
report and diagnosis tests use hand-built profiles. No test asserts a time:
only how the figures relate to each other.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import models
from pytest_loadbudget.baseline.compare import compare
from pytest_loadbudget.budget.check import check
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.budget.thresholds import parse_compare_fail
from pytest_loadbudget.diagnose.figures import Figures
from pytest_loadbudget.diagnose.rules import diagnose
from pytest_loadbudget.errors import MarkerError, MeasurementError
from pytest_loadbudget.fresh import fleet as fleet_module
from pytest_loadbudget.fresh.cold import measure_cold
from pytest_loadbudget.fresh.fleet import measure_fleet
from pytest_loadbudget.measure.page_cache import MEMORY_FILESYSTEMS, filesystem_type
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun, PageCache
from pytest_loadbudget.results.fleet_profile import FleetProfile
from pytest_loadbudget.results.phases import PHASE_LABELS, PHASES
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.session import model_cache

#: Seconds the loader module of the barrier test sleeps when imported: its children's import phase.
IMPORT_S = 1.0
#: Seconds between the start-ups of that test's children, so that without a barrier they would start apart.
STAGGER_S = 0.8


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A .tflite model of a few KiB: its fresh processes import only a TFLite interpreter."""
    models.quiet_tf()
    pytest.importorskip("tensorflow")
    import keras

    from pytest_loadbudget.export import export_formats

    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(4)(keras.layers.Dense(16, activation="relu")(inputs))
    paths = export_formats(keras.Model(inputs, outputs), tmp_path_factory.mktemp("fleet_model"), stem="tiny",
                           formats=("tflite",))
    return paths["tflite"]


def test_fleet_figures_are_recorded_reported_and_a_tight_budget_fails(
    pytester: pytest.Pytester, tiny_tflite: Path,
) -> None:
    pytester.makepyfile(test_suite=f"""
        import pytest

        @pytest.mark.load_budget(fleet=2, fleet_ms=600000, cold_runs=1)
        def test_fleet_within(load_model):
            load_model({str(tiny_tflite)!r})

        @pytest.mark.load_budget(fleet=2, fleet_ms=0.001, cold_runs=1)
        def test_fleet_over(load_model):
            load_model({str(tiny_tflite)!r})
        """)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "--loadbudget-markdown=out.md",
                                "--loadbudget-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    fleet = record["fleet"]
    runs = fleet["fleet"]["runs"]
    assert fleet["size"] == len(runs) == 2 and fleet["evict"] is False
    starts = sorted(sum(run[f"{phase}_ms"] for phase in PHASES) for run in runs)
    assert fleet["median_ms"] == pytest.approx(sum(starts) / 2)
    assert fleet["slowest_ms"] == pytest.approx(starts[-1])
    assert starts[0] <= fleet["p95_ms"] <= starts[-1]
    # The single cold start is the session's own cold figure, measured the same way.
    assert fleet["single"]["runs"] == record["cold"]["runs"]
    assert fleet["slowdown"] == pytest.approx(fleet["median_ms"] / fleet["single_ms"])
    assert set(fleet["phases"]) == set(PHASES)
    grown = max(fleet["phases"], key=lambda phase: fleet["phases"][phase]["growth_ms"])
    assert fleet["grown_phase"] == grown
    assert fleet["bottleneck"] == ("storage" if grown == "read" else "cpu")
    # Neither steady calls nor reloads: they would load the machine while a sibling still starts.
    assert all(run["steady_ms"] == [] and run["reload_ms"] == [] for run in runs)
    label = PHASE_LABELS[grown]
    result.stdout.fnmatch_lines([
        f"*load_budget: tiny.tflite fleet start p95 * ms wall time > budget 0.001 ms (2 processes at once: median * ms, "
        f"p95 * ms, slowest * ms; *x a single cold start (* ms); grew most: {label} +* ms*: * is the bottleneck)",
    ])
    result.stdout.fnmatch_lines([
        "tiny.tflite fleet of 2 cold starts at once: median * ms, p95 * ms, slowest * ms; *x a single cold start (* ms); "
        f"grew most: {label} +*",
        "    per phase, alone -> in the fleet (ms): start-up * -> *, import * -> *, read * -> *, load * -> *, "
        "first call * -> *",
    ])
    assert "### Fleet starts\n\n- tiny.tflite fleet of 2 cold starts at once: median" in (pytester.path / "out.md").read_text()


@pytest.fixture
def staggered_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LoadRequest:
    """A loader whose module takes IMPORT_S to import, in processes whose start-ups are STAGGER_S apart.

    The stagger comes from a ``sitecustomize`` that every fresh Python runs
    before its ``main()``: the nth process to start sleeps n * STAGGER_S.
    """
    code = tmp_path / "code"
    code.mkdir()
    (code / "slow_import.py").write_text(textwrap.dedent(f"""
        import time
        time.sleep({IMPORT_S})

        def model():
            return lambda x: x
        """))
    (code / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import os, time
        counter = os.environ.get("FLEET_TEST_STAGGER")
        if counter:
            arrived = len(os.listdir(counter))
            open(os.path.join(counter, str(os.getpid())), "w").close()
            time.sleep(arrived * {STAGGER_S})
        """))
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")])))
    import slow_import

    return LoadRequest(format_name="callable", loader=slow_import.model, name="slow_import", warmup=1.0)


def test_the_barrier_starts_every_process_together(
    staggered_loader: LoadRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    single = measure_cold(staggered_loader, 1, graph=False)
    counter = tmp_path / "started"
    counter.mkdir()
    monkeypatch.setenv("FLEET_TEST_STAGGER", str(counter))
    profile = measure_fleet(staggered_loader, 3, single=single, timeout=120)
    assert len(list(counter.iterdir())) == 3  # the stagger ran: the start-ups were STAGGER_S apart
    startups = sorted(run.startup_ms for run in profile.fleet.runs)
    assert startups[-1] - startups[0] > STAGGER_S * 1e3
    # Released together: the window of their starts is far below any one's import, and below
    # the stagger of their start-ups, which it would follow without the barrier.
    window = max(profile.start_offsets_ms)
    assert len(profile.start_offsets_ms) == 3 and min(profile.start_offsets_ms) == 0
    assert window < min(run.import_ms for run in profile.fleet.runs)
    assert window < (startups[-1] - startups[0]) / 2
    # The wait at the barrier is no phase's: the phases still add up to the wall time.
    for run in profile.fleet.runs:
        assert run.import_ms >= IMPORT_S * 1e3
        assert abs(run.unaccounted_ms) < max(50.0, 0.05 * run.wall_ms)


def test_a_failing_process_is_reported_with_the_model_and_its_error(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_loader.py").write_text(textwrap.dedent("""
        def corrupt():
            raise ValueError("weights file is corrupt")
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import broken_loader

    request = LoadRequest(format_name="callable", loader=broken_loader.corrupt, name="corrupt", warmup=1.0)
    single = _profile("corrupt", [_run(import_ms=10.0)])
    with pytest.raises(MeasurementError) as raised:
        measure_fleet(request, 2, single=single, timeout=120)
    assert str(raised.value).startswith(
        "corrupt: in a fresh process: ValueError: weights file is corrupt (process 1 of a fleet of 2 started at once)")


@pytest.mark.parametrize("value", [0, True, 65, 2.5, "4"])
def test_a_bad_fleet_size_names_the_keyword(value: Any) -> None:
    with pytest.raises(MarkerError, match=rf"^fleet={value!r} must be an integer from 1 to 64 \(processes"):
        Budget(fleet=value)


@pytest.mark.parametrize(("value", "problem"), [(0, "must be greater than 0"), (True, "must be a number")])
def test_a_bad_fleet_budget_names_the_keyword(value: Any, problem: str) -> None:
    with pytest.raises(MarkerError, match=rf"^fleet_ms={value!r} {problem}$"):
        Budget(fleet_ms=value)


def test_a_bad_fleet_is_an_error_of_that_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.load_budget(fleet=0)
        def test_x(load_model):
            pass
        """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*invalid @pytest.mark.load_budget on *test_x: fleet=0 must be an integer from 1 to 64*"])


def test_measure_fleet_refuses_a_size_out_of_range() -> None:
    request = LoadRequest(format_name="callable", loader=dict, name="d")
    for size in (0, 65, True):
        with pytest.raises(ValueError, match="a fleet is 1 to 64 processes"):
            measure_fleet(request, size)


def test_fleet_ms_alone_asks_for_a_fleet_and_its_single_cold_start() -> None:
    assert Budget(fleet_ms=100).fleet_size == 4 and Budget(fleet_ms=100).needs_cold
    assert Budget(fleet=8).fleet_size == 8 and Budget().fleet_size is None and not Budget().needs_cold


# --- hand-built profiles: the gate, the verdict and the words


def _run(**phases: float) -> ColdRun:
    values = {"startup_ms": 10.0, "import_ms": 100.0, "read_ms": 1.0, "load_ms": 20.0, "first_call_ms": 5.0,
              **{f"{name}": value for name, value in phases.items()}}
    return ColdRun(**values, steady_ms=[], reload_ms=[], wall_ms=sum(values.values()), harness_ms=0.0,
                   read_bytes=0, peak_bytes=None, import_rss_bytes=None)


def _profile(name: str, runs: list[ColdRun], evict: bool = False) -> ColdProfile:
    return ColdProfile(name=name, format="tflite", size_bytes=1000, files=1, evict=evict, runs=runs)


def _fleet(runs: list[ColdRun], evict: bool = False) -> FleetProfile:
    single = _profile("m", [_run(), _run(import_ms=110.0)], evict)
    return FleetProfile(fleet=_profile("m", runs, evict), single=single, start_offsets_ms=[0.0] * len(runs))


def _record(fleet: FleetProfile | None) -> ModelRecord:
    return ModelRecord(key="k", name="m", format="tflite", fleet=fleet)


def test_the_gate_judges_the_fleet_by_the_few_runs_rule() -> None:
    thresholds = parse_compare_fail("fleet_ms:20%")
    old = _record(_fleet([_run(import_ms=300.0), _run(import_ms=320.0)]))

    def judged(new: FleetProfile) -> Any:
        (comparison,) = [c for c in compare(old, _record(new), thresholds) if c.figure == "fleet_ms"]
        return comparison

    slower = judged(_fleet([_run(import_ms=500.0), _run(import_ms=520.0)]))
    assert slower.regression and slower.note == ""
    assert slower.line == "m fleet start 546 ms vs baseline 346 ms (+58%, runs 2/2, wall time)"
    # The median grew past 20%, but one new process was as fast as the baseline's: noise.
    overlapping = judged(_fleet([_run(import_ms=300.0), _run(import_ms=900.0)]))
    assert overlapping.grown and not overlapping.regression
    assert overlapping.note == "the fastest new run is within the baseline's runs: noise"
    # Another fleet size, or another page cache, is another figure: not compared.
    bigger = _record(_fleet([_run(import_ms=900.0)] * 3))
    assert not [c for c in compare(old, bigger, thresholds) if c.figure == "fleet_ms"]
    evicted = _record(_fleet([_run(import_ms=900.0)] * 2, evict=True))
    assert not [c for c in compare(old, evicted, thresholds) if c.figure == "fleet_ms"]


def test_the_fleet_travels_in_json_and_old_records_still_load() -> None:
    record = _record(_fleet([_run(import_ms=300.0), _run(read_ms=50.0)]))
    again = ModelRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.fleet is not None and again.fleet.to_dict() == record.fleet.to_dict()  # type: ignore[union-attr]
    data = record.to_dict()
    del data["fleet"]
    assert ModelRecord.from_dict(data).fleet is None


def test_the_phase_that_grew_names_the_bottleneck() -> None:
    cpu = _fleet([_run(import_ms=400.0), _run(import_ms=420.0)])
    assert cpu.grown_phase.phase == "import" and cpu.bottleneck == "cpu"
    assert cpu.slowdown == pytest.approx((10 + 410 + 1 + 20 + 5) / (10 + 105 + 1 + 20 + 5))
    storage = _fleet([_run(read_ms=300.0), _run(read_ms=340.0)], evict=True)
    assert storage.grown_phase.phase == "read" and storage.bottleneck == "storage"
    (item,) = [advice for advice in diagnose(Figures(name="m", format="tflite", fleet=storage)) if advice.kind == "fleet"]
    assert item.title == "2 processes started at once: storage is the bottleneck"
    assert item.numbers == (
        "fleet of 2 cold starts at once, page cache evicted: median 455 ms, p95 473 ms, slowest 475 ms; 3.2x a single "
        "cold start (141 ms); per phase, alone -> in the fleet (ms): start-up 10.0 -> 10.0, import 105 -> 100, "
        "read 1.00 -> 320, load 20.0 -> 20.0, first call 5.00 -> 5.00; grew most: read +319 ms: storage is the "
        "bottleneck")
    # The fix follows the bottleneck: storage's is not the cores'.
    (busy,) = [advice for advice in diagnose(Figures(name="m", format="tflite", fleet=cpu)) if advice.kind == "fleet"]
    assert busy.title == "2 processes started at once: CPU is the bottleneck"
    assert item.fix.startswith("Storage is the limit: every process reads the same artifact at once.")
    assert busy.fix.startswith("The cores are the limit: the processes import and load on fewer cores")
    # A fleet no slower than one start alone says nothing.
    calm = _fleet([_run(), _run(import_ms=110.0)])
    assert not [advice for advice in diagnose(Figures(name="m", format="tflite", fleet=calm)) if advice.kind == "fleet"]


def test_the_fleet_budget_judges_the_95th_percentile_not_the_median_nor_the_slowest() -> None:
    # Eight starts of 136 ms, one of 336 ms, one of 536 ms: median 136, p95 interpolated 336 + 0.55 * 200 = 446.
    starts = _fleet([_run()] * 8 + [_run(import_ms=300.0), _run(import_ms=500.0)])
    assert (starts.median_ms, starts.p95_ms, starts.slowest_ms) == (136.0, pytest.approx(446.0), 536.0)
    record = _record(starts)
    # Between the median and the p95: a miss, which names the p95 it judged.
    (miss,) = check(Budget(fleet=10, fleet_ms=400), record)
    assert miss.figure == "fleet_ms"
    assert miss.line.startswith("m fleet start p95 446 ms wall time > budget 400 ms (10 processes at once: "
                                "median 136 ms, p95 446 ms, slowest 536 ms; ")
    # Between the p95 and the slowest start: within the budget.
    assert check(Budget(fleet=10, fleet_ms=460), record) == []


def test_a_fleet_budget_between_the_median_and_the_p95_fails_that_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fleet as measured: the same hand-built starts (median 136 ms, p95 446 ms, slowest 536 ms).
    def measured(request: LoadRequest, size: int, **options: Any) -> FleetProfile:
        assert size == 10
        return _fleet([_run()] * 8 + [_run(import_ms=300.0), _run(import_ms=500.0)])

    monkeypatch.setattr(model_cache, "measure_fleet", measured)
    pytester.makepyfile(test_suite="""
        import pytest

        def loader():
            return dict()

        @pytest.mark.load_budget(fleet=10, fleet_ms=400, cold_runs=1)
        def test_above_the_median(load_model):
            load_model(loader, warmup=None)

        @pytest.mark.load_budget(fleet=10, fleet_ms=460, cold_runs=1)
        def test_above_the_p95(load_model):
            load_model(loader, warmup=None)
        """)
    result = pytester.runpytest("--loadbudget-rounds=1", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_above_the_median _*",
        "*load_budget: loader fleet start p95 446 ms wall time > budget 400 ms (10 processes at once: median 136 ms, "
        "p95 446 ms, slowest 536 ms; *",
    ])
    result.stdout.no_fnmatch_line("*_ test_above_the_p95 _*")


def test_a_cold_disk_fleet_evicts_the_artifact_once_before_it_starts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    vocab = pytester.path / "vocab.bin"
    vocab.write_bytes(b"v" * 10_000)
    evicted: list[list[Path]] = []
    real = fleet_module.evict_files

    def recording(files: list[Path]) -> PageCache:
        evicted.append(list(files))
        return real(files)

    monkeypatch.setattr(fleet_module, "evict_files", recording)
    pytester.makepyfile(test_suite="""
        import pytest

        def loader():
            return dict()

        @pytest.mark.load_budget(fleet=2, cold_runs=1, cold_disk=True)
        def test_it(load_model):
            load_model(loader, files=["vocab.bin"], warmup=None)
        """)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # Once for the whole fleet, after the single cold start: every process races for the same cold bytes.
    assert [[path.resolve() for path in files] for files in evicted] == [[vocab.resolve()]]
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    fleet = record["fleet"]
    assert fleet["evict"] is True and fleet["single"]["evict"] is True
    caches = [run["page_cache"] for run in fleet["fleet"]["runs"]]
    assert len(caches) == 2 and caches[0] == caches[1]
    # The single cold start's child read the file back: there was something to drop.
    assert caches[0]["evicted"] is True and caches[0]["total_bytes"] == caches[0]["resident_before"] == 10_000
    if filesystem_type(vocab) in MEMORY_FILESYSTEMS:  # tmpfs keeps its pages; the record says so
        assert caches[0]["problem"] == "the pages stayed cached (a memory filesystem such as tmpfs cannot drop them)"
    else:
        assert caches[0]["problem"] == "" and caches[0]["resident_after"] == 0, caches[0]
