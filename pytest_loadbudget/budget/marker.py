"""The ``load_budget`` marker: its signature, its help line and its validation.

The marker is a real Python function so that Python's own argument binding
rejects unknown keywords and positional arguments, and ``pytest --markers``
shows a help line generated from the signature.
"""

from __future__ import annotations

import argparse
import inspect
from dataclasses import dataclass, fields
from typing import Any

import pytest

from pytest_loadbudget.baseline.compare import parse_compare_fail
from pytest_loadbudget.measure.devices import DEVICES
from pytest_loadbudget.errors import MarkerError
from pytest_loadbudget.session.tfjs_sessions import validate as validate_runtime

MARKER_NAME = "load_budget"


@dataclass(frozen=True)
class Budget:
    """Limits a test sets on every model it loads; ``None`` means no limit.

    Times are milliseconds, sizes and memory MiB (2**20 bytes).
    """

    ms: float | None = None
    mb: float | None = None
    warm_ms: float | None = None
    peak_mb: float | None = None
    leak_mb: float | None = None
    cycles: int | None = None
    rounds: int | None = None
    compare_fail: str | None = None
    device: str | None = None
    gpu_mb: float | None = None
    runtime: str | None = None
    backend: str | None = None
    cache_policy: str | None = None
    leak_tensors: int | None = None
    cold_ms: float | None = None
    import_ms: float | None = None
    cold_runs: int | None = None
    cold_disk: bool | None = None

    def limits(self) -> dict[str, float]:
        """The figures this budget limits, by keyword."""
        return {
            name: value
            for name in LIMIT_KEYWORDS
            if (value := getattr(self, name)) is not None
        }

    @property
    def needs_cold(self) -> bool:
        return self.cold_ms is not None or self.import_ms is not None or self.cold_runs is not None

    @property
    def needs_memory(self) -> bool:
        in_runtime = self.runtime not in (None, "python")
        return not in_runtime and (
            self.peak_mb is not None or self.leak_mb is not None or self.cycles is not None or self.gpu_mb is not None
        )


LIMIT_KEYWORDS = ("ms", "mb", "warm_ms", "peak_mb", "leak_mb", "gpu_mb", "leak_tensors", "cold_ms", "import_ms")


