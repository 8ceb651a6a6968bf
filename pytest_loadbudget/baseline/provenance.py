"""Where a saved run's code came from: the git commit, branch and uncommitted changes.

One ``git status`` in the rootdir, with a short timeout: outside a checkout,
without git, or with a git that hangs (a network file system), a run simply
has no provenance. ``--loadbudget-autosave`` names a run after its commit,
as pytest-benchmark does, so that ``--loadbudget-compare=<commit>`` finds it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

#: git status is instant in a checkout; more than this is a git that cannot answer.
GIT_TIMEOUT_S = 3.0
#: Characters of the commit id in an autosaved run's name (git's short ids are 7 or more).
SHORT_COMMIT = 8
#: Where CI services name the branch of a detached checkout (a pull request's head first).
_CI_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH")


def git_provenance(directory: Path, timeout: float = GIT_TIMEOUT_S) -> dict[str, Any] | None:
    """``{"commit", "branch", "dirty"}`` of the checkout ``directory`` is in; None outside one.

    ``commit``: the full id, None before the first commit; ``branch``: None
    when detached and no CI variable names it; ``dirty``: tracked files
    differ from the commit (untracked ones, saved runs among them, do not count).
    """
    try:
        completed = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # a status must not take the index lock from a user's git
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    commit = branch = None
    dirty = False
    for line in completed.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif not line.startswith("#"):
            dirty = True
    if branch is None:
        branch = next((os.environ[name] for name in _CI_BRANCH_VARIABLES if os.environ.get(name)), None)
    return {"commit": commit, "branch": branch, "dirty": dirty}


def autosave_name(provenance: dict[str, Any] | None) -> str:
    """The short commit id (``-dirty`` with uncommitted changes), else the date and time."""
    commit = provenance.get("commit") if provenance else None
    if not commit:
        return time.strftime("%Y%m%d-%H%M%S")
    return str(commit)[:SHORT_COMMIT] + ("-dirty" if provenance and provenance.get("dirty") else "")


def describe(provenance: dict[str, Any] | None) -> str:
    """``commit 1a2b3c4d on main, uncommitted changes``; "" without provenance."""
    if not provenance or not provenance.get("commit"):
        return ""
    text = f"commit {str(provenance['commit'])[:SHORT_COMMIT]}"
    if provenance.get("branch"):
        text += f" on {provenance['branch']}"
    return text + (", uncommitted changes" if provenance.get("dirty") else "")
