"""Keeping a storage of saved runs from growing forever: the newest N runs of each machine.

A run belongs to the machine it was measured on, as the gate reads it (a
schema 1 folder counts with the hardware its facts map to); "newest" is
the creation time written in each run, as everywhere else. A file that
cannot be read as a saved run (corrupt, another tool's, a newer schema) is
never removed and never counted: a person should look at it, and a newer
pytest-loadbudget may still read it. Removal holds the storage's lock, so
a run saving meanwhile is not disturbed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from pytest_loadbudget.baseline.storage import LOCK_NAME, BaselineStore, read_run
from pytest_loadbudget.errors import BaselineError


@dataclass
class PrunePlan:
    """What ``--keep`` leaves: ``remove`` and ``keep`` by machine, and the files left alone (``unreadable``)."""

    remove: dict[str, list[Path]] = field(default_factory=dict)
    keep: dict[str, list[Path]] = field(default_factory=dict)
    #: One line each: the file and why it could not be read.
    unreadable: list[str] = field(default_factory=list)

    @property
    def removed_count(self) -> int:
        return sum(len(paths) for paths in self.remove.values())


def plan_prune(store: BaselineStore, keep: int) -> PrunePlan:
    """Which runs to remove so that each machine keeps its newest ``keep``."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    plan = PrunePlan()
    by_machine: dict[str, list[Path]] = defaultdict(list)
    for path in store.runs():
        try:
            run = read_run(path)
        except BaselineError as error:
            plan.unreadable.append(str(error))
            continue
        # A schema 1 run whose hardware is unknown: its folder is all that says where it ran.
        by_machine[run.machine_id or path.parent.name].append(path)
    for machine, paths in sorted(by_machine.items()):
        newest_first = store.newest_first(paths)
        plan.keep[machine] = newest_first[:keep]
        if newest_first[keep:]:
            plan.remove[machine] = newest_first[keep:]
    return plan


def remove_runs(store: BaselineStore, plan: PrunePlan) -> dict[Path, str]:
    """Delete the runs ``plan`` removes, under the storage's lock; the files not deleted, and why."""
    lock = FileLock(str(store.directory / LOCK_NAME), timeout=store.lock_timeout)
    problems: dict[Path, str] = {}
    try:
        with lock:
            for paths in plan.remove.values():
                for path in paths:
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        continue  # removed meanwhile: the goal is reached
                    except OSError as error:
                        problems[path] = f"could not be removed ({error.strerror or error})"
    except Timeout:
        raise BaselineError(lock.lock_file, f"could not take the lock within {store.lock_timeout:g} s: "
                                            "a run is saving (if none is, delete this lock file)") from None
    return problems