def load_budget(
    *,
    ms: float | None = None,
    mb: float | None = None,
    warm_ms: float | None = None,
    peak_mb: float | None = None,
    leak_mb: float | None = None,
    cycles: int | None = None,
    rounds: int | None = None,
    compare_fail: str | None = None,
    device: str | None = None,
    gpu_mb: float | None = None,
    runtime: str | None = None,
    backend: str | None = None,
    cache_policy: str | None = None,
    leak_tensors: int | None = None,
    cold_ms: float | None = None,
    import_ms: float | None = None,
    cold_runs: int | None = None,
    cold_disk: bool | None = None,
) -> Budget:
    """Budget every model the test loads through ``load_model``.

    ms: median load time over the rounds, in milliseconds.
    mb: bytes on disk of every file the load reads, in MiB.
    warm_ms: median time of the first inference after a load, in milliseconds.
    peak_mb: resident memory the load and warm-up add at their peak, in MiB,
        measured in a fresh process.
    leak_mb: resident memory still held after ``cycles`` load/release cycles
        beyond what the first cycle held, in MiB.
    cycles: load/release cycles for ``leak_mb`` (at least 2).
    rounds: timed load rounds (at least 1); the default adapts to the load time.
    compare_fail: what counts as a regression against the baseline for this
        test, e.g. ``"ms:30%,mb:0"``, instead of --loadbudget-compare-fail.
    device: ``"cpu"`` or ``"gpu"``: where the model is placed and warmed; a
        test that asks for a GPU on a machine without one is skipped.
    gpu_mb: peak device memory of load plus warm-up, in MiB, in a fresh process
        (on runtime="browser" with backend="webgl": TF.js numBytesInGPU).
    runtime: where a TF.js model is measured: ``"python"`` (the default),
        ``"node"`` (Node.js) or ``"browser"`` (headless Chromium).
    backend: the TF.js backend: ``"cpu"`` or ``"wasm"`` (node), also ``"webgl"`` (browser).
    cache_policy: ``"cache"`` (default) or ``"no-store"``: the Cache-Control
        the browser's model server answers.
    leak_tensors: TF.js tensors still alive after the model is disposed.
    cold_ms: median cold start in a fresh Python: start-up, framework import,
        reading the files, load and first call, in milliseconds.
    import_ms: median framework import of that cold start, in milliseconds.
    cold_runs: fresh processes for the cold figures (default 3).
    cold_disk: evict the model's files from the page cache before each cold run.
    """
    limits = (("ms", ms), ("mb", mb), ("warm_ms", warm_ms), ("peak_mb", peak_mb), ("leak_mb", leak_mb),
              ("gpu_mb", gpu_mb), ("cold_ms", cold_ms), ("import_ms", import_ms))
    for name, value in limits:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MarkerError(f"{name}={value!r} must be a number")
        if not value > 0:
            raise MarkerError(f"{name}={value!r} must be greater than 0")
    if cycles is not None and (isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 2):
        raise MarkerError(f"cycles={cycles!r} must be an integer of at least 2 (the first cycle is the reference)")
    for name, count in (("rounds", rounds), ("cold_runs", cold_runs)):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise MarkerError(f"{name}={count!r} must be an integer of at least 1")
    if cold_disk is not None and not isinstance(cold_disk, bool):
        raise MarkerError(f"cold_disk={cold_disk!r} must be True or False")
    if compare_fail is not None:
        if not isinstance(compare_fail, str):
            raise MarkerError(f"compare_fail={compare_fail!r} must be a string such as 'ms:10%,mb:0'")
        try:
            parse_compare_fail(compare_fail)
        except argparse.ArgumentTypeError as error:
            raise MarkerError(f"compare_fail={compare_fail!r}: {error}") from None
    if leak_tensors is not None and (isinstance(leak_tensors, bool) or not isinstance(leak_tensors, int)
                                     or leak_tensors < 0):
        raise MarkerError(f"leak_tensors={leak_tensors!r} must be an integer of at least 0")
    validate_runtime(runtime, backend, cache_policy)
    if device is not None and device not in DEVICES:
        raise MarkerError(f"device={device!r} must be one of {', '.join(map(repr, DEVICES))}")
    return Budget(
        ms=ms, mb=mb, warm_ms=warm_ms, peak_mb=peak_mb, leak_mb=leak_mb, cycles=cycles, rounds=rounds,
        compare_fail=compare_fail, device=device, gpu_mb=gpu_mb, runtime=runtime, backend=backend,
        cache_policy=cache_policy, leak_tensors=leak_tensors, cold_ms=cold_ms, import_ms=import_ms,
        cold_runs=cold_runs, cold_disk=cold_disk,
    )


def marker_help() -> str:
    """The line ``pytest --markers`` shows, built from the signature."""
    parameters = ", ".join(f"{p.name}={p.default!r}" for p in inspect.signature(load_budget).parameters.values())
    return (
        f"{MARKER_NAME}({parameters}): fail the test when a model it loads through "
        "the load_model fixture exceeds a budget (ms: median load time, mb: MiB on disk, "
        "warm_ms: first inference, peak_mb: peak RSS the load adds, leak_mb: RSS kept after "
        "`cycles` reloads)."
    )


def budget_from_item(item: pytest.Item) -> Budget | None:
    """The budget of the closest ``load_budget`` marker, validated.

    Raises MarkerError naming the test and the wrong argument.
    """
    marker = item.get_closest_marker(MARKER_NAME)
    if marker is None:
        return None
    try:
        return load_budget(*marker.args, **marker.kwargs)
    except TypeError as error:
        # Python's binding message names the function; rephrase it for the marker.
        accepted = ", ".join(f.name for f in fields(Budget))
        raise MarkerError(
            f"invalid @pytest.mark.{MARKER_NAME} on {item.nodeid}: {_binding_problem(error)}; "
            f"accepted keywords: {accepted}"
        ) from None
    except MarkerError as error:
        raise MarkerError(f"invalid @pytest.mark.{MARKER_NAME} on {item.nodeid}: {error}") from None


def _binding_problem(error: TypeError) -> str:
    message = str(error)
    return message.replace("load_budget() ", "").replace("takes 0 positional arguments", "takes keyword arguments only")


def describe(budget: Budget) -> dict[str, Any]:
    return {f.name: getattr(budget, f.name) for f in fields(Budget) if getattr(budget, f.name) is not None}
