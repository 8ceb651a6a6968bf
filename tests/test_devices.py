"""Devices on a machine without a GPU: skips, the require-gpu failure, CPU pinning,
and the GPU measuring path driven through a stand-in NVML."""

from __future__ import annotations

import json
import textwrap

import pytest

from pytest_loadbudget.measure import devices

FAKE_NVML = textwrap.dedent(
    """
    # Stands in for nvidia-ml-py: one GPU whose memory use by this process the
    # loaders set through USED_BYTES.
    import os

    USED_BYTES = 0

    class NVMLError(Exception):
        pass

    class _Process:
        def __init__(self, pid, used):
            self.pid, self.usedGpuMemory = pid, used

    class _Memory:
        total = 80 * 2**30

        @property
        def used(self):
            return 2**30 + USED_BYTES

    def nvmlInit(): pass
    def nvmlDeviceGetCount(): return 1
    def nvmlDeviceGetHandleByIndex(index): return index
    def nvmlDeviceGetName(handle): return b"Stand-in GPU 80GB"
    def nvmlSystemGetDriverVersion(): return "999.1"
    def nvmlDeviceGetMemoryInfo(handle): return _Memory()
    def nvmlDeviceGetComputeRunningProcesses(handle):
        if os.environ.get("HIDE_PROCESSES"):
            return []
        return [_Process(os.getpid(), USED_BYTES)] if USED_BYTES else []
    def nvmlDeviceGetGraphicsRunningProcesses(handle): return []
    """
)

GPU_SUITE = textwrap.dedent(
    """
    import pytest
    import pynvml

    class Model:
        def __call__(self, x):
            return x

    def gpu_model(device="cpu", mib=300):
        # What a real framework does: device memory appears while the model loads.
        if device == "cuda":
            pynvml.USED_BYTES = mib * 2**20
        return Model()

    @pytest.mark.load_budget(gpu_mb=100, device="gpu")
    def test_over(load_model):
        load_model(gpu_model)

    @pytest.mark.load_budget(gpu_mb=500, device="gpu")
    def test_under(load_model):
        load_model(gpu_model)
    """
)


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch):
    """Every test probes for a GPU anew: the probe is cached per process."""
    monkeypatch.setattr(devices, "_probed", devices._UNPROBED)


