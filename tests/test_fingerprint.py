"""The machine fingerprint: baselines are kept, and compared, per machine id: the hardware's."""

from __future__ import annotations

import json
import platform
import re
from typing import Any

import pytest

from pytest_loadbudget.baseline import fingerprint
from pytest_loadbudget.baseline.fingerprint import machine_facts, machine_id, software_changes, software_facts

FACTS: dict[str, Any] = {
    "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz",
    "cpus": 8,
    "system": "Linux",
    "release": "6.1.0",
    "machine": "x86_64",
    "python": "CPython 3.11.7",
    "frameworks": {"tensorflow": "2.16.1", "tf-keras": "2.16.0"},
    "environment": {},
}


def test_same_facts_give_the_same_id_whatever_their_order():
    shuffled = dict(reversed(list(FACTS.items())))
    assert machine_id(FACTS) == machine_id(dict(FACTS)) == machine_id(shuffled)


def test_the_id_is_a_readable_prefix_and_a_hash():
    assert re.fullmatch(r"Linux-x86_64-8cpu-[0-9a-f]{10}", machine_id(FACTS))


@pytest.mark.parametrize(("fact", "value"), [("cpu", "AMD EPYC 7B13"), ("cpus", 16), ("machine", "aarch64")])
def test_a_changed_hardware_fact_gives_another_id(fact, value):
    assert machine_id({**FACTS, fact: value}) != machine_id(FACTS)


@pytest.mark.parametrize(
    ("fact", "value"),
    [
        ("release", "5.15.0"),
        ("python", "CPython 3.11.9"),
        ("frameworks", {"tensorflow": "2.17.0", "tf-keras": "2.16.0"}),
        ("environment", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    ],
)
def test_a_changed_software_fact_keeps_the_id(fact, value):
    """Software is judged, not a reason to stop judging: the upgrade users most want checked."""
    assert machine_id({**FACTS, fact: value}) == machine_id(FACTS)


def test_this_machine_keeps_its_id_from_call_to_call():
    assert machine_id(machine_facts()) == machine_id(machine_facts())


def test_another_cpu_model_is_another_machine(monkeypatch):
    here = machine_id(machine_facts())
    monkeypatch.setattr(fingerprint, "cpu_model", lambda: "Another CPU")
    facts = machine_facts()
    assert facts["cpu"] == "Another CPU"
    assert machine_id(facts) != here


def test_another_core_count_is_another_machine(monkeypatch):
    here = machine_id(machine_facts())
    monkeypatch.setattr(fingerprint.os, "cpu_count", lambda: 1024)
    facts = machine_facts()
    assert facts["cpus"] == 1024
    assert "-1024cpu-" in machine_id(facts)
    assert machine_id(facts) != here


def test_a_variable_that_changes_tensorflow_is_software_not_another_machine(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    here = machine_id(machine_facts())
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    facts = machine_facts()
    assert facts["environment"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert machine_id(facts) == here


def test_runs_are_saved_under_this_machines_id(pytester):
    pytester.makepyfile(
        """
        def model():
            return dict()

        def test_model(load_model):
            load_model(model)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-save", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    here = machine_id(machine_facts())
    result.stdout.fnmatch_lines([f"loadbudget: *; machine {here}"])
    assert [path.parent.name for path in (pytester.path / ".loadbudget").glob("*/*.json")] == [here]


def test_the_facts_record_every_installed_framework_version():
    from importlib import metadata

    installed = {}
    for distribution in ("tensorflow", "keras", "tf-keras", "tensorflowjs", "ai-edge-litert", "tflite-runtime", "torch",
                         "onnxruntime", "numpy", "h5py"):
        try:
            installed[distribution] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    assert "tensorflow" in installed, "the test environment installs TensorFlow"
    assert machine_facts()["frameworks"] == installed


def test_a_kernel_upgrade_is_named_as_the_kernel():
    old = {"python": "CPython 3.11.7", "release": "6.1.0", "frameworks": {}, "environment": {}}
    assert software_changes(old, {**old, "release": "6.8.0-45-generic"}) == ["kernel 6.1.0 → 6.8.0-45-generic"]
    assert software_facts()["release"] == platform.release()


def test_the_verdict_names_a_kernel_change_since_the_baseline(pytester):
    pytester.makepyfile(
        """
        def model():
            return dict()

        def test_model(load_model):
            load_model(model, warmup=None)
        """
    )
    args = ("--loadbudget-rounds=3", "-p", "no:randomly", "-p", "no:cacheprovider")
    pytester.runpytest(*args, "--loadbudget-save=before").assert_outcomes(passed=1)
    (saved,) = (pytester.path / ".loadbudget").glob("*/*.json")
    document = json.loads(saved.read_text())
    document["software"]["release"] = "5.10.0-old"
    saved.write_text(json.dumps(document))
    result = pytester.runpytest(*args, "--loadbudget-compare", "--loadbudget-report")
    (line,) = [line for line in result.outlines if re.match(r"  \S+ +model load ", line)]
    # The kernel alone changed: the note names it, and nothing else (a second measurement's note may follow).
    assert f"; env changed: kernel 5.10.0-old → {platform.release()})" in line, line
