"""Where the baseline artifact comes from: a git revision of the tests' repository, or a directory.

``--loadbudget-against=SOURCE``: a revision (``origin/main``, ``HEAD~1``, a
SHA) or an existing directory. A model loaded from ``models/m.keras`` is
looked up at the same path relative to the repository root (git) or to the
directory. Git content is written once per session into a temporary
directory, the model's files only (a directory model whole: a SavedModel,
a TF.js ``model.json`` with its shards). A path that leaves the repository
or the directory (``..``, a symbolic link out of it) is refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pytest_loadbudget.errors import LoadBudgetError

#: The first line of a Git LFS pointer file: the blob is a stand-in for content kept elsewhere.
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1\n"
#: A pointer file is small (about 130 bytes); a model is not.
LFS_POINTER_MAX_BYTES = 1024
GIT_TIMEOUT_S = 120.0


class SourceError(LoadBudgetError):
    """SOURCE is neither a revision nor a directory, or git failed on it."""


@dataclass
class Found:
    """The baseline's copy of a model: ``path`` to load (a file, or a directory model)."""

    path: Path


@dataclass
class Absent:
    """Nothing at SOURCE for this model, with why (a new model, or a path that cannot be looked up)."""

    why: str


@dataclass
class Unusable:
    """Something at SOURCE that cannot be loaded as it is (an LFS pointer, a path leaving the repository)."""

    why: str


Lookup = Found | Absent | Unusable


@dataclass
class Source:
    """A SOURCE resolved once per session; ``lookup`` gives each model's baseline copy."""

    spec: str
    #: Where the copies are read: the repository's top directory (git), or the directory SOURCE names.
    root: Path
    #: What a candidate's path is taken relative to: the repository's top directory, else the rootdir.
    base: Path
    #: The full commit id for a revision; "" for a directory.
    commit: str = ""
    _materialized: Path | None = field(default=None, repr=False)
    _cache: dict[str, Lookup] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """How lines name it: the revision as given (``origin/main``), or the directory."""
        return self.spec

    def lookup(self, candidate: Path, whole_directory: bool) -> Lookup:
        """The copy at SOURCE of ``candidate`` (a file, or a directory model when ``whole_directory``)."""
        key = f"{candidate}|{whole_directory}"
        if key not in self._cache:
            self._cache[key] = self._lookup(candidate, whole_directory)
        return self._cache[key]

    def _lookup(self, candidate: Path, whole_directory: bool) -> Lookup:
        relative = self._relative(candidate)
        if relative is None:
            return Absent(f"{candidate} is outside {self.base}: nothing to look up at {self.label}")
        return self._from_git(relative, whole_directory) if self.commit else self._from_directory(relative)

    def _relative(self, candidate: Path) -> PurePosixPath | None:
        """The path to look up: as the test named it (a link in the repository is looked up as the link,
        whose target at SOURCE may differ), else through the links, where only they lead into the repository."""
        for resolve in (os.path.abspath, os.path.realpath):
            path, base = Path(resolve(candidate)), Path(resolve(self.base))
            if path.is_relative_to(base):
                return PurePosixPath(path.relative_to(base).as_posix())
        return None

    def _from_directory(self, relative: PurePosixPath) -> Lookup:
        path = self.root / relative
        resolved = Path(os.path.realpath(path))
        if not resolved.is_relative_to(Path(os.path.realpath(self.root))):
            return Unusable(f"{relative} at {self.label} leads out of that directory (to {resolved}): refused")
        if not path.exists():
            return Absent(f"{relative} is not in {self.label}: a new model")
        for inner in (path.rglob("*") if path.is_dir() else []):
            inner_resolved = Path(os.path.realpath(inner))
            if not inner_resolved.is_relative_to(Path(os.path.realpath(self.root))):
                return Unusable(f"{inner.relative_to(self.root)} at {self.label} leads out of that directory: refused")
        return Found(path)

    def _from_git(self, relative: PurePosixPath, whole_directory: bool) -> Lookup:
        listed = _git(self.root, "ls-tree", "-r", "-z", "--full-tree", self.commit, "--", str(relative))
        entries = [entry for entry in listed.split("\0") if entry]
        if not entries:
            return Absent(f"{relative} is not at {self.label} ({self.commit[:12]}): a new model")
        target = self._materialized_root() / relative
        for entry in entries:
            meta, _, name = entry.partition("\t")
            mode, kind, oid = meta.split()
            path = PurePosixPath(name)
            if kind != "blob":
                continue  # a submodule: no content at this revision
            if not whole_directory and path != relative:
                continue
            data = _git_bytes(self.root, "cat-file", "blob", oid)
            if mode == "120000":
                link = PurePosixPath(os.path.normpath(str(path.parent / data.decode(errors="replace"))))
                if link.is_absolute() or (link.parts and link.parts[0] == ".."):
                    return Unusable(f"{path} at {self.label} is a symbolic link out of the repository "
                                    f"({data.decode(errors='replace')}): refused")
                data = _git_bytes(self.root, "show", f"{self.commit}:{link}")
            if data.startswith(LFS_POINTER_PREFIX) and len(data) <= LFS_POINTER_MAX_BYTES:
                data_or_why = _lfs_content(self.root, data, path, self.label)
                if isinstance(data_or_why, str):
                    return Unusable(data_or_why)
                data = data_or_why
            destination = self._materialized_root() / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        if not target.exists():
            return Absent(f"{relative} is not a file at {self.label}")
        return Found(target)

    def _materialized_root(self) -> Path:
        if self._materialized is None:
            self._materialized = Path(tempfile.mkdtemp(prefix=f"loadbudget-against-{self.commit[:12]}-"))
        return self._materialized

    def close(self) -> None:
        """Remove what was written for a revision."""
        if self._materialized is not None:
            shutil.rmtree(self._materialized, ignore_errors=True)
            self._materialized = None
        self._cache.clear()


