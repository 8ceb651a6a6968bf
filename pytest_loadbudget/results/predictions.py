"""Per-prediction growth: what a warm model leaves alive as it serves prediction after prediction.

A page that works for its first predictions and dies after a hundred keeps
something from each call: the tensors ``predict`` returned (TF.js frees
nothing a caller does not dispose) or, in Python, outputs held in a list.
``PredictionGrowth`` holds the readings taken before the first of ``count``
predictions and after each one; the growth is the last less the first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_loadbudget.units import MIB, format_mib


@dataclass
class PredictionGrowth:
    """``count`` predictions on the warm model, each result read back and dropped.

    Series of ``count + 1`` readings (before the first prediction, then after
    each), empty where the runtime does not have the figure:
    ``tensors``: live tensors (TF.js ``tf.memory().numTensors``; in Python,
    TensorFlow and PyTorch tensors alive as Python objects, read before the
    first and after the last prediction only, two readings, because counting
    them walks every object of the process); ``tensor_bytes``: TF.js
    ``numBytes``; ``gpu_bytes``: TF.js ``numBytesInGPU`` (webgl);
    ``rss_bytes``: the Python process's resident memory, the first and last
    readings after a garbage collection and ``malloc_trim``, so that freed
    memory the allocator kept does not read as growth.
    ``where``: the record's runtime ("python", "node cpu", "browser webgl cache").
    ``note``: why the predictions did not run ("" when they did).
    """

    count: int
    where: str
    tensors: list[int] = field(default_factory=list)
    tensor_bytes: list[int] = field(default_factory=list)
    gpu_bytes: list[int] = field(default_factory=list)
    rss_bytes: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def tensor_growth(self) -> int | None:
        """Tensors alive after the last prediction less before the first: 0 for a model that frees its outputs."""
        return _growth(self.tensors)

    @property
    def memory_growth(self) -> int | None:
        """Bytes the predictions left behind: TF.js ``numBytes``, else the Python process's RSS."""
        if self.tensor_bytes:
            return _growth(self.tensor_bytes)
        return _growth(self.rss_bytes)

    @property
    def memory_source(self) -> str:
        return "numBytes" if self.tensor_bytes else "RSS"

    def describe(self) -> str:
        """One line for the report: each figure's growth over the predictions, and per prediction."""
        if self.note:
            return f"not measured: {self.note}"
        parts = []
        if self.tensor_growth is not None:
            parts.append(f"tensors {self.tensors[0]} -> {self.tensors[-1]} ({self.tensor_growth:+d})")
        for label, series in (("numBytes", self.tensor_bytes), ("numBytesInGPU", self.gpu_bytes), ("RSS", self.rss_bytes)):
            growth = _growth(series)
            if growth is not None:
                parts.append(f"{label} {growth_text(growth)} ({growth_text(growth / self.count)} per prediction)")
        return f"{self.count} predictions ({self.where}): " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tensor_growth"], data["memory_growth"] = self.tensor_growth, self.memory_growth
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictionGrowth:
        return cls(
            count=int(data.get("count", 0)), where=str(data.get("where", "")),
            tensors=[int(v) for v in data.get("tensors", [])],
            tensor_bytes=[int(v) for v in data.get("tensor_bytes", [])],
            gpu_bytes=[int(v) for v in data.get("gpu_bytes", [])],
            rss_bytes=[int(v) for v in data.get("rss_bytes", [])],
            note=str(data.get("note", "")),
        )

    @classmethod
    def from_runtime(cls, series: dict[str, Any], where: str) -> PredictionGrowth:
        """From the ``prediction_growth`` object of js/core.js ``measure``."""
        return cls(
            count=int(series.get("count", 0)), where=where,
            tensors=[int(v) for v in series.get("numTensors", [])],
            tensor_bytes=[int(v) for v in series.get("numBytes", [])],
            gpu_bytes=[int(v) for v in series.get("numBytesInGPU", []) if v is not None],
        )


def _growth(series: list[int]) -> int | None:
    return series[-1] - series[0] if len(series) >= 2 else None


def byte_text(num_bytes: float) -> str:
    """Bytes as a reader compares them: a tensor of 4 floats is 16 B, not 0.0000153 MiB."""
    if abs(num_bytes) < 1024:
        return f"{num_bytes:.0f} B"
    if abs(num_bytes) < MIB:
        return f"{num_bytes / 1024:.1f} KiB"
    return format_mib(num_bytes)


def growth_text(num_bytes: float) -> str:
    return ("+" if num_bytes >= 0 else "-") + byte_text(abs(num_bytes))
