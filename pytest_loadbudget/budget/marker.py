"""The ``load_budget`` marker: one ``Budget`` dataclass that is its signature, help and validation.

``load_budget`` is the ``Budget`` class itself, so Python's own argument
binding rejects unknown keywords and positional arguments, and ``pytest
--markers`` shows a help line generated from the signature. Each keyword is
written once: a field whose metadata carry its unit (for the figures a budget
limits), what it means and how its value is checked.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import pytest

from pytest_loadbudget.budget.runtimes import validate_browser_features, validate_runtime
from pytest_loadbudget.budget.thresholds import parse_compare_fail
from pytest_loadbudget.errors import MarkerError
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.fresh.protocol import MAX_FLEET
from pytest_loadbudget.measure.devices import DEVICES

MARKER_NAME = "load_budget"
#: Processes of a fleet when a fleet_ms budget does not say: a small node's workers.
DEFAULT_FLEET = 4
#: Predictions for a predict_leak budget without ``predictions``: the "dies after 50-100 predictions" range.
DEFAULT_PREDICTIONS = 100

#: Checks one keyword's value (never None); raises MarkerError saying what is wrong.
Check = Callable[[str, Any], None]


def _positive_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MarkerError(f"{name}={value!r} must be a number")
    if not value > 0:
        raise MarkerError(f"{name}={value!r} must be greater than 0")


def _integer(minimum: int, why: str = "") -> Check:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise MarkerError(f"{name}={value!r} must be an integer of at least {minimum}{why}")

    return check


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise MarkerError(f"{name}={value!r} must be True or False")


def _device(name: str, value: Any) -> None:
    if value not in DEVICES:
        raise MarkerError(f"{name}={value!r} must be one of {', '.join(map(repr, DEVICES))}")


def _fleet_size(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FLEET:
        raise MarkerError(f"{name}={value!r} must be an integer from 1 to {MAX_FLEET} (processes started at once)")


def _interpreter(name: str, value: Any) -> None:
    # Imported here: the names live with the interpreters, which a budget without one does not need.
    from pytest_loadbudget.formats.tflite_interpreters import check_name

    check_name(name, value)


def _compare_fail(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise MarkerError(f"{name}={value!r} must be a string such as 'ms:10%,mb:0'")
    try:
        parse_compare_fail(value)
    except argparse.ArgumentTypeError as error:
        raise MarkerError(f"{name}={value!r}: {error}") from None


#: How a unit reads in the help.
UNIT_WORDS = {"ms": "milliseconds", "MiB": "MiB (2**20 bytes)"}


def _keyword(meaning: str, check: Check | None = None, *, limit: bool = False) -> Any:
    """A marker keyword, None (not set) by default; ``limit``: it limits the figure of its name."""
    return field(default=None, metadata={"meaning": meaning, "check": check, "limit": limit})


def _limit(meaning: str, check: Check = _positive_number) -> Any:
    """A keyword that limits the figure of its name, in that figure's unit (``figures.FIGURES``)."""
    return _keyword(meaning, check, limit=True)