def repository_top(start: Path) -> Path | None:
    """The top directory of the git repository holding ``start``; None outside one (or without git)."""
    if shutil.which("git") is None:
        return None
    try:
        return Path(_git(start, "rev-parse", "--show-toplevel").strip())
    except SourceError:
        return None


def resolve_source(spec: str, start: Path) -> Source:
    """SOURCE as a directory (when one exists there) or a revision of the repository holding ``start``.

    ``start``: the rootdir. Candidates' paths are taken relative to the
    repository's top directory, else to ``start``. Raises SourceError naming
    SOURCE and what it is not. SOURCE reaches git after ``--end-of-options``:
    one that begins with ``-`` is never an option.
    """
    if not spec.strip():
        raise SourceError("--loadbudget-against is empty: give a git revision (origin/main, HEAD~1, a SHA) "
                          "or a directory")
    as_directory = Path(spec).expanduser()
    if not as_directory.is_absolute():
        as_directory = start / as_directory
    if as_directory.is_dir():
        return Source(spec=spec, root=as_directory.resolve(), base=repository_top(start) or start)
    if shutil.which("git") is None:
        raise SourceError(f"--loadbudget-against={spec}: no directory of that name, and git is not installed "
                          "to read it as a revision")
    try:
        top = _git(start, "rev-parse", "--show-toplevel").strip()
    except SourceError:
        raise SourceError(f"--loadbudget-against={spec}: no directory of that name, and {start} is not in a git "
                          "repository to read it as a revision") from None
    try:
        commit = _git(Path(top), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}").strip()
    except SourceError:
        commit = ""
    if not commit:
        raise SourceError(f"--loadbudget-against={spec}: neither a directory nor a revision of the repository "
                          f"at {top} (a shallow clone may lack it: fetch with fetch-depth: 0)")
    return Source(spec=spec, root=Path(top), base=Path(top), commit=commit)


def _lfs_content(top: Path, pointer: bytes, path: PurePosixPath, label: str) -> bytes | str:
    """The content a Git LFS pointer stands for, or why it cannot be had."""
    fields = dict(line.split(" ", 1) for line in pointer.decode(errors="replace").splitlines() if " " in line)
    described = f"{path} at {label} is a Git LFS pointer ({fields.get('oid', '?')}, {fields.get('size', '?')} bytes)"
    if shutil.which("git-lfs") is None:
        return f"{described}, and git-lfs is not installed to fetch it (apt-get install git-lfs, then git lfs fetch)"
    try:
        run = subprocess.run(["git", "lfs", "smudge", "--", str(path)], cwd=top, input=pointer,
                             capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{described}, and git lfs smudge failed: {error}"
    if run.returncode != 0 or run.stdout.startswith(LFS_POINTER_PREFIX):
        problem = run.stderr.decode(errors="replace").strip().splitlines()
        return f"{described}, and git-lfs could not fetch it: {problem[-1] if problem else 'no content'}"
    return run.stdout


def _git(cwd: Path, *args: str) -> str:
    return _git_bytes(cwd, *args).decode(errors="replace")


def _git_bytes(cwd: Path, *args: str) -> bytes:
    try:
        run = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SourceError(f"git {' '.join(args)} failed: {error}") from None
    if run.returncode != 0:
        message = run.stderr.decode(errors="replace").strip()
        raise SourceError(f"git {' '.join(args)} failed: {message}")
    return run.stdout
