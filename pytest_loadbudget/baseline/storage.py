"""Saved runs: human-readable JSON files under a directory you can commit or cache.

Layout: ``<storage>/<machine id>/<NNNN>_<name>.json``, one file per saved run,
never rewritten. A save takes a file lock, writes a temporary file in the same
directory, fsyncs it and renames it into place, so a reader (or a run killed
mid-save) never leaves a half-written baseline. A file that cannot be read is
reported and left as it is.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from pytest_loadbudget.atomic import write_atomically
from pytest_loadbudget.errors import BaselineError
from pytest_loadbudget.baseline.fingerprint import machine_id
from pytest_loadbudget.results.record import ModelRecord

SCHEMA = "pytest-loadbudget/run"
SCHEMA_VERSION = 1
LOCK_NAME = ".lock"
_FILE_PATTERN = re.compile(r"^(\d{4,})_(.+)\.json$")


@dataclass
class SavedRun:
    path: Path
    name: str
    created: str
    machine: dict[str, Any]
    machine_id: str
    records: list[ModelRecord]

    def record(self, key: str) -> ModelRecord | None:
        return next((record for record in self.records if record.key == key), None)


def run_document(name: str, machine: dict[str, Any], records: list[ModelRecord]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine_id": machine_id(machine),
        "machine": machine,
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
        records = [ModelRecord.from_dict(model) for model in document["models"]]
        return SavedRun(
            path=path,
            name=str(document["name"]),
            created=str(document.get("created", "")),
            machine=dict(document.get("machine", {})),
            machine_id=str(document.get("machine_id", "")),
            records=records,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BaselineError(path, f"corrupt baseline, a field is missing or malformed ({error!r}); left untouched") from None


class BaselineStore:
    def __init__(self, directory: Path, lock_timeout: float = 60.0) -> None:
        self.directory = directory
        self.lock_timeout = lock_timeout

    def _lock(self) -> FileLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / LOCK_NAME), timeout=self.lock_timeout)

    def save(self, name: str, machine: dict[str, Any], records: list[ModelRecord]) -> Path:
        """Store a run as the next numbered file for this machine; returns its path."""
        document = run_document(_safe_name(name), machine, records)
        folder = self.directory / document["machine_id"]
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
        """Saved runs, oldest first; of one machine, or of all."""
        folders = [self.directory / machine] if machine else sorted(p for p in self.directory.glob("*") if p.is_dir())
        paths = [path for folder in folders for path in folder.glob("*.json") if _FILE_PATTERN.match(path.name)]
        return sorted(paths, key=lambda path: (path.parent.name, _number(path)))

    def find(self, spec: str | None, machine: str) -> Path:
        """The run ``spec`` names: None for the latest of this machine, a number, a name or a path.

        A number or name is looked up for this machine first, then for any other.
        """
        if spec is not None:
            candidate = Path(spec)
            if candidate.suffix == ".json" and candidate.exists():
                return candidate
        for paths in (self.runs(machine), self.runs()):
            matches = [path for path in paths if spec is None or _matches(path, spec)]
            if matches:
                return matches[-1]
        what = "no saved run for this machine" if spec is None else f"no saved run named or numbered {spec!r}"
        raise BaselineError(self.directory / machine, f"{what} (save one with --loadbudget-save)")


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
