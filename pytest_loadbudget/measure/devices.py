"""Devices: which GPU there is, placing a load on it, and the device memory it takes.

Finding a GPU must not import CUDA libraries on a CPU-only run: NVML
(``nvidia-ml-py``) is asked first, which loads only the driver's small
management library and fails fast without a driver; TensorFlow and PyTorch
are consulted only when the run already imported them.

Device memory comes from two kinds of source, and every figure says which:

- ``nvml``: the memory the GPU driver accounts to this process, sampled every
  few milliseconds during load and warm-up. Framework-neutral (PyTorch, ONNX
  Runtime, JAX, TensorFlow alike). It includes the CUDA context the load
  creates and whatever a framework's allocator reserves, not only what it uses.
- ``tensorflow`` / ``torch``: the framework allocator's own peak of memory in
  use (``tf.config.experimental.get_memory_info('GPU:0')['peak']`` after
  ``reset_memory_stats``; ``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats``): what tensors use, not what the allocator holds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEVICES = ("cpu", "gpu")
#: How often NVML is sampled during a load: often enough to catch a transient peak.
NVML_INTERVAL_S = 0.005


@dataclass(frozen=True)
class GPU:
    name: str
    driver: str

    def label(self) -> str:
        return f"{self.name} (driver {self.driver})"


@dataclass
class DeviceMemory:
    """Peak device memory of a load plus warm-up, in bytes, and where it was read."""

    peak_bytes: int
    source: str


_UNPROBED: Any = object()
_probed: Any = _UNPROBED


def _nvml() -> Any:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded... all mean: no usable GPU
        return None
    return pynvml


def find_gpu() -> tuple[GPU | None, str]:
    """The first NVIDIA GPU, or None and why there is none (for a skip reason)."""
    global _probed
    if _probed is not _UNPROBED:
        return _probed  # type: ignore[no-any-return]
    nvml = _nvml()
    if nvml is not None:
        if nvml.nvmlDeviceGetCount() > 0:
            handle = nvml.nvmlDeviceGetHandleByIndex(_visible_index())
            name = nvml.nvmlDeviceGetName(handle)
            driver = nvml.nvmlSystemGetDriverVersion()
            _probed = (GPU(_text(name), _text(driver)), "")
        else:
            _probed = (None, "NVML found no GPU")
        return _probed  # type: ignore[no-any-return]
    framework_gpu = _framework_gpu()
    if framework_gpu is not None:
        _probed = (framework_gpu, "")
    elif shutil.which("nvidia-smi") is None and not os.path.exists("/proc/driver/nvidia"):
        _probed = (None, "no NVIDIA driver on this machine (no nvidia-smi, no /proc/driver/nvidia)")
    else:
        _probed = (None, "an NVIDIA driver is present but NVML is not: pip install nvidia-ml-py")
    return _probed  # type: ignore[no-any-return]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _visible_index() -> int:
    # NVML numbers every GPU; CUDA_VISIBLE_DEVICES picks which one the frameworks see first.
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    return int(first) if first.isdigit() else 0


def _framework_gpu() -> GPU | None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        return GPU(properties.name, f"CUDA {torch.version.cuda}")
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return GPU(details.get("device_name", gpus[0].name), "unknown")
    return None


def _process_gpu_bytes(nvml: Any, handle: Any, pid: int) -> int:
    used = 0
    for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        try:
            processes = getattr(nvml, getter)(handle)
        except Exception:
            continue
        for process in processes:
            if process.pid == pid and process.usedGpuMemory:
                used = max(used, int(process.usedGpuMemory))
    return used


class NVMLSampler:
    """Samples this process's device memory on a thread while a block runs."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self.start_bytes = 0
        self.device_start_bytes = 0
        self.device_peak_bytes = 0
        self._stop = threading.Event()
        self._nvml = _nvml()
        self._handle = self._nvml.nvmlDeviceGetHandleByIndex(_visible_index()) if self._nvml else None

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def _sample(self) -> int:
        return _process_gpu_bytes(self._nvml, self._handle, os.getpid())

    def _device_used(self) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used)

    def _take(self) -> None:
        self.peak_bytes = max(self.peak_bytes, self._sample())
        self.device_peak_bytes = max(self.device_peak_bytes, self._device_used())

    def _run(self) -> None:
        while not self._stop.is_set():
            self._take()
            self._stop.wait(NVML_INTERVAL_S)

    def result(self) -> DeviceMemory | None:
        """What the load added; from the device's total where the process is not visible.

        In a container NVML often lists processes by the host's pid, so this
        process never shows; the device's used memory (which counts every
        process on the GPU) is the fallback, and the source says so.
        """
        if not self.available:
            return None
        if self.peak_bytes > 0:
            return DeviceMemory(self.peak_bytes - self.start_bytes, "nvml")
        return DeviceMemory(max(self.device_peak_bytes - self.device_start_bytes, 0), "nvml-device")

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        if not self.available:
            yield
            return
        self.start_bytes = self.peak_bytes = self._sample()
        self.device_start_bytes = self.device_peak_bytes = self._device_used()
        thread = threading.Thread(target=self._run, name="loadbudget-nvml", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self._take()


def device_label(requested: str) -> str:
    """What the report and the baseline key say about where a model ran."""
    if requested == "cpu":
        return "cpu"
    gpu, _ = find_gpu()
    if requested == "gpu":
        return f"gpu: {gpu.label()}" if gpu is not None else "gpu"
    return "cpu" if gpu is None else "default"


def prepare_framework(format_name: str, device: str) -> None:
    """Before the first load: TensorFlow gets memory growth, so its figures mean something.

    Without growth TensorFlow reserves nearly all device memory at start, and
    every process's NVML figure reads the same.
    """
    # A TFLite interpreter runs on the CPU and never takes TensorFlow's device
    # memory: importing TensorFlow for it would cost a LiteRT model seconds.
    if device != "gpu" or format_name in ("callable", "tflite"):
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):  # already initialised: growth is fixed by then
            tf.config.experimental.set_memory_growth(gpu, True)


@contextlib.contextmanager
def placed(format_name: str, device: str) -> Iterator[None]:
    """Place a TensorFlow load and warm-up on ``device``; loader functions place themselves."""
    if not device or format_name in ("callable", "tfjs-graph") or "tensorflow" not in sys.modules:
        yield  # no device asked for: the framework's own placement
        return
    import tensorflow as tf

    with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):
        yield


class FrameworkPeak:
    """What the load added to the allocator peak of TensorFlow or PyTorch on GPU 0.

    The peak since ``reset()`` minus what was allocated at ``reset()``: in the
    test process, models loaded earlier (the session keeps them) stay
    allocated and must not count.
    """

    def __init__(self) -> None:
        self.start_bytes = 0

    def reset(self) -> None:
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = int(torch.cuda.memory_allocated())
        tf = sys.modules.get("tensorflow")
        if tf is not None and tf.config.list_logical_devices("GPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")
            self.start_bytes = int(tf.config.experimental.get_memory_info("GPU:0")["current"])

    def read(self) -> DeviceMemory | None:
        tf = sys.modules.get("tensorflow")
        if tf is not None and tf.config.list_logical_devices("GPU"):
            peak = int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
            return DeviceMemory(max(peak - self.start_bytes, 0), "tensorflow")
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
            return DeviceMemory(max(int(torch.cuda.max_memory_allocated()) - self.start_bytes, 0), "torch")
        return None

