"""Saved runs: human-readable JSON files under a directory you can commit or cache.

Layout: ``<storage>/<machine id>/<NNNN>_<name>.json``, one file per saved run,
never rewritten. The machine id is the hardware's (or ``--loadbudget-machine``'s
name); the run also records its software and, in a git checkout, its commit.
A save takes a file lock, writes a temporary file in the same directory,
fsyncs it and renames it into place, so a reader (or a run killed mid-save)
never leaves a half-written baseline. A file that cannot be read is reported
and left as it is. "Newest" means the latest ``created`` time written in the
file, not the highest number: folders merged from several CI jobs, or
restored from a cache, number their runs independently.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from pytest_loadbudget.atomic import write_atomically
from pytest_loadbudget.baseline import legacy
from pytest_loadbudget.baseline.fingerprint import machine_id, split_facts
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.results.record import ModelRecord

SCHEMA = "pytest-loadbudget/run"
#: 2: the machine id hashes the hardware alone, software and provenance are
#: recorded beside it, each model carries its identity. 1 is still read.
SCHEMA_VERSION = 2
LOCK_NAME = ".lock"
_FILE_PATTERN = re.compile(r"^(\d{4,})_(.+)\.json$")
#: Schema 1 machine ids ended with the Python version and a hash of every fact.
_LEGACY_FOLDER = re.compile(r"-py\d+\.\d+-[0-9a-f]{10}$")
_CREATED = re.compile(r'"created":\s*"([^"]*)"')
_HEAD_BYTES = 4096


@dataclass
class SavedRun:
    """A saved run, read back. ``machine_id``: its machine (for schema 1, the
    hardware id its facts give today; "" when they cannot, ``problems`` says why)."""

    path: Path
    name: str
    created: str
    machine_id: str
    hardware: dict[str, Any]
    software: dict[str, Any]
    provenance: dict[str, Any] | None
    records: list[ModelRecord]
    version: int = SCHEMA_VERSION
    #: Each record with every identity it answers to, best first.
    entries: list[tuple[ModelRecord, list[str]]] = field(default_factory=list)
    #: What could not be mapped from schema 1, one line each, naming the file.
    problems: list[str] = field(default_factory=list)
    _index: dict[str, ModelRecord] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for record, identities in self.entries:
            for identity in identities:
                self._index.setdefault(identity, record)

    def record(self, identity: str) -> ModelRecord | None:
        """The figures saved for the model known as ``identity``, if any."""
        return self._index.get(identity)

    @property
    def created_at(self) -> datetime:
        return _when(self.created, self.path)


def run_document(
    name: str, folder: str, hardware: dict[str, Any], software: dict[str, Any],
    provenance: dict[str, Any] | None, records: list[ModelRecord],
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "name": name,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine_id": folder,
        "machine": hardware,
        "software": software,
        "provenance": provenance,
        "models": [record.to_dict() for record in records],
    }


def read_run(path: Path) -> SavedRun:
    """Read one saved run; raises BaselineError naming the file and the problem."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BaselineError(path, f"cannot be read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(path, f"corrupt baseline, not valid JSON ({error}); left untouched") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise BaselineError(path, "not a pytest-loadbudget baseline (no 'schema' of pytest-loadbudget/run)")
    version = document.get("version")
    if not isinstance(version, int):
        raise BaselineError(path, "baseline without a schema version")
    if version > SCHEMA_VERSION:
        raise BaselineError(
            path, f"written by a newer pytest-loadbudget (schema {version}, this one reads up to {SCHEMA_VERSION}): upgrade"
        )
    try:
        return _saved_run(path, document, version)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BaselineError(path, f"corrupt baseline, a field is missing or malformed ({error!r}); left untouched") from None


def _saved_run(path: Path, document: dict[str, Any], version: int) -> SavedRun:
    records = [ModelRecord.from_dict(model) for model in document["models"]]
    facts = dict(document.get("machine") or {})
    problems: list[str] = []
    if version >= 2:
        hardware, software = facts, dict(document.get("software") or {})
        folder = str(document["machine_id"])
    else:
        hardware, software = split_facts(facts)
        folder, why = legacy.hardware_id(facts)
        if why:
            problems.append(f"{path} (schema 1): {why}; it counts as another machine")
    entries = []
    for record in records:
        if record.error is not None:
            continue  # a model that failed to load has no figures to compare
        if version >= 2:
            # A record built without a request (a tool's, a test's) is known by its key.
            entries.append((record, [record.identity or record.key]))
            continue
        identities, why = legacy.identities(record)
        if why:
            problems.append(f"{path} (schema 1): {record.name} is compared only with other schema 1 runs: {why}")
        # Last, the key itself: schema 1 runs still match each other as they always did.
        entries.append((record, [*identities, record.key]))
    provenance = document.get("provenance")
    return SavedRun(
        path=path, name=str(document["name"]), created=str(document.get("created", "")), machine_id=folder,
        hardware=hardware, software=software, provenance=dict(provenance) if provenance else None,
        records=records, version=version, entries=entries, problems=problems,
    )


