"""How a model is known across runs, and a digest of its files.

A baseline is looked up by the model's identity; a slower load means
something else when the artifact itself changed, which its digest tells.
The session key, the saved runs and the paired gate all use these.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def model_identity(
    where: str, *, name: str = "", format_name: str = "", origin: str = "", options: str = "", interpreter: str = "",
) -> str:
    """How a model is known across runs: its ``name=`` when given, else format, path and options.

    ``where``: the device ("cpu", "gpu: <name>", "default") or the TF.js
    runtime; a GPU driver's version is software, left out so that a driver
    upgrade is judged, not skipped. ``origin``: the path relative to the
    rootdir, or the loader function's module and name. ``interpreter``: what
    ran a .tflite model ("litert", "tensorflow"): another interpreter is
    another model to compare; its version, like a driver's, is left out.
    """
    where = where.split(" (driver", 1)[0]
    via = f" via {interpreter}" if interpreter else ""
    if name:
        return f"name:{name}@{where}{via}"
    return f"{format_name}:{origin}:{options}@{where}{via}"


def display_name(path: Path) -> str:
    """A model's default name: the file, or ``parent/model.json`` where the file name says nothing."""
    if path.name == "model.json" or path.name in ("saved_model.pb", "variables"):
        return f"{path.parent.name}/{path.name}"
    return path.name


def artifact_digest(files: list[Path], root: Path | None = None) -> str:
    """SHA-256 over every file's relative name and bytes, in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        name = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
        digest.update(name.encode() + b"\0")
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
