"""Which saved figures a model is judged against: machine identity, model identity, provenance.

The machine is its hardware (or --loadbudget-machine's name); software is
recorded, diffed and shown on every verdict, and judged all the same. A
model is its ``name=`` or its path and options. Saved runs record their git
commit. Timings are never asserted: baselines are edited by hand, so that a
regression is the 20 ms sleep of a loader against a baseline of 1 ms.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.baseline import legacy
from pytest_loadbudget.baseline.fingerprint import hardware_facts, machine_id, software_changes
from pytest_loadbudget.baseline.provenance import autosave_name, git_provenance
from pytest_loadbudget.baseline.storage import BaselineStore, read_run
from pytest_loadbudget.cli.main import main as cli_main
from pytest_loadbudget.model.identity import model_identity
from pytest_loadbudget.model.placement import Placement
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.session.resolve import make_request

SUITE = textwrap.dedent(
    """
    import time

    def alpha():
        time.sleep(0.02)
        return dict()

    def beta():
        time.sleep(0.02)
        return dict()

    def gamma():
        return dict()

    def test_alpha(load_model):
        load_model(alpha, warmup=None)

    def test_beta(load_model):
        load_model(beta, warmup=None)
    """
)
#: Per-series baseline samples that the 20 ms loads above exceed in every round.
FAST = [1.0] * 6
HERE = machine_id(hardware_facts())


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--loadbudget-rounds=6", "-p", "no:randomly", *args)


def saved(pytester: pytest.Pytester, pattern: str = "*/*.json") -> list[Path]:
    return sorted((pytester.path / ".loadbudget").glob(pattern))


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def make_fast(*names: str) -> Callable[[dict[str, Any]], None]:
    """A change to a saved run: the named models loaded in 1 ms, on every clock."""
    def change(document: dict[str, Any]) -> None:
        for model in document["models"]:
            if model["name"] in names:
                for series in ("load_ms", "load_own_ms", "load_cpu_ms"):
                    model[series] = {"samples": FAST}
    return change


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    return pytester


# --- software: recorded, shown, judged -------------------------------------------------------


def test_a_software_change_is_judged_and_named_on_the_verdict(suite, monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    run(suite, "--loadbudget-save=before").assert_outcomes(passed=2)
    (before,) = saved(suite)
    document = json.loads(before.read_text())
    assert document["version"] == 2 and before.parent.name == HERE
    assert set(document["machine"]) == {"cpu", "cpus", "system", "machine"}, "the machine is its hardware"
    assert {"python", "release", "frameworks", "environment", "loadbudget"} <= set(document["software"])

    def older_software(document: dict[str, Any]) -> None:
        document["software"]["frameworks"]["tensorflow"] = "2.0.0"
        make_fast("alpha")(document)

    rewrite(before, older_software)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    result = run(suite, "--loadbudget-compare", "--loadbudget-report")
    # Another TensorFlow and another thread count, the same hardware: the regression still fails.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        f"compared with {before} (before, *, this machine)",
        "*BUDGET test_suite.py::test_alpha - loadbudget: alpha load *",
    ])
    (line,) = [line for line in result.outlines if line.startswith("  REGRESSION alpha load")]
    assert "env changed: " in line and line.index("p=") < line.index("env changed: ")
    assert "TF_NUM_INTRAOP_THREADS unset → 2" in line and re.search(r"tensorflow 2\.0\.0 → \d", line)
    # ... and on the lines that pass too.
    (ok,) = [line for line in result.outlines if line.startswith("  ok         beta load")]
    assert "TF_NUM_INTRAOP_THREADS unset → 2" in ok
    assert "GATE NOT ENFORCED" not in result.stdout.str()


def test_software_changes_list_each_difference():
    old = {"python": "CPython 3.11.7", "release": "6.1", "frameworks": {"tensorflow": "2.19.0", "torch": "2.1"},
           "environment": {"OMP_NUM_THREADS": "4"}}
    new = {"python": "CPython 3.12.1", "release": "6.1", "frameworks": {"tensorflow": "2.21.0"},
           "environment": {"TF_NUM_INTRAOP_THREADS": "2"}}
    assert software_changes(old, new) == [
        "python 3.11.7 → 3.12.1", "tensorflow 2.19.0 → 2.21.0", "torch 2.1 → none",
        "OMP_NUM_THREADS 4 → unset", "TF_NUM_INTRAOP_THREADS unset → 2",
    ]
    assert software_changes(old, old) == []


def test_a_gpu_driver_upgrade_keeps_the_identity_and_is_named(tmp_path):
    from pytest_loadbudget.baseline.lookup import environment_note

    old = ModelRecord(key="k", name="m", format="h5", device="gpu: A100 (driver 535.1)")
    new = ModelRecord(key="k", name="m", format="h5", device="gpu: A100 (driver 550.2)")
    assert model_identity(old.device, name="m") == model_identity(new.device, name="m") == "name:m@gpu: A100"
    path = BaselineStore(tmp_path).save("x", {**hardware_facts(), "python": "CPython 3.11.7"}, [old])
    assert environment_note(read_run(path), {"python": "CPython 3.11.7"}, old, new) == (
        "env changed: device gpu: A100 (driver 535.1) → gpu: A100 (driver 550.2)")


def _record(name: str, samples: list[float], identity: str = "") -> ModelRecord:
    return ModelRecord(key=f"callable:{name}", identity=identity or f"name:{name}@cpu", name=name, format="callable",
                       load_ms=Samples(samples))


def test_cli_compare_names_the_software_change_and_still_fails(tmp_path, capsys):
    store = BaselineStore(tmp_path)
    facts = {**hardware_facts(), "python": "CPython 3.11.7", "frameworks": {"tensorflow": "2.19.0"}, "environment": {}}
    old = store.save("old", facts, [_record("model", [100, 101, 102, 103, 104, 105])])
    new = store.save("new", {**facts, "frameworks": {"tensorflow": "2.21.0"}},
                     [_record("model", [150, 151, 152, 153, 154, 155])])
    assert old.parent == new.parent, "software is not the machine"
    assert cli_main(["compare", str(old), str(new)]) == 1
    output = capsys.readouterr().out.splitlines()
    assert "software changed: tensorflow 2.19.0 → 2.21.0" in output
    (line,) = [line for line in output if "model load" in line]
    assert line.startswith("  REGRESSION") and "; env changed: tensorflow 2.19.0 → 2.21.0)" in line


# --- the machine: hardware, or a name ------------------------------------------------------


def test_a_named_machine_keeps_its_runs_apart_and_other_hardware_is_said_loudly(suite):
    result = run(suite, "--loadbudget-machine=runner-7", "--loadbudget-save=base")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["loadbudget: *; machine runner-7"])
    (base,) = saved(suite)
    assert base.parent.name == "runner-7"
    assert json.loads(base.read_text())["machine_id"] == "runner-7"
    rewrite(base, make_fast("alpha"))

    # The same name: this machine's baseline, enforced.
    result = run(suite, "--loadbudget-machine=runner-7", "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=1)
    assert "NOT ENFORCED" not in result.stdout.str()

    # Unnamed, this machine is its hardware: runner-7 is another machine, shown and not enforced.
    result = run(suite, "--loadbudget-compare", "--loadbudget-markdown=summary.md")
    result.assert_outcomes(passed=2)
    loud = [line for line in result.outlines if "REGRESSION GATE NOT ENFORCED" in line]
    assert loud == [
        f"loadbudget: REGRESSION GATE NOT ENFORCED: the baseline {base.name} comes from other hardware "
        f"(runner-7; this is {HERE}): verdicts are shown, nothing fails (--loadbudget-compare-any-machine to "
        "enforce, --loadbudget-machine=NAME to name one machine)"
    ]
    markdown = (suite.path / "summary.md").read_text().splitlines()
    assert markdown[2] == f"> **{loud[0].removeprefix('loadbudget: ')}**"
    # --loadbudget-compare-any-machine enforces it, and the loud line goes.
    result = run(suite, "--loadbudget-compare", "--loadbudget-compare-any-machine")
    result.assert_outcomes(passed=1, failed=1)
    assert "NOT ENFORCED" not in result.stdout.str()


def test_the_machine_name_comes_from_the_environment_too(suite, monkeypatch):
    monkeypatch.setenv("LOADBUDGET_MACHINE", "gpu-box")
    run(suite, "--loadbudget-save").assert_outcomes(passed=2)
    assert [path.parent.name for path in saved(suite)] == ["gpu-box"]


def _run_document(created: str, name: str) -> dict[str, Any]:
    return {"schema": "pytest-loadbudget/run", "version": 2, "name": name, "created": created,
            "machine_id": HERE, "machine": hardware_facts(), "software": {}, "provenance": None,
            "models": [_record(name, [1.0]).to_dict()]}


def test_the_newest_run_is_the_latest_created_not_the_highest_number(tmp_path):
    folder = tmp_path / HERE
    folder.mkdir()
    # As a CI cache merged from two jobs leaves them: the higher number is the older run.
    (folder / "0001_late.json").write_text(json.dumps(_run_document("2030-01-02T00:00:00+00:00", "late")))
    (folder / "0002_early.json").write_text(json.dumps(_run_document("2030-01-01T00:00:00+00:00", "early")))
    (folder / "0003_other-zone.json").write_text(json.dumps(_run_document("2030-01-01T23:00:00-02:00", "zone")))
    store = BaselineStore(tmp_path)
    assert store.find(None, HERE).name == "0003_other-zone.json", "01T23:00-02:00 is 02T01:00 UTC"
    (folder / "0003_other-zone.json").unlink()
    assert store.find(None, HERE).name == "0001_late.json"
    assert [path.name for path in store.newest_first(store.runs(HERE))] == ["0001_late.json", "0002_early.json"]


# --- the model: its name, or its path and options ------------------------------------------


def test_a_named_model_is_known_by_its_name_wherever_it_lives(tmp_path):
    def request(path: Path, name: str | None, options: dict[str, Any] | None = None) -> Any:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"TFL3")
        return make_request(path, format="tflite", name=name, warmup=None, files=None, options=options or {},
                            base_dir=tmp_path, root=tmp_path, placement=Placement(device="cpu"))

    here, there = tmp_path / "v1" / "m.tflite", tmp_path / "v2" / "model.tflite"
    via = f" via {request(here, 'artifact').interpreter}"  # the interpreter that runs it, first installed
    assert request(here, "artifact").identity == request(there, "artifact").identity == f"name:artifact@cpu{via}"
    assert request(here, "artifact").key != request(there, "artifact").key, "the session still loads both"
    unnamed = request(here, None)
    assert unnamed.identity == f"tflite:v1/m.tflite:;warmup=none@cpu{via}", "relative to the rootdir"
    assert unnamed.identity != request(there, None).identity
    assert request(here, None, {"num_threads": 2}).identity != unnamed.identity, "options are part of it"


def test_a_model_named_alike_from_another_loader_is_compared(pytester):
    pytester.makepyfile(test_suite=SUITE.replace("load_model(alpha, warmup=None)",
                                                 "load_model(alpha, name='artifact', warmup=None)"))
    run(pytester, "--loadbudget-save").assert_outcomes(passed=2)
    (base,) = saved(pytester)
    rewrite(base, make_fast("artifact"))
    # Another loader under the same name: compared, and failing against the 1 ms baseline.
    pytester.makepyfile(test_suite=SUITE.replace("load_model(alpha, warmup=None)",
                                                 "load_model(beta, name='artifact', warmup=None)"))
    result = run(pytester, "--loadbudget-compare")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*BUDGET test_suite.py::test_alpha - loadbudget: artifact load *"])


def test_new_and_not_measured_models_are_listed(suite):
    run(suite, "--loadbudget-save").assert_outcomes(passed=2)
    (base,) = saved(suite)
    suite.makepyfile(test_suite=SUITE.replace("load_model(beta, warmup=None)", "load_model(gamma, warmup=None)"))
    result = run(suite, "--loadbudget-compare", "--loadbudget-report", "--loadbudget-markdown=summary.md")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        f"compared with {base} (*, this machine)",
        "  ok         alpha load *",
        "new (no baseline, nothing compared): gamma [[]callable, cpu[]]",
        "not measured (in the baseline, not loaded by this run): beta [[]callable, cpu[]]",
    ])
    markdown = (suite.path / "summary.md").read_text()
    assert "- new (no baseline, nothing compared): gamma [callable, cpu]\n" in markdown
    assert "- not measured (in the baseline, not loaded by this run): beta [callable, cpu]\n" in markdown
    # Without the report, the same two lines end the run.
    result = run(suite, "--loadbudget-compare")
    result.stdout.fnmatch_lines(["loadbudget: new (no baseline, nothing compared): gamma *",
                                 "loadbudget: not measured (in the baseline, not loaded by this run): beta *"])


def test_each_model_compares_with_its_own_newest_figures_across_sharded_runs(suite):
    # Two CI shards, each saving the models its tests load.
    run(suite, "-k", "alpha", "--loadbudget-save=shard-a").assert_outcomes(passed=1)
    run(suite, "-k", "beta", "--loadbudget-save=shard-b").assert_outcomes(passed=1)
    shard_a, shard_b = saved(suite)
    # shard-a is older and the only run with alpha: alpha is judged against it.
    rewrite(shard_a, make_fast("alpha"))
    rewrite(shard_a, lambda document: document.update(created="2001-01-01T00:00:00+00:00"))
    result = run(suite, "--loadbudget-compare", "--loadbudget-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        f"compared each model with its newest saved figures on this machine ({HERE}): "
        f"{shard_b} (shard-b, *): 1 model(s); {shard_a} (shard-a, 2001-01-01T00:00:00+00:00): 1 model(s)",
        "*BUDGET test_suite.py::test_alpha - loadbudget: alpha load *",
    ])
    assert "not measured" not in result.stdout.str() and "new (no baseline" not in result.stdout.str()
    # Once a newer run holds alpha's figures, they are its baseline.
    run(suite, "-k", "alpha", "--loadbudget-save=shard-a2").assert_outcomes(passed=1)
    run(suite, "--loadbudget-compare").assert_outcomes(passed=2)


# --- schema 1 -------------------------------------------------------------------------------


def _as_schema_1(document: dict[str, Any]) -> None:
    """What pytest-loadbudget 0.1 saved: one machine dict of every fact, no identities."""
    document["version"] = 1
    document["machine"] = {**document["machine"], **document.pop("software")}
    document["machine_id"] = "Linux-x86_64-2cpu-py3.11-0123456789"
    document.pop("provenance")
    for model in document["models"]:
        model.pop("identity")


def test_a_schema_1_run_is_read_and_mapped_to_this_machine_and_its_models(suite):
    run(suite, "--loadbudget-save=old").assert_outcomes(passed=2)
    (path,) = saved(suite)
    rewrite(path, _as_schema_1)
    rewrite(path, make_fast("alpha"))
    rewrite(path, lambda document: document.update(created="2001-01-01T00:00:00+0000"))  # as schema 1 wrote it
    legacy_folder = path.parent.parent / "Linux-x86_64-2cpu-py3.11-0123456789"
    legacy_folder.mkdir()
    old = path.rename(legacy_folder / path.name)
    before = old.read_text()
    # Since the upgrade, a shard saved beta alone, in this machine's new folder.
    run(suite, "-k", "beta", "--loadbudget-save=new").assert_outcomes(passed=1)
    (new,) = saved(suite, f"{HERE}/*.json")
    result = run(suite, "--loadbudget-compare", "--loadbudget-report", "--loadbudget-save")
    # The schema 1 folder is this machine's (its hardware facts), alpha is mapped from its key, and judged.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        f"compared each model with its newest saved figures on this machine ({HERE}): "
        f"{new} (new, *): 1 model(s); {old} (old, 2001-01-01T00:00:00+0000): 1 model(s)",
        "*BUDGET test_suite.py::test_alpha - loadbudget: alpha load *",
    ])
    assert "not measured" not in result.stdout.str() and "new (no baseline" not in result.stdout.str()
    assert old.read_text() == before and len(saved(suite)) == 3, "new runs are saved beside it, it is left as it was"


def test_a_schema_1_run_without_hardware_facts_says_why_it_is_another_machine(suite):
    run(suite, "--loadbudget-save=old").assert_outcomes(passed=2)
    (path,) = saved(suite)
    rewrite(path, _as_schema_1)
    rewrite(path, lambda document: document["machine"].pop("cpu"))
    rewrite(path, make_fast("alpha"))
    result = run(suite, "--loadbudget-compare=old")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        f"loadbudget: REGRESSION GATE NOT ENFORCED: the baseline {path.name} comes from other hardware "
        "(unknown hardware; *",
        f"loadbudget: {path} (schema 1): its machine facts lack cpu: the hardware it ran on is unknown; "
        "it counts as another machine",
    ])


@pytest.mark.parametrize(
    ("key", "name", "expected"),
    [
        # The default name (the loader's, the file's): by path and options, or by a name= that repeated it.
        ("callable:tests.loaders.tokenizer:tokenizer:size=3;warmup=none@cpu", "tokenizer",
         ["callable:tests.loaders.tokenizer:size=3;warmup=none@cpu", "name:tokenizer@cpu"]),
        ("h5:models/m.h5:m.h5:;warmup='auto'@gpu: A100 (driver 550.1)", "m.h5",
         ["h5:models/m.h5:;warmup='auto'@gpu: A100", "name:m.h5@gpu: A100"]),
        # Any other name was given with name=: the name alone.
        ("h5:models/m.h5:artifact:;warmup='auto'@cpu", "artifact", ["name:artifact@cpu"]),
    ],
)
def test_schema_1_keys_map_to_identities(key, name, expected):
    record = ModelRecord(key=key, name=name, format=key.split(":")[0])
    assert legacy.identities(record) == (expected, "")


def test_a_schema_1_key_that_cannot_be_mapped_says_why():
    identities, why = legacy.identities(ModelRecord(key="something else", name="m", format="h5"))
    assert identities == [] and why == "its key 'something else' is not format:origin:name:options@device"


# --- provenance -----------------------------------------------------------------------------


def git(directory: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True, text=True, check=True,
    )
    return completed.stdout.strip()


@pytest.fixture
def checkout(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for variable in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH"):
        monkeypatch.delenv(variable, raising=False)
    git(suite.path, "init", "-q", "-b", "main")
    git(suite.path, "add", "test_suite.py")
    git(suite.path, "commit", "-q", "-m", "suite")
    return suite


def test_provenance_of_a_checkout(checkout):
    commit = git(checkout.path, "rev-parse", "HEAD")
    assert git_provenance(checkout.path) == {"commit": commit, "branch": "main", "dirty": False}
    (checkout.path / "untracked.txt").write_text("saved runs are untracked files: not a change")
    assert git_provenance(checkout.path)["dirty"] is False
    (checkout.path / "test_suite.py").write_text(SUITE + "\n# edited\n")
    assert git_provenance(checkout.path)["dirty"] is True
    git(checkout.path, "checkout", "-q", "--detach")
    assert git_provenance(checkout.path)["branch"] is None


def test_no_provenance_outside_a_checkout(tmp_path):
    assert git_provenance(tmp_path) is None
    assert re.fullmatch(r"\d{8}-\d{6}", autosave_name(None))


def test_a_saved_run_records_its_commit_and_autosave_names_it(checkout, capsys):
    commit = git(checkout.path, "rev-parse", "HEAD")
    result = run(checkout, "--loadbudget-autosave")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["loadbudget: *save (commit id)*"])
    (path,) = saved(checkout)
    assert path.name == f"0001_{commit[:8]}.json"
    assert read_run(path).provenance == {"commit": commit, "branch": "main", "dirty": False}
    # With uncommitted changes the name says so, as pytest-benchmark's does.
    (checkout.path / "test_suite.py").write_text(SUITE + "\n# edited\n")
    run(checkout, "--loadbudget-autosave").assert_outcomes(passed=2)
    assert saved(checkout)[-1].name == f"0002_{commit[:8]}-dirty.json"
    # The commit finds the run; list and compare show where each came from.
    result = run(checkout, f"--loadbudget-compare={commit[:8]}", "--loadbudget-report")
    result.stdout.fnmatch_lines([f"compared with {path} ({commit[:8]}, *, commit {commit[:8]} on main, this machine)"])
    capsys.readouterr()
    assert cli_main(["list", "--storage", str(checkout.path / ".loadbudget")]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line[2:] for line in listing[:2]] == [
        f"{path}  {read_run(path).created}  2 model(s)  commit {commit[:8]} on main",
        f"{saved(checkout)[1]}  {read_run(saved(checkout)[1]).created}  2 model(s)  commit {commit[:8]} on main, "
        "uncommitted changes",
    ]
    assert listing[0].startswith("* ") and listing[-1] == f"(* this machine: {HERE})"
    assert cli_main(["compare", "1", "2", "--storage", str(checkout.path / ".loadbudget")]) == 0
    assert capsys.readouterr().out.startswith(
        f"baseline: {path} ({commit[:8]}, {read_run(path).created}, commit {commit[:8]} on main)\n")
