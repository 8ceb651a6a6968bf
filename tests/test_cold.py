"""Cold-start measurement: phases in fresh processes, page-cache eviction, the read floor.

The loaders live at module level so that a fresh process can import them by
name (this file's directory is on the ``sys.path`` the parent sends); none
imports TensorFlow, so each child takes well under a second.
"""

from __future__ import annotations

import mmap
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_loadbudget.errors import MeasurementError
from pytest_loadbudget.fresh.cold import ColdProfile, evict_files, measure_cold, residency
from pytest_loadbudget.fresh.protocol import NotReplayable
from pytest_loadbudget.measure.floor import Bandwidth, read_bandwidth, read_fully, times_floor
from pytest_loadbudget.measure.page_cache import MEMORY_FILESYSTEMS, filesystem_type, resident_bytes
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.cold_profile import PHASES, add_up_tolerance_ms

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


def quick() -> Model:
    return Model()


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
    # Each progress line stamped on the clock the phases use (CLOCK_MONOTONIC is
    # system-wide): the test's own view of when each child started and finished.
    stamps: list[tuple[int, str]] = []

    def progress(text: str) -> None:
        stamps.append((time.monotonic_ns(), text))
        messages.append(text)

    profile = measure_cold(request_for(sleepy, extra_files=extra), runs=2, steady_calls=3, progress=progress)
    stamps.append((time.monotonic_ns(), "measure_cold returned"))
    profile.messages = messages  # type: ignore[attr-defined]
    profile.stamps = stamps  # type: ignore[attr-defined]
    return profile


def _bracket_ms(stamps: list[tuple[int, str]], index: int, runs: int) -> float:
    """Milliseconds from the progress line said before child ``index`` is spawned to the
    first line said after its cold start is over (its steady calls, or the next child)."""
    texts = [text for _, text in stamps]
    start = texts.index(f"child {index}/{runs}: starting python...")
    first_call = texts.index(f"child {index}/{runs}: first call...")
    return (stamps[first_call + 1][0] - stamps[start][0]) / 1e6


def test_phases_add_up_to_the_wall_time_the_parent_measures(sleepy_profile: ColdProfile) -> None:
    assert len(sleepy_profile.runs) == 2
    stamps = sleepy_profile.stamps  # type: ignore[attr-defined]
    for index, run in enumerate(sleepy_profile.runs, 1):
        assert run.first_call_ms is not None
        phases = run.startup_ms + run.import_ms + run.read_ms + run.load_ms + run.first_call_ms
        # The parent's wall time of the cold start, bracketed from outside: the
        # phases happened inside that bracket, and so did the parent's own timing.
        bracket = _bracket_ms(stamps, index, 2)
        assert phases <= bracket, (phases, bracket, run)
        assert run.wall_ms <= bracket, (run.wall_ms, bracket)
        # The sleeps in the loader and the first call are in their phases, never outside the bracket.
        assert phases >= (LOAD_S + FIRST_CALL_S) * 1e3
        # The phases account for the wall time (what the report's total claims) ...
        assert abs(run.wall_ms - phases) <= add_up_tolerance_ms(run.wall_ms), run
        # ... and the total the report prints is that sum, every phase once.
        assert run.total_ms == pytest.approx(phases)
        assert run.harness_ms <= run.wall_ms - phases + add_up_tolerance_ms(run.wall_ms)


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


# Eviction. A memory file system (tmpfs, a common /tmp) keeps file pages in memory
# only: posix_fadvise(DONTNEED) cannot drop them there, and a test that accepted
# "the pages stayed cached" would pass with the eviction removed. So the tests that
# check pages really go run on a disk-backed directory, and the tests that check
# the attempt record the posix_fadvise calls themselves.