class BaselineStore:
    def __init__(self, directory: Path, lock_timeout: float = 60.0) -> None:
        self.directory = directory
        self.lock_timeout = lock_timeout
        self._legacy_ids: dict[Path, str] = {}

    def _lock(self) -> FileLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / LOCK_NAME), timeout=self.lock_timeout)

    def save(
        self, name: str, facts: dict[str, Any], records: list[ModelRecord],
        provenance: dict[str, Any] | None = None, machine: str | None = None,
    ) -> Path:
        """Store a run as the next numbered file of its machine; returns its path.

        ``facts``: hardware and software, as ``machine_facts`` gives them;
        ``machine``: the folder's name when the user named the machine, else
        the hardware's id.
        """
        hardware, software = split_facts(facts)
        folder_name = machine or machine_id(hardware)
        document = run_document(_safe_name(name), folder_name, hardware, software, provenance, records)
        folder = self.directory / folder_name
        lock = self._lock()
        try:
            with lock:
                folder.mkdir(parents=True, exist_ok=True)
                number = max((_number(path) for path in folder.glob("*.json")), default=0) + 1
                path: Path = folder / f"{number:04d}_{document['name']}.json"
                write_atomically(path, json.dumps(document, indent=1) + "\n")
        except Timeout:
            raise BaselineError(
                lock.lock_file,
                f"could not take the lock within {self.lock_timeout:g} s: another run is saving "
                "(if none is, delete this lock file)",
            ) from None
        return path

    def runs(self, machine: str | None = None) -> list[Path]:
        """Saved runs, by folder and number; of one machine (its schema 1 folders too), or of all."""
        folders = self.folders(machine) if machine else sorted(p for p in self.directory.glob("*") if p.is_dir())
        paths = [path for folder in folders for path in folder.glob("*.json") if _FILE_PATTERN.match(path.name)]
        return sorted(paths, key=lambda path: (path.parent.name, _number(path)))

    def folders(self, machine: str) -> list[Path]:
        """The folders of ``machine``: its own, and those of schema 1 whose hardware maps to it."""
        own = self.directory / machine
        legacy_folders = sorted(p for p in self.directory.glob("*") if p.is_dir() and _LEGACY_FOLDER.search(p.name))
        return ([own] if own.is_dir() else []) + [p for p in legacy_folders if self._legacy_id(p) == machine]

    def _legacy_id(self, folder: Path) -> str:
        """The hardware id of a schema 1 folder: every run in it shares the facts; the first readable says."""
        if folder not in self._legacy_ids:
            self._legacy_ids[folder] = ""
            for path in sorted(folder.glob("*.json")):
                try:
                    facts = json.loads(path.read_text(encoding="utf-8")).get("machine") or {}
                except (OSError, ValueError, AttributeError):
                    continue
                self._legacy_ids[folder] = legacy.hardware_id(facts)[0]
                break
        return self._legacy_ids[folder]

    def newest_first(self, paths: list[Path]) -> list[Path]:
        """``paths`` by the creation time written in each, newest first (file times where unreadable)."""
        return sorted(paths, key=lambda path: (_created_at(path), _number(path), path.name), reverse=True)

    def find(self, spec: str | None, machine: str) -> Path:
        """The run ``spec`` names: None for the newest of this machine, a number, a name or a path.

        A number or name is looked up for this machine first, then for any
        other; of several matches, the newest.
        """
        if spec is not None:
            candidate = Path(spec)
            if candidate.suffix == ".json" and candidate.exists():
                return candidate
        for paths in (self.runs(machine), self.runs()):
            matches = [path for path in paths if spec is None or _matches(path, spec)]
            if matches:
                return self.newest_first(matches)[0]
        what = "no saved run for this machine" if spec is None else f"no saved run named or numbered {spec!r}"
        raise BaselineError(self.directory / machine, f"{what} (save one with --loadbudget-save)")


def _created_at(path: Path) -> datetime:
    # Read from the head of the file, where every save writes it: choosing
    # among runs of 500 models must not parse megabytes of samples.
    try:
        with path.open("rb") as stream:
            head = stream.read(_HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        head = ""
    match = _CREATED.search(head)
    return _when(match.group(1) if match else "", path)


def _when(created: str, path: Path) -> datetime:
    """A run's creation time; its file's modification time where the run does not say."""
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except OSError:
            return datetime.min.replace(tzinfo=timezone.utc)
    return when if when.tzinfo is not None else when.astimezone()


def _matches(path: Path, spec: str) -> bool:
    match = _FILE_PATTERN.match(path.name)
    if match is None:
        return False
    number, name = match.groups()
    return spec in (name, path.stem) or (spec.isdigit() and int(spec) == int(number))


def _number(path: Path) -> int:
    match = _FILE_PATTERN.match(path.name)
    return int(match.group(1)) if match else 0


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned or time.strftime("%Y%m%d-%H%M%S")
