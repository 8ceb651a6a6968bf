"""``--loadbudget-suggest=config``: model entries set from this run, with headroom from its own noise.

A time budget must hold on every later run, not on this one: its headroom
comes from what this run saw. The start is the upper decile of the rounds the
budget judges (own time by default), which carries the run's spread; on top
goes a margin of ``BASE_MARGIN`` plus the share of the wall time the loading
thread waited for a CPU. Own time takes those waits out, but not everything a
busy machine costs (caches, memory bandwidth, helper threads): a run that
waited a lot is the one whose figures a quieter or busier machine will move
most. Sizes and memory keep the marker suggestion's fixed headroom: they do not
swing with the machine.
"""

from __future__ import annotations

import glob
import json
import os
import statistics
from pathlib import Path
from typing import Any

from pytest_loadbudget.measure.clock import waited_share
from pytest_loadbudget.report.suggest import HEADROOM, figures, round_up
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.session.request import PYTHON

#: The margin every suggested time gets over the upper decile, before contention.
BASE_MARGIN = 0.25
#: The quantile of the rounds a time budget starts from.
UPPER_QUANTILE = 0.9
#: A time figure's rounds (wall, own) in a record, by budget keyword.
TIME_FIGURES = {"ms": ("load_ms", "load_own_ms"), "warm_ms": ("warm_ms", "warm_own_ms")}


def upper_quantile(values: list[float], quantile: float = UPPER_QUANTILE) -> float:
    """The ``quantile`` of ``values`` (linear between the samples; the only value for one)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(quantile * 100) - 1]


def time_limit(judged: Samples, wall: Samples, own: Samples) -> tuple[float, float]:
    """The suggested budget for one time figure, ms, and the share of the wall time spent waiting.

    ``judged``: the rounds a budget would judge (own or wall time);
    ``wall``/``own``: the same rounds on both clocks, for the waiting share
    (0 where own time was not measured).
    """
    share = waited_share(sum(wall.values), sum(own.values)) if own else 0.0
    return upper_quantile(judged.values) * (1 + BASE_MARGIN + share), share


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
    notes = []
    measured = figures(record)
    for figure in HEADROOM:
        if figure not in measured:
            continue
        if figure in TIME_FIGURES:
            wall_name, own_name = TIME_FIGURES[figure]
            judged, used = record.timing(figure, clock)
            limit, share = time_limit(judged, getattr(record, wall_name), getattr(record, own_name))
            notes.append(f"{figure}: p{round(UPPER_QUANTILE * 100)} of {judged.count} rounds, {used} time, "
                         f"+{BASE_MARGIN + share:.0%} ({share:.0%} of the wall waiting for a CPU)")
        else:
            limit = measured[figure] * HEADROOM[figure]
        values[figure] = round_up(limit)
    if record.cold is not None and record.cold.total:
        judged, used = record.cold.timing(None, clock)
        limit, share = time_limit(judged, record.cold.total, record.cold.own_total)
        values["cold_ms"] = round_up(limit)
        notes.append(f"cold_ms: p{round(UPPER_QUANTILE * 100)} of {judged.count} fresh processes, {used} time, "
                     f"+{BASE_MARGIN + share:.0%}")
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
    headroom = (f"times: upper decile of the rounds + {BASE_MARGIN:.0%} + the share spent waiting for a CPU; "
                "size x1.1, peak x1.25, leak x2")
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
