"""Errors that name the file and the problem, and never take down the session."""

from __future__ import annotations

from pathlib import Path


class LoadBudgetError(Exception):
    """Base class of every error pytest-loadbudget reports to a test."""


class FileProblem(LoadBudgetError):
    """An error about one file: its message starts with the path, then says what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelFileError(FileProblem):
    """A model artifact is missing, truncated, corrupt or of an unknown kind."""


class ModelLoadError(FileProblem):
    """The framework failed to load an artifact that passed validation."""


class MarkerError(LoadBudgetError):
    """A ``load_budget`` marker or ``load_model`` call has a wrong argument."""


class MeasurementError(LoadBudgetError):
    """A measurement could not be taken (a child process crashed or timed out)."""


class BaselineError(FileProblem):
    """A stored baseline is unreadable, of an unknown schema, or cannot be locked."""
