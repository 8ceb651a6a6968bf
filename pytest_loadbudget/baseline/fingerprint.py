"""Fingerprints: of the machine a figure was measured on, and of a model's files.

A baseline only means something on the machine it came from, and a slower
load means something else when the artifact itself changed; both are keyed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

#: Environment variables that change how TensorFlow loads and runs a model.
RELEVANT_ENVIRONMENT = (
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "OMP_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "TF_XLA_FLAGS",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def framework_versions() -> dict[str, str]:
    """Versions of the ML frameworks installed, read without importing them."""
    from importlib import metadata

    versions = {}
    for distribution in ("tensorflow", "keras", "tf-keras", "tensorflowjs", "torch", "onnxruntime"):
        try:
            versions[distribution] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_facts() -> dict[str, Any]:
    """What decides whether two runs' figures can be compared."""
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "frameworks": framework_versions(),
        "environment": {name: os.environ[name] for name in RELEVANT_ENVIRONMENT if name in os.environ},
    }


def machine_id(facts: dict[str, Any]) -> str:
    """A directory name: readable prefix, then a hash of every fact."""
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:10]
    python = facts["python"].split()[-1].rsplit(".", 1)[0]
    return f"{facts['system']}-{facts['machine']}-{facts['cpus']}cpu-py{python}-{digest}"


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