def test_gpu_test_is_skipped_without_a_gpu_with_the_reason(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(device="gpu", ms=1000)
        def test_gpu(load_model):
            load_model(dict)

        @pytest.mark.load_budget(gpu_mb=100)
        def test_gpu_memory_budget_asks_for_a_gpu(load_model):
            load_model(dict)

        def test_cpu(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest("-rs", "--loadbudget-rounds=1")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] *: needs a GPU: *"])


def test_require_gpu_turns_the_skip_into_a_failure(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(device="gpu")
        def test_gpu(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest("--loadbudget-require-gpu")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*this test needs a GPU and --loadbudget-require-gpu is set: *"])


def test_run_wide_device_option_applies_to_unmarked_tests(pytester):
    pytester.makepyfile(
        """
        def test_any(load_model):
            load_model(dict)
        """
    )
    pytester.runpytest("--loadbudget-device=gpu").assert_outcomes(skipped=1)
    pytester.runpytest("--loadbudget-device=cpu", "--loadbudget-rounds=1").assert_outcomes(passed=1)


def test_bad_device_is_a_marker_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(device="tpu")
        def test_it(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*device='tpu' must be one of 'cpu', 'gpu'*"])


def test_cpu_device_reaches_a_loader_that_takes_one_and_the_report_says_cpu(pytester):
    pytester.makepyfile(
        """
        import pytest

        SEEN = []

        def loader(device="unset"):
            SEEN.append(device)
            return dict()

        @pytest.mark.load_budget(device="cpu")
        def test_it(load_model):
            load_model(loader)
            assert set(SEEN) == {"cpu"}  # the first load and the timed round
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["model*format*device*size*load*warm-up*peak*leak*gpu*budget", "loader*callable*cpu *"])


def test_cpu_pinning_places_a_keras_model_on_the_cpu(pytester, model_paths):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(device="cpu", ms=60000)
        def test_it(load_model):
            model = load_model({str(model_paths["keras"])!r})
            assert all("CPU" in weight.value.device for weight in model.weights)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert record["device"] == "cpu"
    assert record["key"].endswith("@cpu")


def test_figures_of_different_devices_are_kept_apart(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(device="cpu")
        def test_cpu(load_model):
            load_model(dict)

        def test_default(load_model):
            load_model(dict)
        """
    )
    pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json").assert_outcomes(passed=2)
    models = json.loads((pytester.path / "out.json").read_text())["models"]
    # Without a GPU the framework's default is the CPU: one model, not two.
    assert [m["device"] for m in models] == ["cpu"]


def test_cpu_only_run_imports_no_gpu_framework(pytester):
    pytester.makeconftest(
        """
        import sys

        def pytest_unconfigure():
            heavy = sorted(m for m in ("torch", "tensorflow", "jax", "cupy") if m in sys.modules)
            print("HEAVY", heavy)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(device="cpu", ms=1000)
        def test_it(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "-s", "--loadbudget-report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["HEAVY []"])
    assert "cuda" not in result.stdout.str().lower()


def test_gpu_memory_budget_through_nvml(pytester, monkeypatch):
    pytester.makepyfile(pynvml=FAKE_NVML)
    pytester.makepyfile(test_gpu=GPU_SUITE)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: gpu_model GPU memory 300 MiB > budget 100 MiB (load + warm-up, nvml, fresh process)",
        "gpu_model*callable*gpu: Stand-in GPU 80GB*300 MiB (300%) nvml*MISS (1 test)",
    ])
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert record["device"] == "gpu: Stand-in GPU 80GB (driver 999.1)"
    assert record["memory"]["device_memory"] == [{"source": "nvml", "peak_bytes": 300 * 2**20}]


def test_gpu_memory_falls_back_to_the_device_total_when_processes_are_hidden(pytester, monkeypatch):
    pytester.makepyfile(pynvml=FAKE_NVML)
    pytester.makepyfile(test_gpu=GPU_SUITE)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    monkeypatch.setenv("HIDE_PROCESSES", "1")
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*GPU memory 300 MiB > budget 100 MiB (load + warm-up, nvml-device, fresh process)"])


def test_nvml_sampler_catches_a_transient_peak(monkeypatch):
    class FakeNVML:
        used = 0

        def nvmlDeviceGetHandleByIndex(self, index):
            return index

        def nvmlDeviceGetComputeRunningProcesses(self, handle):
            import os
            return [type("P", (), {"pid": os.getpid(), "usedGpuMemory": self.used})()]

        def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
            return []

        def nvmlDeviceGetMemoryInfo(self, handle):
            return type("M", (), {"used": self.used})()

    fake = FakeNVML()
    monkeypatch.setattr(devices, "_nvml", lambda: fake)
    sampler = devices.NVMLSampler()
    import time

    with sampler.sampling():
        fake.used = 500 * 2**20
        time.sleep(0.05)
        fake.used = 100 * 2**20  # freed again before the block ends
        time.sleep(0.02)
    assert sampler.result() == devices.DeviceMemory(500 * 2**20, "nvml")


@pytest.mark.parametrize(
    ("ini", "outcome"),
    [("loadbudget_device = gpu", {"skipped": 1}), ("loadbudget_device = gpu\nloadbudget_require_gpu = true", {"errors": 1})],
)
def test_device_ini_keys_are_read(pytester, ini, outcome):
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        """
        def test_any(load_model):
            load_model(dict)
        """
    )
    pytester.runpytest("--loadbudget-rounds=1").assert_outcomes(**outcome)
