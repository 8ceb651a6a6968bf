"""Read and validate the model entries of a pyproject.toml or loadbudget.toml.

An entry is a ``path`` glob, any ``load_budget`` keyword (validated by the
``Budget`` dataclass itself, so the two never disagree) and the options of
``load_model``: ``format``, ``name``, ``warmup``, ``files`` and ``options``
(keyword arguments for the loader). Every problem is a ConfigError that names
the file, the entry (its number and path) and what is wrong.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pytest_loadbudget.budget.marker import Budget
from pytest_loadbudget.config import TABLES
from pytest_loadbudget.errors import LoadBudgetError, MarkerError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published before it joined the standard library
    import tomli as tomllib

#: What an entry says besides its budget: which files, and how ``load_model`` loads them.
LOAD_KEYS = ("path", "format", "name", "warmup", "files", "options")
BUDGET_KEYS = tuple(keyword.name for keyword in fields(Budget))


class ConfigError(LoadBudgetError):
    """A configuration file, or one of its entries, that cannot be used as written."""


@dataclass(frozen=True)
class ModelEntry:
    """One ``[[...models]]`` entry, validated.

    ``where`` names it in messages: the file, the table, its number (from 1)
    and its glob. Globs and ``files`` are relative to ``base``, the directory
    of the configuration file.
    """

    where: str
    base: Path
    pattern: str
    budget: Budget
    format: str | None = None
    name: str | None = None
    #: True: the automatic warm-up (zeros shaped like the inputs); False: none.
    warmup: bool = True
    files: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def artifacts(self) -> list[str]:
        """The paths the glob matches, relative to ``base`` with forward slashes, sorted.

        Files and directories (a SavedModel) alike. Raises ConfigError when
        nothing matches: a budget that checks nothing must not pass silently.
        """
        matched = glob.glob(self.pattern, root_dir=self.base, recursive=True)
        found = sorted({os.path.normpath(path).replace(os.sep, "/") for path in matched})
        if not found:
            raise ConfigError(f"{self.where}: the glob matches nothing under {self.base}")
        if self.name is not None and len(found) > 1:
            raise ConfigError(f"{self.where}: name={self.name!r} would be given to {len(found)} models "
                              f"({', '.join(found[:3])}{', ...' if len(found) > 3 else ''}); "
                              "name one model per entry")
        return found


def read_entries(path: Path, shown: str) -> list[ModelEntry]:
    """The entries of the configuration file at ``path`` (``shown``: how messages name it).

    A pyproject.toml without ``[tool.loadbudget]`` has none. Raises ConfigError.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{shown}: cannot be read as TOML: {error}") from None
    # Any other name (entries written by --loadbudget-suggest=PATH) reads as a loadbudget.toml.
    table = TABLES.get(path.name, TABLES["loadbudget.toml"])
    *parents, key = table.split(".")
    for name in parents:
        document = document.get(name, {})
        if not isinstance(document, dict):
            raise ConfigError(f"{shown}: [{name}] must be a table")
    unknown = sorted(set(document) - {key})
    if unknown:
        # A misspelt [[tool.loadbudget.model]] would otherwise budget nothing, silently.
        raise ConfigError(f"{shown}: unknown key {'.'.join([*parents, unknown[0]])!r}; accepted: {table}")
    raw = document.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError(f"{shown}: {table} must be an array of tables, written [[{table}]]")
    return [_entry(item, f"{shown}: [[{table}]] entry {number}", path.parent)
            for number, item in enumerate(raw, start=1)]


def _entry(raw: dict[str, Any], where: str, base: Path) -> ModelEntry:
    pattern = raw.get("path")
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(f"{where}: path must be a glob such as \"models/*.tflite\", not {pattern!r}")
    where = f"{where} (path {pattern!r})"
    unknown = sorted(set(raw) - set(LOAD_KEYS) - set(BUDGET_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; accepted: {', '.join(LOAD_KEYS + BUDGET_KEYS)}")
    try:
        budget = Budget(**{name: value for name, value in raw.items() if name in BUDGET_KEYS})
    except MarkerError as error:
        raise ConfigError(f"{where}: {error}") from None
    return ModelEntry(
        where=where, base=base, pattern=pattern, budget=budget,
        format=_format(raw.get("format"), where),
        name=_text(raw, "name", where),
        warmup=_warmup(raw.get("warmup", True), where),
        files=tuple(_files(raw.get("files", []), where)),
        options=_table(raw.get("options", {}), where),
    )


def _text(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}: {key}={value!r} must be a non-empty string")
    return value


def _format(value: Any, where: str) -> str | None:
    if value is None:
        return None
    from pytest_loadbudget.formats import format_named

    try:
        if not isinstance(value, str):
            raise ValueError("a format is named by a string")
        return format_named(value).name
    except ValueError as error:
        raise ConfigError(f"{where}: format={value!r}: {error}") from None


def _warmup(value: Any, where: str) -> bool:
    # TOML has no null: the automatic warm-up is true (or "auto"), none is false.
    if isinstance(value, bool):
        return value
    if value == "auto":
        return True
    raise ConfigError(f"{where}: warmup={value!r} must be true (or \"auto\": zeros shaped like the inputs) "
                      "or false (no warm-up)")


def _files(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f"{where}: files={value!r} must be a list of paths (extra files the load reads)")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: options={value!r} must be a table of keyword arguments for the loader")
    taken = sorted(set(value) & {"source", *LOAD_KEYS})
    if taken:
        raise ConfigError(f"{where}: options.{taken[0]} is a key of the entry itself, not a loader argument")
    return value
