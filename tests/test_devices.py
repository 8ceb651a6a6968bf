"""Devices on a machine without a GPU: skips, the require-gpu failure, CPU pinning,
and the GPU measuring path driven through a stand-in NVML."""

from __future__ import annotations

import json
import os
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
    result.stdout.fnmatch_lines(["model*format*device*size*load*warm-up*peak*leak*GPU memory*budget", "loader*callable*cpu *"])


TWO_CPUS = textwrap.dedent(
    """
    import tensorflow as tf

    def pytest_configure():
        # Two logical CPUs, before TensorFlow starts: on a machine without a GPU
        # every variable lands on "the CPU" whatever the plugin does; with two,
        # where a variable lands shows which device scope was in force.
        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    """
)


def test_cpu_pinning_places_a_keras_model_on_the_cpu(pytester, model_paths):
    pytester.makeconftest(TWO_CPUS)
    pytester.makepyfile(
        f"""
        import keras
        import pytest
        import tensorflow as tf

        PATH = {str(model_paths["keras"])!r}

        def devices(model):
            return sorted({{weight.value.device.rsplit("/", 1)[-1] for weight in model.weights}})

        @pytest.mark.load_budget(device="cpu", ms=60000)
        def test_it(load_model):
            # The test's own scope says CPU:1; device="cpu" pins the load to /CPU:0 inside it.
            with tf.device("/CPU:1"):
                by_hand = keras.models.load_model(PATH)
                model = load_model(PATH)
            assert devices(by_hand) == ["device:CPU:1"]  # the scope works: unpinned loads follow it
            assert devices(model) == ["device:CPU:0"]
        """
    )
    # A process of its own: logical devices can only be set before TensorFlow
    # starts, and this session's TensorFlow has started.
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert record["device"] == "cpu"
    assert record["key"].endswith("@cpu")


#: What ``find_gpu`` answers on a machine with one GPU.
STAND_IN_GPU = devices.GPU("Stand-in GPU 80GB", "999.1")


