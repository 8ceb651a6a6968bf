"""pytest-loadbudget: budgets on how ML models load.

Size on disk, load and warm-up time, peak and leaked memory, checked by a
``load_budget`` marker on tests that load models through ``load_model``.
"""

from __future__ import annotations

from .errors import LoadBudgetError, MarkerError, MeasurementError, ModelFileError, ModelLoadError
from .fixture import LoadModel
from .markers import Budget, load_budget
from .measure import MemoryFigures
from .record import ModelRecord

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
