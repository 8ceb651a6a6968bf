"""pytest-loadbudget: budgets on how ML models load.

Size on disk, load and warm-up time, peak and leaked memory, checked by a
``load_budget`` marker on tests that load models through ``load_model``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_loadbudget.errors import (
    LoadBudgetError,
    MarkerError,
    MeasurementError,
    ModelFileError,
    ModelLoadError,
)

if TYPE_CHECKING:
    from pytest_loadbudget.budget.marker import Budget, load_budget
    from pytest_loadbudget.results.memory import MemoryFigures
    from pytest_loadbudget.results.record import ModelRecord
    from pytest_loadbudget.session.fixture import LoadModel

#: Imported on first use: the fresh processes that measure a load import this
#: package, and pytest and the plugin's modules would add ~0.2 s to their start.
_LAZY = {
    "LoadModel": "session.fixture",
    "Budget": "budget.marker",
    "load_budget": "budget.marker",
    "MemoryFigures": "results.memory",
    "ModelRecord": "results.record",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "Budget",
    "LoadBudgetError",
    "LoadModel",
    "MarkerError",
    "MeasurementError",
    "MemoryFigures",
    "ModelFileError",
    "ModelLoadError",
    "ModelRecord",
    "load_budget",
]