@pytest.fixture
def disk_tmp_path(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory on a file system that can drop pages (not tmpfs), removed afterwards."""
    for candidate in (tmp_path, Path(tempfile.gettempdir()), Path("/var/tmp"), Path(__file__).parent):
        kind = filesystem_type(candidate)
        if kind is None or kind in MEMORY_FILESYSTEMS:
            continue
        try:
            directory = Path(tempfile.mkdtemp(prefix="loadbudget-evict-", dir=candidate))
        except OSError:
            continue
        yield directory
        shutil.rmtree(directory, ignore_errors=True)
        return
    pytest.skip("no directory on a disk-backed file system here (tmp_path, the temp dir, /var/tmp and tests/ "
                "are on memory file systems or of unknown type): eviction cannot be observed")


def record_fadvise(monkeypatch: pytest.MonkeyPatch, files: list[Path]) -> list[tuple[str, int, int, int]]:
    """Record every posix_fadvise call on ``files`` (name, offset, length, advice), then make it."""
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("posix_fadvise is not available here")
    real = os.posix_fadvise
    names = {(path.stat().st_dev, path.stat().st_ino): path.name for path in files}
    calls: list[tuple[str, int, int, int]] = []

    def recording(descriptor: int, offset: int, length: int, advice: int) -> None:
        status = os.fstat(descriptor)
        calls.append((names.get((status.st_dev, status.st_ino), "?"), offset, length, advice))
        real(descriptor, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording)
    return calls


def readable_residency(path: Path) -> None:
    read_fully([path])
    if resident_bytes(path) is None:
        pytest.skip("page-cache residency cannot be read on this system")
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("posix_fadvise is not available here")


def test_cold_disk_evicts_the_artifact_before_each_run(disk_tmp_path: Path) -> None:
    artifact = disk_tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(8 * 2**20))
    readable_residency(artifact)
    profile = measure_cold(request_for(sleepy, extra_files=[artifact], warmup=None), runs=2, reloads=0, evict=True)
    assert profile.evict
    for run in profile.runs:
        cache = run.page_cache
        assert cache is not None and cache.evicted and cache.total_bytes == 8 * 2**20
        assert cache.problem == "", f"{filesystem_type(disk_tmp_path)}: {cache}"
        # The child's read phase brings the file back, so every run evicts it anew.
        assert cache.resident_before == 8 * 2**20
        assert cache.evicted_fraction is not None and cache.evicted_fraction >= 0.9
        assert cache.resident_fraction is not None and cache.resident_fraction <= 0.1
        assert run.read_bytes == 8 * 2**20


def test_cold_disk_advises_the_kernel_to_drop_every_file_before_each_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any file system will do: this checks the attempt, whatever the kernel makes of it.
    files = [tmp_path / f"group1-shard{index}of3.bin" for index in (1, 2, 3)]
    for path in files:
        path.write_bytes(os.urandom(5000))
    calls = record_fadvise(monkeypatch, files)
    events: list[str] = []
    calls_seen = 0

    def progress(text: str) -> None:
        nonlocal calls_seen
        # The calls made since the last progress line, in the order they came.
        events.extend("fadvise {} {} {} {}".format(*call) for call in calls[calls_seen:])
        calls_seen = len(calls)
        events.append(text)

    measure_cold(request_for(quick, extra_files=files, warmup=None), runs=2, reloads=0, evict=True, progress=progress)
    dontneed = os.POSIX_FADV_DONTNEED
    for index in (1, 2):
        before = events.index(f"child {index}/2: evicting the artifact from the page cache...")
        spawn = events.index(f"child {index}/2: starting python...")
        # The whole of every file (offset 0, length 0 = to the end), between the announcement and the spawn.
        assert events[before + 1:spawn] == [f"fadvise {path.name} 0 0 {dontneed}" for path in files]
    assert len(calls) == 2 * len(files)


def test_without_posix_fadvise_eviction_is_not_attempted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(2**16))
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    cache = evict_files([artifact])
    assert not cache.evicted
    assert cache.problem == "posix_fadvise is not available here"
    assert cache.evicted_fraction is None


def test_memory_filesystem_is_told_apart_from_an_eviction_not_made(monkeypatch: pytest.MonkeyPatch) -> None:
    shm = Path("/dev/shm")
    if filesystem_type(shm) not in MEMORY_FILESYSTEMS or not os.access(shm, os.W_OK):
        pytest.skip("no writable memory file system at /dev/shm")
    directory = Path(tempfile.mkdtemp(prefix="loadbudget-evict-", dir=shm))
    try:
        artifact = directory / "weights.bin"
        artifact.write_bytes(os.urandom(2**20))
        readable_residency(artifact)
        calls = record_fadvise(monkeypatch, [artifact])
        cache = evict_files([artifact])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    # Tried (the kernel was asked), and the report blames the file system, not the eviction.
    assert calls == [("weights.bin", 0, 0, os.POSIX_FADV_DONTNEED)]
    assert cache.evicted and cache.resident_before == cache.resident_after == 2**20
    assert cache.problem == "the pages stayed cached (a memory filesystem such as tmpfs cannot drop them)"


def test_a_file_this_process_maps_is_named_as_what_kept_its_pages(disk_tmp_path: Path) -> None:
    # A model loaded in the test process (a TFLite interpreter) keeps its file mapped: on a disk.
    artifact = disk_tmp_path / "model.tflite"
    artifact.write_bytes(os.urandom(2**20))
    readable_residency(artifact)
    with artifact.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapping:
        assert len(mapping.read()) == 2**20  # read through the mapping: every page mapped in
        cache = evict_files([artifact])
    assert cache.evicted and cache.resident_before == cache.resident_after == 2**20, cache
    assert cache.problem == (f"the pages stayed cached ({artifact} is mapped by this process (a model loaded in it, "
                             "such as a TFLite interpreter, keeps its file mapped) and the kernel keeps mapped pages)")


def test_pages_a_disk_kept_are_not_blamed_on_a_memory_filesystem(
    disk_tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    artifact = disk_tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(2**16))
    readable_residency(artifact)
    # The kernel ignoring the advice, as it does for pages another process has mapped.
    monkeypatch.setattr(os, "posix_fadvise", lambda descriptor, offset, length, advice: None)
    cache = evict_files([artifact])
    assert cache.evicted and cache.resident_before == cache.resident_after == 2**16, cache
    assert cache.problem == "the pages stayed cached (the kernel kept them: another process may have the file mapped)"


def test_evict_and_residency_report_on_a_file(disk_tmp_path: Path) -> None:
    artifact = disk_tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(2**20 + 100))
    readable_residency(artifact)
    before = residency([artifact])
    assert before.resident_before == before.resident_after == 2**20 + 100 and not before.evicted
    assert resident_bytes(artifact) == 2**20 + 100  # reading the residency evicts nothing
    after = evict_files([artifact])
    assert after.evicted and after.problem == "", f"{filesystem_type(disk_tmp_path)}: {after}"
    assert after.resident_before == 2**20 + 100
    assert after.evicted_fraction is not None and after.evicted_fraction >= 0.9
    assert resident_bytes(artifact) == after.resident_after


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
