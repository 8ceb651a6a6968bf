"""Fingerprints: of the machine a figure was measured on, and of the software it ran.

A baseline only means something on the hardware it came from: the machine id
hashes the hardware alone (CPU model, cores, architecture, OS). Software
(Python, framework versions, kernel, the environment variables TensorFlow
reads, this plugin) is recorded beside it and diffed, never hashed into the
id: an upgrade is exactly what users want judged, not a reason to stop
judging. The model's own identity and digest are ``model/identity.py``'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

#: Environment variables that change how TensorFlow (and Keras) load and run a model.
RELEVANT_ENVIRONMENT = (
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "TF_XLA_FLAGS",
    "TF_USE_LEGACY_KERAS",
    "KERAS_BACKEND",
)
#: Distributions whose version changes a load: the frameworks, and the readers under them.
FRAMEWORKS = (
    "tensorflow", "keras", "tf-keras", "tensorflowjs", "ai-edge-litert", "tflite-runtime", "torch", "onnxruntime",
    "numpy", "h5py",
)
#: The facts that make a machine: the machine id hashes these and nothing else.
HARDWARE_FACTS = ("cpu", "cpus", "system", "machine")
#: The software facts, and the word a change line uses for each.
SOFTWARE_LABELS = {"python": "python", "release": "kernel", "loadbudget": "pytest-loadbudget"}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions(distributions: tuple[str, ...]) -> dict[str, str]:
    """Installed versions, read from package metadata without importing anything."""
    from importlib import metadata

    versions = {}
    for distribution in distributions:
        try:
            versions[distribution] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return versions


def framework_versions() -> dict[str, str]:
    """Versions of the ML frameworks (and their file readers) installed."""
    return _versions(FRAMEWORKS)


def hardware_facts() -> dict[str, Any]:
    """What decides whether two runs' figures can be compared at all: the machine."""
    return {"cpu": cpu_model(), "cpus": os.cpu_count(), "system": platform.system(), "machine": platform.machine()}


def software_facts() -> dict[str, Any]:
    """What a run's figures depend on besides the hardware: shown as a change, judged all the same."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "release": platform.release(),
        "frameworks": framework_versions(),
        "environment": {name: os.environ[name] for name in RELEVANT_ENVIRONMENT if name in os.environ},
        "loadbudget": _versions(("pytest-loadbudget",)).get("pytest-loadbudget", "unknown"),
    }


def machine_facts() -> dict[str, Any]:
    """Every fact of this machine and its software, as the JSON reports show them."""
    return {**hardware_facts(), **software_facts()}


def split_facts(facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Facts as ``machine_facts`` (or a schema 1 run) has them, split into hardware and software."""
    hardware = {name: value for name, value in facts.items() if name in HARDWARE_FACTS}
    return hardware, {name: value for name, value in facts.items() if name not in HARDWARE_FACTS}


def machine_id(facts: dict[str, Any]) -> str:
    """A directory name: a readable prefix, then a hash of the hardware facts (others are ignored)."""
    hardware, _ = split_facts(facts)
    digest = hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()[:10]
    return f"{hardware.get('system', '?')}-{hardware.get('machine', '?')}-{hardware.get('cpus', '?')}cpu-{digest}"


def software_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two runs' software, one "what old → new" each.

    A fact the old run did not record (an older plugin's saved run) is not a
    change; an environment variable or a framework absent on one side is
    ("unset", "none").
    """
    changes = []
    for fact, label in SOFTWARE_LABELS.items():
        before, after = old.get(fact), new.get(fact)
        if before is not None and after is not None and before != after:
            changes.append(f"{label} {_short(fact, before)} → {_short(fact, after)}")
    for fact, missing in (("frameworks", "none"), ("environment", "unset")):
        if fact not in old:
            continue
        before_map, after_map = old.get(fact) or {}, new.get(fact) or {}
        for name in sorted(set(before_map) | set(after_map)):
            before, after = before_map.get(name, missing), after_map.get(name, missing)
            if before != after:
                changes.append(f"{name} {before} → {after}")
    return changes


def _short(fact: str, value: Any) -> str:
    # "CPython 3.11.7": the implementation rarely changes; the version is the news.
    return str(value).split()[-1] if fact == "python" and str(value).startswith("CPython ") else str(value)
