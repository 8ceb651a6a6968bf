"""What one TF.js run measured, as plain JSON-safe data (``dataclasses.asdict``)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

#: tf.memory() snapshots, in the order they are taken.
MEMORY_STAGES = ("before_load", "after_load", "after_warmup", "after_dispose")


@dataclass
class RuntimeFigures:
    """Figures of a TF.js model measured in Node.js or in Chromium. Times in ms, sizes in bytes.

    ``load_ms``: one sample per round: model.json and shards read (Node: from
    disk; browser: over HTTP), weights decoded and uploaded to the backend.
    ``first_load_ms`` is round 1 (empty HTTP cache in the browser);
    ``reload_ms`` the rounds after it in the same process or page;
    ``cached_load_ms`` their median when the browser could cache the files
    (``cache_policy="cache"``), else None.
    ``warm_ms``: one per round: the first predict on the freshly loaded model
    and the read back of its outputs (on webgl: shader compilation).
    ``predict_ms``: steady predictions (with read back) after the last warm-up.
    ``memory``: ``tf.memory()`` at each of MEMORY_STAGES (numTensors, numBytes,
    numBytesInGPU on webgl, ...). ``leak_tensors``/``leak_bytes``: tensors and
    bytes still alive after the last ``model.dispose()``, relative to before
    the first load (0 for a clean model). ``gpu_bytes``: numBytesInGPU after
    the first warm-up (webgl only).
    ``load_own_ms``/``warm_own_ms``: the same rounds less the time Node's
    main thread waited for a CPU (``/proc/thread-self/schedstat``, read by the
    harness inside each timed span); empty where that cannot be read: the
    browser (wall time only) or a system without schedstat. ``clock_note``
    says why they are empty ("" when measured).
    ``startup_ms``: the runtime's fixed cost before the first load (Node: spawn
    and import of tfjs and backend set-up; browser: new context, page with the
    tfjs bundles, backend set-up). ``wall_ms``: the whole call as Python saw it.
    ``progress``: load progress events (browser: TF.js onProgress fractions;
    Node: files read). ``requests``: the HTTP requests the model server saw
    (browser only).
    """

    runtime: str
    backend: str
    model: str
    format: str
    rounds: int
    load_ms: list[float] = field(default_factory=list)
    first_load_ms: float | None = None
    reload_ms: list[float] = field(default_factory=list)
    cached_load_ms: float | None = None
    warm_ms: list[float] = field(default_factory=list)
    load_own_ms: list[float] = field(default_factory=list)
    warm_own_ms: list[float] = field(default_factory=list)
    clock_note: str = ""
    predict_ms: list[float] = field(default_factory=list)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    leak_tensors: int | None = None
    leak_bytes: int | None = None
    gpu_bytes: int | None = None
    startup_ms: float | None = None
    wall_ms: float | None = None
    cache_policy: str | None = None
    weight_bytes: int = 0
    shards: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)
    execution: str | None = None
    progress: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    leaked_on_purpose: int = 0
    #: With ``predictions``: tf.memory() before and after each prediction on the
    #: warm model (count, numTensors, numBytes, numBytesInGPU lists); else None.
    prediction_growth: dict[str, Any] | None = None
    #: Browser: the page's main thread during the run (tfjs_runtime/mainthread.py).
    #: ``block_ms``: its longest task during the loads and warm-ups (the part
    #: inside them; None where the browser cannot tell, ``block_note`` says why);
    #: ``total_blocking_ms``: the part of each such task beyond 50 ms, summed;
    #: ``block_round_ms``: each round's longest; ``long_tasks``: every task of
    #: 50 ms or more; ``block_stages``: per stage, its longest part of a task,
    #: total blocking time and long tasks. ``block_source``: "trace" (Chrome's
    #: trace) or "long-tasks" (the Long Tasks API, where the trace is
    #: unavailable: ``trace_note`` says why). ``heartbeat_block_ms``: the longest
    #: gap of a heartbeat on the page during loads and warm-ups;
    #: ``heartbeat_note``: where it disagrees with ``block_ms`` ("" where not).
    #: ``worker``: the model ran in a dedicated Web Worker, not on the page's
    #: thread; ``worker_thread``: that thread's block_ms, total_blocking_ms,
    #: stages and long_tasks, as Chrome's trace shows them (None without).
    worker: bool = False
    block_ms: float | None = None
    total_blocking_ms: float | None = None
    block_round_ms: list[float] = field(default_factory=list)
    long_tasks: list[dict[str, Any]] = field(default_factory=list)
    block_note: str = ""
    block_source: str | None = None
    block_stages: dict[str, dict[str, float]] = field(default_factory=dict)
    trace_note: str = ""
    heartbeat_block_ms: float | None = None
    heartbeat_note: str = ""
    worker_thread: dict[str, Any] | None = None
    #: Browser: where each round loaded from ("http" or "indexeddb"). Under
    #: ``cache_policy="indexeddb"`` (tfjs_runtime/storage.py): the HTTP-cached
    #: reload (round 2), the loads from IndexedDB (``cached_load_ms`` is their
    #: median) and ``storage``: save_ms, saved_bytes (what TF.js wrote),
    #: usage_growth_bytes (what the origin's usage grew by), quota_bytes.
    load_sources: list[str] = field(default_factory=list)
    http_cached_load_ms: float | None = None
    indexeddb_load_ms: list[float] = field(default_factory=list)
    storage: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """Medians and the leak: one flat row for a report table."""
        return {
            "runtime": self.runtime,
            "backend": self.backend,
            "cache_policy": self.cache_policy,
            "first_load_ms": self.first_load_ms,
            "cached_load_ms": self.cached_load_ms,
            "load_ms": _median(self.load_ms),
            "warm_ms": self.warm_ms[0] if self.warm_ms else None,
            "predict_ms": _median(self.predict_ms),
            "startup_ms": self.startup_ms,
            "tensors_after_load": self.memory.get("after_load", {}).get("numTensors"),
            "bytes_after_load": self.memory.get("after_load", {}).get("numBytes"),
            "gpu_bytes": self.gpu_bytes,
            "leak_tensors": self.leak_tensors,
        }

    @classmethod
    def from_harness(
        cls,
        result: dict[str, Any],
        *,
        runtime: str,
        backend: str,
        model: str,
        rounds: int,
        cache_policy: str | None = None,
    ) -> RuntimeFigures:
        """Figures from the ``result`` object that js/core.js ``measure`` returns."""
        load_ms = [float(v) for v in result.get("load_ms", [])]
        warm_ms = [float(v) for v in result.get("warm_ms", [])]
        load_own_ms = _own(load_ms, result.get("load_wait_ms"))
        warm_own_ms = _own(warm_ms, result.get("warm_wait_ms"))
        if runtime == "browser":
            clock_note = "wall time only: a page cannot read how long it waited for a CPU"
        else:
            clock_note = "" if load_own_ms or not load_ms else "no scheduler statistics on this system: wall time only"
        memory = dict(result.get("memory", {}))
        reload_ms = load_ms[1:]
        return cls(
            runtime=runtime,
            backend=backend,
            model=model,
            format=str(result.get("format") or ""),
            rounds=rounds,
            load_ms=load_ms,
            first_load_ms=load_ms[0] if load_ms else None,
            reload_ms=reload_ms,
            cached_load_ms=_median(reload_ms) if cache_policy == "cache" else None,
            warm_ms=warm_ms,
            load_own_ms=load_own_ms,
            warm_own_ms=warm_own_ms,
            clock_note=clock_note,
            predict_ms=[float(v) for v in result.get("predict_ms", [])],
            memory=memory,
            leak_tensors=result.get("leak_tensors"),
            leak_bytes=result.get("leak_bytes"),
            gpu_bytes=memory.get("after_warmup", {}).get("numBytesInGPU"),
            cache_policy=cache_policy,
            inputs=list(result.get("inputs", [])),
            execution=result.get("execution"),
            environment=dict(result.get("environment", {})),
            leaked_on_purpose=int(result.get("leaked_on_purpose", 0)),
            prediction_growth=result.get("prediction_growth"),
        )


def _own(wall_ms: list[float], wait_ms: Any) -> list[float]:
    """Each round's wall time less its run-queue wait; empty unless every round has its wait."""
    if not isinstance(wait_ms, list) or len(wait_ms) != len(wall_ms):
        return []
    return [max(wall - float(wait), 0.0) for wall, wait in zip(wall_ms, wait_ms)]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