def test_figures_of_different_devices_are_kept_apart(pytester, monkeypatch):
    # The machine has a GPU, as far as the plugin can tell: the three tests
    # load the same model on three devices, and no figure may mix with another's.
    monkeypatch.setattr(devices, "_probed", (STAND_IN_GPU, ""))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(device="cpu")
        def test_cpu(load_model):
            load_model(dict)

        @pytest.mark.load_budget(device="gpu")
        def test_gpu(load_model):
            load_model(dict)

        def test_default(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json", "--loadbudget-report")
    result.assert_outcomes(passed=3)
    models = json.loads((pytester.path / "out.json").read_text())["models"]
    gpu = "gpu: Stand-in GPU 80GB (driver 999.1)"
    assert [(m["device"], m["key"].rsplit("@", 1)[1]) for m in models] == [
        ("cpu", "cpu"), (gpu, gpu), ("default", "default"),
    ]
    # One row each; the report names the GPU without its driver.
    result.stdout.fnmatch_lines([
        "dict*callable*python*cpu *ok", "dict*callable*python*gpu: Stand-in GPU 80GB *ok", "dict*callable*python*default *no budget",
    ])


def test_the_default_device_of_a_machine_without_a_gpu_is_the_cpu(pytester):
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
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
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
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    monkeypatch.setenv("HIDE_PROCESSES", "1")
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*GPU memory 300 MiB > budget 100 MiB (load + warm-up, nvml-device, fresh process)"])


NO_NVML = textwrap.dedent(
    """
    # Stands in for nvidia-ml-py on a machine whose driver NVML cannot reach:
    # the GPU is found, and measured, through the framework the run imported.
    class NVMLError(Exception):
        pass

    def nvmlInit():
        raise NVMLError("Driver Not Loaded")
    """
)

FAKE_TORCH = textwrap.dedent(
    """
    # Stands in for PyTorch with one CUDA device; loaders allocate through allocate().
    from types import SimpleNamespace

    # The peak that earlier work in this process left: a figure that shows it was not reset.
    _peak = 4 * 2**30

    def allocate(size):
        global _peak
        _peak = max(_peak, size)

    def _reset_peak_memory_stats():
        global _peak
        _peak = 0

    version = SimpleNamespace(cuda="12.4")
    cuda = SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        get_device_properties=lambda index: SimpleNamespace(name="Stand-in CUDA GPU", total_memory=80 * 2**30),
        reset_peak_memory_stats=_reset_peak_memory_stats,
        synchronize=lambda: None,
        max_memory_allocated=lambda: _peak,
        memory_allocated=lambda: 0,
    )
    """
)

FAKE_TENSORFLOW = textwrap.dedent(
    """
    # Stands in for TensorFlow with one GPU; loaders allocate through allocate().
    from types import SimpleNamespace

    __version__ = "0.0+stand-in"
    # The peak that earlier work in this process left: a figure that shows it was not reset.
    _peak = 4 * 2**30

    def allocate(size):
        global _peak
        _peak = max(_peak, size)

    def _reset_memory_stats(device):
        global _peak
        assert device == "GPU:0", device
        _peak = 0

    def _get_memory_info(device):
        assert device == "GPU:0", device
        return {"current": 0, "peak": _peak}

    def _devices(kind=None):
        return [SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")] if kind == "GPU" else []

    config = SimpleNamespace(
        list_physical_devices=_devices,
        list_logical_devices=_devices,
        experimental=SimpleNamespace(
            get_device_details=lambda device: {"device_name": "Stand-in TF GPU"},
            set_memory_growth=lambda device, enable: None,
            reset_memory_stats=_reset_memory_stats,
            get_memory_info=_get_memory_info,
        ),
    )
    """
)

FRAMEWORK_SUITE = textwrap.dedent(
    """
    import pytest
    import {framework}

    class Model:
        def __call__(self, x):
            return x

    def gpu_model(device="cpu"):
        # What the framework's allocator sees while the model loads on the GPU.
        if device == "cuda":
            {framework}.allocate(300 * 2**20)
        return Model()

    @pytest.mark.load_budget(gpu_mb=100, device="gpu")
    def test_over(load_model):
        load_model(gpu_model)

    @pytest.mark.load_budget(gpu_mb=500, device="gpu")
    def test_under(load_model):
        load_model(gpu_model)
    """
)


@pytest.mark.parametrize(
    ("framework", "device"),
    [("torch", "gpu: Stand-in CUDA GPU (driver CUDA 12.4)"), ("tensorflow", "gpu: Stand-in TF GPU (driver unknown)")],
)
def test_gpu_memory_budget_through_the_framework_allocator(pytester, monkeypatch, framework, device):
    # Stand-ins for the framework, found first on the path of the run and of
    # its fresh measuring process; PyTorch need not be installed.
    module = {"torch": FAKE_TORCH, "tensorflow": FAKE_TENSORFLOW}[framework]
    source = framework  # the figure is named after the allocator it comes from
    pytester.makepyfile(pynvml=NO_NVML, **{framework: module})
    pytester.makepyfile(test_gpu=FRAMEWORK_SUITE.format(framework=framework))
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        f"*load_budget: gpu_model GPU memory 300 MiB > budget 100 MiB (load + warm-up, {source}, fresh process)",
        f"gpu_model*callable*{device.split(' (driver')[0]}*300 MiB (300%) {source}*MISS (1 test)",
    ])
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert record["device"] == device
    # The allocator's peak since its reset before the load, not since the process started.
    assert record["memory"]["device_memory"] == [{"source": source, "peak_bytes": 300 * 2**20}]


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


@pytest.mark.parametrize(("where", "first"), [("fresh process", "nvml"), ("in-process", "torch")])
def test_the_gpu_figure_budgets_apply_to_depends_on_where_it_was_measured(monkeypatch, where, first):
    # Seen on an H100: in the test process the driver saw 0 MiB for a 45 MiB
    # model, because PyTorch's caching allocator already held the memory of the
    # timed rounds. The allocator's own growth is the figure there; in a fresh
    # process the driver's view (CUDA context included) is.
    import contextlib

    from pytest_loadbudget.measure import memory
    from pytest_loadbudget.model.request import LoadRequest

    class Driver:
        def sampling(self):
            return contextlib.nullcontext()

        def result(self):
            return devices.DeviceMemory(0 if where == "in-process" else 600 * 2**20, "nvml")

    class Allocator:
        def reset(self):
            pass

        def read(self):
            return devices.DeviceMemory(50 * 2**20, "torch")

    monkeypatch.setattr(memory, "NVMLSampler", Driver)
    monkeypatch.setattr(memory, "FrameworkPeak", Allocator)
    monkeypatch.setattr(memory, "placed", lambda format_name, device: contextlib.nullcontext())
    request = LoadRequest(format_name="callable", loader=dict, name="m", warmup=None, device="gpu")
    figures = memory.measure_memory(request, 1, where=where)
    assert figures.gpu_peak is not None and figures.gpu_peak["source"] == first
    assert {reading["source"] for reading in figures.device_memory} == {"nvml", "torch"}
