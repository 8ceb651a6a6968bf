"""Model entries as collected test items: one per artifact an entry's glob matches.

The node id names the configuration file and the model
(``pyproject.toml::models/a.tflite``), so ``-k``, ``--lf``, xdist and JUnit
see an ordinary test. An item carries its entry's budget as a
``load_budget`` marker and loads through the same ``load_model`` as a test:
the session's models, budget checks, diagnosis, baselines and reports treat
both alike, and a test that loads the same model shares its measurement.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadbudget.budget.marker import describe
from pytest_loadbudget.config.entries import ConfigError, ModelEntry, read_entries
from pytest_loadbudget.errors import LoadBudgetError
from pytest_loadbudget.model.placement import PYTHON
from pytest_loadbudget.model.request import AUTO

if TYPE_CHECKING:
    from pytest_loadbudget.session.fixture import LoadModel

#: Gives an item the ``load_model`` it measures through (the session's, as a test gets).
LoaderFor = Callable[[pytest.Item], "LoadModel"]


class ConfigFile(pytest.File):
    """A pyproject.toml or loadbudget.toml whose entries name models to budget."""

    def __init__(self, *, loader_for: LoaderFor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loader_for = loader_for

    def collect(self) -> list[pytest.Item]:
        # Every entry is checked before any item is made: a file with one bad
        # entry is one collection error, not a partial set of budgets.
        try:
            planned = [(entry, artifact) for entry in read_entries(self.path, self.nodeid)
                       for artifact in entry.artifacts()]
        except ConfigError as error:
            raise self.CollectError(str(error)) from None
        taken: dict[str, str] = {}
        items: list[pytest.Item] = []
        for entry, artifact in planned:
            name = artifact + _placement_suffix(entry)
            if name in taken:
                raise self.CollectError(
                    f"{entry.where}: {artifact} is matched by {taken[name]} too; a model takes one budget "
                    "per runtime and device: narrow one of the globs")
            taken[name] = entry.where
            items.append(ConfigModelItem.from_parent(self, name=name, entry=entry, artifact=artifact,
                                                     loader_for=self.loader_for))
        return items


def _placement_suffix(entry: ModelEntry) -> str:
    """Tells apart items of one artifact measured in different places: "[node-wasm]", "[gpu]"."""
    budget = entry.budget
    if budget.runtime not in (None, PYTHON):
        words = [budget.runtime, budget.backend or "", budget.cache_policy or "", "worker" if budget.worker else ""]
        return "[" + "-".join(word for word in words if word) + "]"
    return f"[{budget.device}]" if budget.device else ""


class ConfigModelItem(pytest.Item):
    """One artifact of an entry, measured against the entry's budget."""

    def __init__(self, *, entry: ModelEntry, artifact: str, loader_for: LoaderFor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        #: The artifact's path relative to the configuration file's directory, as the glob matched it.
        self.artifact = artifact
        self._loader_for = loader_for
        # The plugin reads the budget at set-up from this marker, as it reads a test's.
        self.add_marker(pytest.mark.load_budget(**describe(entry.budget)))

    def runtest(self) -> None:
        entry = self.entry
        load_model = self._loader_for(self)
        load_model(
            Path(os.path.normpath(entry.base / self.artifact)),
            format=entry.format,
            name=entry.name,
            warmup=AUTO if entry.warmup else None,
            files=[entry.base / path for path in entry.files],
            **entry.options,
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, LoadBudgetError):
            # The error names the file and the problem; a traceback into the plugin adds nothing.
            return f"{excinfo.typename}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.entry.where}: {self.name}"


def collect_config_file(file_path: Path, parent: pytest.Collector, loader_for: LoaderFor) -> ConfigFile:
    """The collector of a configuration file that may hold model entries."""
    return ConfigFile.from_parent(parent, path=file_path, loader_for=loader_for)
