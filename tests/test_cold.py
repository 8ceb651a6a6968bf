"""Cold-start measurement: phases in fresh processes, page-cache eviction, the read floor.

The loaders live at module level so that a fresh process can import them by
name (this file's directory is on the ``sys.path`` the parent sends); none
imports TensorFlow, so each child takes well under a second.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_loadbudget.fresh.protocol import NotReplayable
from pytest_loadbudget.results.cold_profile import PHASES, add_up_tolerance_ms
from pytest_loadbudget.fresh.cold import ColdProfile, evict_files, measure_cold, residency
from pytest_loadbudget.measure.page_cache import resident_bytes
from pytest_loadbudget.errors import MeasurementError
from pytest_loadbudget.measure.floor import Bandwidth, read_bandwidth, read_fully, times_floor
from pytest_loadbudget.session.request import LoadRequest

LOAD_S = 0.1
FIRST_CALL_S = 0.05


class Model:
    def __init__(self, first_call_s: float = 0.0, payload: object = None) -> None:
        self.first_call_s = first_call_s
        self.calls = 0
        self.payload = payload

    def __call__(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if self.calls == 0:
            time.sleep(self.first_call_s)
        self.calls += 1
        return np.asarray(x) * 2


def in_cold_child() -> bool:
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec is not None and spec.name == "pytest_loadbudget.fresh.cold_child"


def sleepy() -> Model:
    time.sleep(LOAD_S)
    return Model(first_call_s=FIRST_CALL_S)


def big(mib: int = 64) -> Model:
    # Touch every page so the memory is resident, not just reserved.
    return Model(payload=np.ones(mib * 2**20 // 8))


def crashes_in_child() -> Model:
    if in_cold_child():
        os.kill(os.getpid(), 9)
    return Model()


def hangs_in_child() -> Model:
    if in_cold_child():
        time.sleep(60)
    return Model()


def fails() -> Model:
    raise ValueError("weights file is corrupt")


def noisy() -> Model:
    print("a framework banner without a newline", end="")
    return Model()


def request_for(loader, **fields) -> LoadRequest:  # type: ignore[no-untyped-def]
    fields.setdefault("warmup", np.zeros((1, 4), dtype="float32"))
    return LoadRequest(format_name="callable", loader=loader, name=loader.__name__, **fields)


@pytest.fixture(scope="module")
def sleepy_profile(tmp_path_factory: pytest.TempPathFactory) -> ColdProfile:
    files = tmp_path_factory.mktemp("artifact")
    extra = []
    for index, size in enumerate((3 * 2**20, 12345)):
        path = files / f"part{index}.bin"
        path.write_bytes(os.urandom(size))
        extra.append(path)
    messages: list[str] = []
    profile = measure_cold(request_for(sleepy, extra_files=extra), runs=2, steady_calls=3, progress=messages.append)
    profile.messages = messages  # type: ignore[attr-defined]
    return profile


def test_phases_add_up_to_the_wall_time_the_parent_measures(sleepy_profile: ColdProfile) -> None:
    assert len(sleepy_profile.runs) == 2
    for run in sleepy_profile.runs:
        assert run.total_ms == pytest.approx(sum(run.phase_ms(phase) or 0.0 for phase in PHASES))
        assert abs(run.unaccounted_ms) <= add_up_tolerance_ms(run.wall_ms), run
        assert run.harness_ms <= run.wall_ms - run.total_ms + add_up_tolerance_ms(run.wall_ms)


def test_each_phase_holds_its_own_work(sleepy_profile: ColdProfile) -> None:
    # Lower bounds only: a sleep never ends early, however busy the machine.
    run = sleepy_profile.runs[0]
    assert run.load_ms >= LOAD_S * 1e3
    assert run.first_call_ms is not None and run.first_call_ms >= FIRST_CALL_S * 1e3
    assert run.startup_ms > 0 and run.import_ms > 0 and run.read_ms > 0
    # The steady calls and the reload come after the cold time and are not in it.
    assert len(run.steady_ms) == 3 and all(value < run.first_call_ms for value in run.steady_ms)
    assert len(run.reload_ms) == 1 and run.reload_ms[0] >= LOAD_S * 1e3
    assert set(run.gc_ms) == {"import", "load", "first_call"}
    assert all(0 <= value <= (run.phase_ms(phase) or 0.0) for phase, value in run.gc_ms.items())


def test_read_phase_reads_every_file(sleepy_profile: ColdProfile) -> None:
    assert sleepy_profile.files == 2
    assert sleepy_profile.size_bytes == 3 * 2**20 + 12345
    assert all(run.read_bytes == sleepy_profile.size_bytes for run in sleepy_profile.runs)


def test_phases_summarize_as_median_and_spread(sleepy_profile: ColdProfile) -> None:
    load = sleepy_profile.phase("load")
    assert load.count == 2
    assert load.minimum <= load.median <= load.maximum
    data = sleepy_profile.to_dict()
    assert set(data["phases_ms"]) >= {*PHASES, "total", "wall", "steady_call", "reload"}
    assert data["phases_ms"]["load"]["rounds"] == 2
    again = ColdProfile.from_dict(data)
    assert again.runs == sleepy_profile.runs


def test_progress_names_the_child_and_the_phase(sleepy_profile: ColdProfile) -> None:
    messages = sleepy_profile.messages  # type: ignore[attr-defined]
    assert messages[:3] == [
        "child 1/2: starting python...",
        "child 1/2: importing the loader's module...",
        "child 1/2: reading 3.01 MiB...",
    ]
    assert "child 2/2: first call..." in messages


def test_warm_page_cache_is_reported_resident(sleepy_profile: ColdProfile) -> None:
    if resident_bytes(Path(__file__)) is None:
        pytest.skip("page-cache residency cannot be read on this system")
    for run in sleepy_profile.runs:
        assert run.page_cache is not None and not run.page_cache.evicted
        assert run.page_cache.resident_fraction == 1.0


def test_peak_memory_of_the_load_is_taken_in_the_child() -> None:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's resettable VmHWM")
    profile = measure_cold(request_for(big, warmup=None), runs=1, reloads=0)
    assert profile.peak_method == "vmhwm"
    [peak] = profile.peak_bytes
    assert 60 * 2**20 <= peak < 200 * 2**20
    assert profile.runs[0].first_call_ms is None and profile.phase("first_call").count == 0


def test_child_crash_is_an_error_naming_the_model_and_the_phase() -> None:
    with pytest.raises(MeasurementError) as caught:
        measure_cold(request_for(crashes_in_child), runs=1)
    assert str(caught.value).startswith(
        "crashes_in_child: the fresh process measuring the cold load exited with signal 9 (SIGKILL: out of memory?) "
        "while loading"
    )


def test_child_timeout_is_an_error_naming_the_model_and_the_phase() -> None:
    start = time.monotonic()
    with pytest.raises(MeasurementError) as caught:
        measure_cold(request_for(hangs_in_child), runs=1, timeout=3)
    assert str(caught.value) == (
        "hangs_in_child: the cold load in a fresh process did not finish in 3 s "
        "(it was loading; raise the timeout if the load is that slow)"
    )
    assert time.monotonic() - start < 30  # killed, not waited for


def test_loader_error_in_the_child_is_reported() -> None:
    with pytest.raises(MeasurementError, match=r"^fails: in a fresh process: ValueError: weights file is corrupt$"):
        measure_cold(request_for(fails), runs=1)


def test_loader_output_on_stdout_does_not_break_the_protocol() -> None:
    profile = measure_cold(request_for(noisy), runs=1, reloads=0)
    assert profile.runs[0].first_call_ms is not None


def test_lambda_loader_cannot_be_replayed() -> None:
    request = LoadRequest(format_name="callable", loader=lambda: Model(), name="inline")
    with pytest.raises(NotReplayable):
        measure_cold(request, runs=1)


def test_cold_disk_evicts_the_artifact_before_each_run(tmp_path: Path) -> None:
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(8 * 2**20))
    read_fully([artifact])
    if not hasattr(os, "posix_fadvise") or resident_bytes(artifact) != artifact.stat().st_size:
        pytest.skip("page-cache residency cannot be read on this system")
    profile = measure_cold(request_for(sleepy, extra_files=[artifact], warmup=None), runs=2, reloads=0, evict=True)
    for run in profile.runs:
        cache = run.page_cache
        assert cache is not None and cache.evicted and cache.total_bytes == 8 * 2**20
        if cache.problem:
            pytest.skip(f"eviction does not work here: {cache.problem}")
        # The child's read phase brings the file back, so every run evicts it anew.
        assert cache.resident_before == 8 * 2**20
        assert cache.evicted_fraction is not None and cache.evicted_fraction >= 0.9
        assert cache.resident_fraction is not None and cache.resident_fraction <= 0.1


def test_evict_and_residency_report_on_a_file(tmp_path: Path) -> None:
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(2**20 + 100))
    read_fully([artifact])
    before = residency([artifact])
    if before.resident_after is None or not hasattr(os, "posix_fadvise"):
        pytest.skip("page-cache residency cannot be read on this system")
    assert before.resident_after == 2**20 + 100 and not before.evicted
    after = evict_files([artifact])
    assert after.resident_before == 2**20 + 100
    assert after.problem or after.resident_after == 0


def test_floor_is_load_time_over_read_time() -> None:
    # 100 MB read at 100e6/0.015 bytes/s take 15 ms; a 450 ms load is 30x that.
    bandwidth = Bandwidth(bytes_per_s=100e6 / 0.015, probe_bytes=64 * 2**20, reads=5, directory="/tmp")
    assert bandwidth.floor_ms(100e6) == pytest.approx(15.0)
    assert times_floor(450.0, 100e6, bandwidth) == pytest.approx(30.0)
    assert times_floor(450.0, 0, bandwidth) is None


def test_read_bandwidth_is_measured_once_per_process(tmp_path: Path) -> None:
    first = read_bandwidth(str(tmp_path))
    assert first.bytes_per_s > 0 and first.probe_bytes == 64 * 2**20
    assert read_bandwidth(str(tmp_path)) is first
    assert not list(tmp_path.iterdir())  # the probe file is gone
