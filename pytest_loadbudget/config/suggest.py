"""``--loadbudget-suggest=config``: model entries set from this run, with the headroom markers get.

Each entry names where its model was measured (runtime, backend, cache
policy, worker, device) and the limits ``report/suggest.py`` sets from this
run's figures: the one rule for suggested budgets, whatever form they take.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

from pytest_loadbudget.model.placement import PYTHON
from pytest_loadbudget.report.suggest import headroom_words, suggested_limits
from pytest_loadbudget.results.record import ModelRecord


def entry_values(record: ModelRecord, clock: str) -> tuple[dict[str, float | str | bool], list[str]]:
    """The keywords of a model's suggested entry (placement, then limits) and why each time is what it is."""
    values: dict[str, float | str | bool] = {}
    words = record.runtime.split()
    if words and words[0] != PYTHON:
        values.update(zip(("runtime", "backend", "cache_policy"), words))
        if words[3:] == ["worker"]:
            # The browser label ends in "worker" for a model loaded in a Web Worker: measured apart from the page.
            values["worker"] = True
    elif record.device.startswith("gpu"):
        values["device"] = "gpu"
    limits, notes = suggested_limits(record, clock)
    values.update(limits)
    return values, notes


def config_text(records: list[ModelRecord], base: Path, table: str, clock: str) -> str:
    """TOML entries for every model loaded from a path, globs relative to ``base``.

    Models loaded by a function have no path to name: a comment says so.
    """
    blocks = []
    for record in sorted(records, key=lambda record: (record.path or "", record.runtime)):
        if record.error is not None:
            continue
        if record.path is None:
            blocks.append(f"# {record.name}: loaded by a function, budget it with a load_budget marker")
            continue
        values, notes = entry_values(record, clock)
        lines = [f"# {record.name}: {'; '.join(notes)}"] if notes else []
        lines += [f"[[{table}]]", f"path = {_toml(_glob_for(Path(record.path), base))}"]
        lines += [f"{name} = {_toml(value)}" for name, value in values.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _glob_for(path: Path, base: Path) -> str:
    """The path relative to ``base`` (absolute when on another drive), as a glob that matches only it."""
    try:
        relative = os.path.relpath(path, base)
    except ValueError:
        relative = str(path)
    return glob.escape(relative.replace(os.sep, "/"))


def _toml(value: Any) -> str:
    # A JSON string is a TOML basic string for every character a path or a runtime holds;
    # JSON's true and false are TOML's too.
    return json.dumps(value) if isinstance(value, (str, bool)) else repr(value)


def write_config_suggestions(terminal: Any, records: list[ModelRecord], target: str, rootdir: Path,
                             clock: str) -> None:
    """The ``--loadbudget-suggest=config`` section, or the entries written to ``target`` (a .toml path)."""
    terminal.write_sep("=", "loadbudget suggested budgets")
    headroom = headroom_words()
    if target == "config":
        terminal.write_line(f"this run's figures plus headroom ({headroom}), for pyproject.toml:")
        for line in config_text(records, rootdir, "tool.loadbudget.models", clock).splitlines():
            terminal.write_line(line)
        return
    path = Path(target) if Path(target).is_absolute() else rootdir / target
    try:
        path.write_text(config_text(records, path.parent, "models", clock), encoding="utf-8")
    except OSError as error:
        terminal.write_line(f"loadbudget: could not write the suggested entries to {path}: {error}", yellow=True)
        return
    terminal.write_line(f"wrote this run's figures plus headroom ({headroom}) to {path}")
