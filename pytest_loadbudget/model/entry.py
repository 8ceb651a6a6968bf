"""A model of the session: its request, its figures, the loaded model, and what was measured of it.

The session's cache makes one per request key; the test's stash lists those
it used, and the verdicts are judged on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.record import ModelRecord


@dataclass(eq=False)
class Entry:
    request: LoadRequest
    record: ModelRecord
    model: Any = None
    #: The first attempt's error, raised again on every later use (not loaded twice).
    error: Exception | None = None
    memory_cycles: int = field(default=0)
    cold_key: tuple[int, bool] | None = None
    fleet_key: tuple[int, bool] | None = None
    #: The regression gate's second measurement (``remeasure_timings``), and the parts it holds.
    second: ModelRecord | None = None
    second_parts: set[str] = field(default_factory=set)