@dataclass(frozen=True, kw_only=True)
class Budget:
    ms: float | None = _limit("median load time over the rounds")
    mb: float | None = _limit("bytes on disk of every file the load reads")
    warm_ms: float | None = _limit("median time of the first inference after a load")
    peak_mb: float | None = _limit(
        "resident memory the load and warm-up add at their peak, measured in a fresh process")
    leak_mb: float | None = _limit(
        "resident memory still held after `cycles` load/release cycles beyond what the first cycle held")
    cycles: int | None = _keyword(
        "load/release cycles for leak_mb (at least 2)", _integer(2, " (the first cycle is the reference)"))
    rounds: int | None = _keyword("timed load rounds; the default adapts to the load time", _integer(1))
    compare_fail: str | None = _keyword(
        "what counts as a regression against the baseline for this test, e.g. 'ms:30%,leak_mb:off', "
        "laid over --loadbudget-compare-fail", _compare_fail)
    device: str | None = _keyword(
        "'cpu' or 'gpu': where the model is placed and warmed; a test that asks for a GPU on a machine "
        "without one is skipped", _device)
    gpu_mb: float | None = _limit(
        "peak device memory of load plus warm-up in a fresh process "
        "(on runtime='browser' with backend='webgl': TF.js numBytesInGPU)")
    runtime: str | None = _keyword(
        "where a TF.js model is measured: 'python' (the default), 'node' (Node.js) or 'browser' (headless Chromium)")
    backend: str | None = _keyword("the TF.js backend: 'cpu' or 'wasm' (node), also 'webgl' (browser)")
    cache_policy: str | None = _keyword(
        "'cache' (default) or 'no-store': the Cache-Control the browser's model server answers; 'indexeddb': "
        "the first load over HTTP is saved to IndexedDB and later rounds load from there (at least 3 rounds)")
    worker: bool | None = _keyword(
        "runtime='browser': load and warm up in a dedicated Web Worker instead of on the page's main thread", _flag)
    block_ms: float | None = _limit(
        "runtime='browser': the page's longest main-thread task during the loads and warm-ups (Chrome's trace; "
        "the Long Tasks API where tracing is unavailable)")
    leak_tensors: int | None = _limit("TF.js tensors still alive after the model is disposed", _integer(0))
    cold_ms: float | None = _limit(
        "median cold start in a fresh Python: start-up, framework import, reading the files, load "
        "and first call")
    import_ms: float | None = _limit("median framework import of that cold start")
    cold_runs: int | None = _keyword("fresh processes for the cold figures (default 3)", _integer(1))
    cold_disk: bool | None = _keyword("evict the model's files from the page cache before each cold run", _flag)
    fleet: int | None = _keyword(
        f"fresh processes started at once, each doing the whole cold start (1 to {MAX_FLEET}; "
        f"{DEFAULT_FLEET} when only fleet_ms is set), set against a single cold start", _fleet_size)
    fleet_ms: float | None = _limit(
        "95th percentile of the cold starts of a fleet of processes started at once, wall time")
    interpreter: str | None = _keyword(
        "what runs a .tflite model: 'litert' (ai-edge-litert), 'tensorflow' (tf.lite) or 'tflite-runtime'; "
        "default: the first of them installed; other formats ignore it", _interpreter)
    predictions: int | None = _keyword(
        "predictions run on the warm model, each result read back and dropped, with tensors and memory read "
        f"after each (default off; {DEFAULT_PREDICTIONS} when a predict_leak budget is set)", _integer(1))
    predict_leak_tensors: int | None = _limit(
        "live tensors the predictions leave behind: growth over them, 0 for a model that frees its outputs",
        _integer(0))
    predict_leak_mb: float | None = _limit(
        "memory the predictions leave behind: TF.js numBytes in a TF.js runtime, resident memory in Python")

    def __post_init__(self) -> None:
        for keyword in fields(self):
            value = getattr(self, keyword.name)
            check = keyword.metadata["check"]
            if value is not None and check is not None:
                check(keyword.name, value)
        if (self.runtime, self.backend, self.cache_policy) != (None, None, None):
            validate_runtime(self.runtime, self.backend, self.cache_policy)
        if self.worker is not None or self.block_ms is not None or self.cache_policy is not None:
            validate_browser_features(self.runtime, self.cache_policy, self.worker, self.block_ms, self.rounds)

    def limits(self) -> dict[str, float]:
        """The figures this budget limits, by keyword."""
        return {name: value for name in LIMIT_KEYWORDS if (value := getattr(self, name)) is not None}

    @property
    def needs_cold(self) -> bool:
        # A fleet is set against the single cold start: it needs one too.
        return self.cold_ms is not None or self.import_ms is not None or self.cold_runs is not None \
            or self.fleet_size is not None

    @property
    def fleet_size(self) -> int | None:
        """Processes to start at once; None when nothing asks for a fleet."""
        if self.fleet is not None:
            return self.fleet
        return DEFAULT_FLEET if self.fleet_ms is not None else None

    @property
    def prediction_count(self) -> int | None:
        """Predictions to run for the per-prediction growth; None when nothing asks for them."""
        if self.predictions is not None:
            return self.predictions
        if self.predict_leak_tensors is not None or self.predict_leak_mb is not None:
            return DEFAULT_PREDICTIONS
        return None

    @property
    def needs_memory(self) -> bool:
        in_runtime = self.runtime not in (None, "python")
        return not in_runtime and (
            self.peak_mb is not None or self.leak_mb is not None or self.cycles is not None or self.gpu_mb is not None
        )


#: The marker: calling it binds and validates the keywords, and returns the Budget.
load_budget = Budget

#: The keywords that limit a figure, in the order of the signature.
LIMIT_KEYWORDS = tuple(keyword.name for keyword in fields(Budget) if keyword.metadata["limit"])


def _docstring() -> str:
    lines = [
        "Budget every model the test loads through ``load_model``; a keyword left None sets no limit.",
        "",
    ]
    for keyword in fields(Budget):
        unit = FIGURES[keyword.name].unit if keyword.metadata["limit"] else None
        in_unit = f", in {UNIT_WORDS[unit]}" if unit in UNIT_WORDS else ""
        lines.append(f"{keyword.name}: {keyword.metadata['meaning']}{in_unit}.")
    return "\n".join(lines)


Budget.__doc__ = _docstring()


def marker_help() -> str:
    """The line ``pytest --markers`` shows, built from the signature and the fields."""
    parameters = ", ".join(f"{p.name}={p.default!r}" for p in inspect.signature(Budget).parameters.values())
    by_unit: dict[str, list[str]] = {}
    for name in LIMIT_KEYWORDS:
        by_unit.setdefault(FIGURES[name].unit, []).append(name)
    limits = "; ".join(f"in {unit}: {', '.join(names)}" for unit, names in by_unit.items())
    return (
        f"{MARKER_NAME}({parameters}): fail the test when a model it loads through the load_model fixture "
        f"exceeds a budget (limits {limits}); help(pytest_loadbudget.Budget) says what each keyword means."
    )


def budget_from_item(item: pytest.Item) -> Budget | None:
    """The budget of the closest ``load_budget`` marker, validated.

    Raises MarkerError naming the test and the wrong argument.
    """
    marker = item.get_closest_marker(MARKER_NAME)
    if marker is None:
        return None
    try:
        return Budget(*marker.args, **marker.kwargs)
    except TypeError as error:
        accepted = ", ".join(keyword.name for keyword in fields(Budget))
        raise MarkerError(
            f"invalid @pytest.mark.{MARKER_NAME} on {item.nodeid}: {_binding_problem(error)}; "
            f"accepted keywords: {accepted}"
        ) from None
    except MarkerError as error:
        raise MarkerError(f"invalid @pytest.mark.{MARKER_NAME} on {item.nodeid}: {error}") from None


def _binding_problem(error: TypeError) -> str:
    """Python's binding message, said of the marker rather than of ``Budget.__init__``."""
    message = re.sub(r"^[\w.]+\(\) ", "", str(error))
    return re.sub(r"takes \d+ positional arguments? but \d+ (?:was|were) given", "takes keyword arguments only",
                  message)


def describe(budget: Budget) -> dict[str, Any]:
    """The keywords the budget sets, as JSON-safe values."""
    return {keyword.name: value for keyword in fields(Budget) if (value := getattr(budget, keyword.name)) is not None}
