"""Budget checks: which figures of a model exceed a test's budget, and why it matters."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_loadbudget.results.cold_profile import PHASE_LABELS
from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.units import MIB, compact_ms, format_mib, format_ms, format_number

#: What usually fixes a miss of each figure.
HINTS = {
    "mb": "quantize the weights (TF.js converter --quantize_uint8 cuts float32 weights about 4x, "
    "--quantize_float16 2x; TFLite post-training quantization) or drop unused layers",
    "ms": "load time grows with the graph and the number of variables: export only the serving "
    "signature, drop training-only parts, or serve a TFLite model",
    "warm_ms": "the first call traces the function and compiles kernels: fix input shapes so it compiles once, "
    "or keep the process warm and do the warm-up at load",
    "peak_mb": "the load holds serialized and decoded weights at once: load quantized (float16/uint8) weights, "
    "or split the model",
    "gpu_mb": "device memory holds the weights plus the allocator's workspace: load float16 weights, "
    "enable memory growth, or share one loaded model between workers",
    "leak_tensors": "dispose what predict returns (tf.tidy, tensor.dispose()) and call model.dispose() "
    "when a model is replaced",
    "cold_ms": "the cold start is mostly the framework's import: keep the process warm, import lazily, "
    "or serve a .tflite model with the interpreter alone",
    "import_ms": "keep the process warm (one long-lived worker), import the framework lazily, "
    "and pause the garbage collector during the import",
    "leak_mb": "each reload keeps memory: load once and reuse the model, call keras.backend.clear_session() "
    "after releasing one, and dispose of tensors you create",
}


@dataclass(frozen=True)
class Miss:
    figure: str
    line: str

    @property
    def hint(self) -> str:
        return HINTS.get(self.figure, "")


def check(budget: Budget, record: ModelRecord) -> list[Miss]:
    """The figures of ``record`` over ``budget``, each as one readable line.

    A budget on a figure that could not be measured is a miss too: a limit
    that is never checked must not pass silently.
    """
    misses: list[Miss] = []
    name = record.name
    if budget.mb is not None and record.size_bytes is not None and record.size_bytes > budget.mb * MIB:
        misses.append(Miss("mb", (
            f"{name} size {format_mib(record.size_bytes)} > budget {format_number(budget.mb)} MiB "
            f"({record.files} file{'s' if record.files != 1 else ''})"
        )))
    for figure, label, samples, limit in (
        ("ms", "load", record.load_ms, budget.ms),
        ("warm_ms", "warm-up", record.warm_ms, budget.warm_ms),
    ):
        if limit is None:
            continue
        if not samples:
            misses.append(Miss(figure, f"{name} {label} not measured: {_why_unmeasured(figure, record)}"))
        elif samples.median > limit:
            misses.append(Miss(figure, (
                f"{name} {label} {format_ms(samples.median)} > budget {format_number(limit)} ms "
                f"(median of {samples.count}, {compact_ms(samples.minimum)}..{compact_ms(samples.maximum)})"
            )))
    memory = record.memory
    if budget.peak_mb is not None:
        if memory is None or memory.peak_bytes is None:
            why = memory.note if memory is not None else _why_unmeasured("peak_mb", record)
            misses.append(Miss("peak_mb", f"{name} peak not measured: {why}"))
        elif memory.peak_bytes > budget.peak_mb * MIB:
            misses.append(Miss("peak_mb", (
                f"{name} peak {format_mib(memory.peak_bytes)} > budget {format_number(budget.peak_mb)} MiB "
                f"(load + warm-up, {memory.where})"
            )))
    if budget.leak_mb is not None:
        leak = memory.leak_bytes if memory is not None else None
        if memory is None or leak is None:
            misses.append(Miss("leak_mb", f"{name} leak not measured: {_why_unmeasured('leak_mb', record)}"))
        elif leak > budget.leak_mb * MIB:
            misses.append(Miss("leak_mb", (
                f"{name} leak {format_mib(leak)} > budget {format_number(budget.leak_mb)} MiB "
                f"(after {memory.cycles} load/release cycles, {format_mib(memory.leak_per_cycle)} per cycle, "
                f"{memory.where})"
            )))
    if budget.gpu_mb is not None:
        gpu_bytes = record.gpu_bytes
        if gpu_bytes is None:
            misses.append(Miss("gpu_mb", f"{name} GPU memory not measured: {_why_unmeasured('gpu_mb', record)}"))
        elif gpu_bytes > budget.gpu_mb * MIB:
            misses.append(Miss("gpu_mb", (
                f"{name} GPU memory {format_mib(gpu_bytes)} > budget {format_number(budget.gpu_mb)} MiB "
                f"({_gpu_source(record)})"
            )))
    cold = record.cold_profile() if (budget.cold_ms is not None or budget.import_ms is not None) else None
    for figure, label, limit in (("cold_ms", "cold start", budget.cold_ms), ("import_ms", "import", budget.import_ms)):
        if limit is None:
            continue
        if cold is None:
            misses.append(Miss(figure, f"{name} {label} not measured: {_why_unmeasured(figure, record)}"))
            continue
        samples = cold.total if figure == "cold_ms" else cold.phase("import")
        if samples.median > limit:
            misses.append(Miss(figure, (
                f"{name} {label} {format_ms(samples.median)} > budget {format_number(limit)} ms "
                f"(median of {samples.count} fresh processes, {compact_ms(samples.minimum)}..{compact_ms(samples.maximum)}"
                f"; dominant phase: {PHASE_LABELS[cold.dominant_phase]})"
            )))
    if budget.leak_tensors is not None:
        leaked = record.leak_tensors
        if leaked is None:
            misses.append(Miss("leak_tensors", f"{name} tensors not counted: {_why_unmeasured('leak_tensors', record)}"))
        elif leaked > budget.leak_tensors:
            misses.append(Miss("leak_tensors", (
                f"{name} leaks {leaked} tensor{'s' if leaked != 1 else ''} > budget {budget.leak_tensors} "
                f"(alive after model.dispose(), {record.runtime})"
            )))
    return misses


def _gpu_source(record: ModelRecord) -> str:
    if record.runtime_figures is not None:
        return f"numBytesInGPU after warm-up, {record.runtime}"
    gpu = record.memory.gpu_peak if record.memory is not None else None
    where = record.memory.where if record.memory is not None else ""
    return f"load + warm-up, {gpu['source'] if gpu else '?'}, {where}"


def _why_unmeasured(figure: str, record: ModelRecord) -> str:
    if figure in ("cold_ms", "import_ms"):
        if record.runtime != "python" or record.format == "tfjs-graph":
            return "cold starts are measured for models that load in Python"
        return "the loader cannot be replayed in a fresh process (a lambda or a local function?)"
    if figure == "leak_tensors":
        return "tensors are counted in a TF.js runtime: set runtime='node' or runtime='browser'"
    if record.runtime.startswith("browser") and figure == "gpu_mb":
        return "numBytesInGPU is counted on backend='webgl' only"
    if record.format == "tfjs-graph" and record.runtime == "python":
        return "a TF.js graph model has no Python runtime: measure it with runtime='node' or runtime='browser'"
    if figure == "warm_ms":
        return "no warm-up input could be made from the model's signature; pass warmup=... to load_model"
    if figure == "gpu_mb":
        return "the model did not run on a GPU; set device='gpu' (NVML needs nvidia-ml-py)"
    return "the measurement was switched off (--loadbudget-disable)"
