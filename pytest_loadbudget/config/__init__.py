"""Budgets from configuration: model files named by globs in a TOML file, no test code.

``[[tool.loadbudget.models]]`` in pyproject.toml, or ``[[models]]`` in a
loadbudget.toml, each entry a glob plus marker keywords and ``load_model``
options. Every matching artifact is collected as a test item measured like a
``load_model`` call. This module stays light: the plugin asks it, for every file pytest
collects, whether the file is one of these.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Where the entries are read, by file name: the table that holds them.
TABLES = {"pyproject.toml": "tool.loadbudget.models", "loadbudget.toml": "models"}


def may_declare_models(path: Path) -> bool:
    """Whether ``path`` is a configuration file that may hold entries (a cheap look, no parsing).

    A pyproject.toml that never says "loadbudget" is some other tool's and is
    never parsed; a loadbudget.toml is always ours.
    """
    if path.name not in TABLES:
        return False
    if path.name == "loadbudget.toml":
        return True
    try:
        return "loadbudget" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def collect_root_config(config: pytest.Config) -> None:
    """When pytest collects its ``testpaths``, collect the rootdir's model entries too.

    A project's pyproject.toml sits above its test folders, where pytest never
    looks for files when ``testpaths`` is set: without this, its entries would
    budget nothing whenever ``pytest`` runs bare. Paths given on the command
    line are left as they are: the user picked what to run.
    """
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        return
    chosen = [Path(os.path.abspath(config.rootpath / arg.split("::")[0])) for arg in config.args]
    for name in TABLES:
        candidate = config.rootpath / name
        if not candidate.is_file() or not may_declare_models(candidate) or any(candidate.is_relative_to(path) for path in chosen):
            continue
        from pytest_loadbudget.config.entries import ConfigError, read_entries

        try:
            wanted = bool(read_entries(candidate, name))
        except ConfigError:
            wanted = True  # collected, so that the error shows where the entries would have run
        if wanted:
            config.args.append(str(candidate))
