"""The paired gate: each model against its copy at a git revision or in a directory, measured in this run.

The plugin tests make a git repository in pytester's directory with small
Keras models built here, commit them, change them, and run
``--loadbudget-against``. The statistics and the pair schedule are tested
on their own with loaders that take a known time.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import models
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.paired.pairs import balanced_orders, measure_pairs
from pytest_loadbudget.paired.stats import estimate, signed_rank_greater
from pytest_loadbudget.paired.verdict import ALPHA, decide

TESTS = """
    def test_changed(load_model):
        load_model("models/changed.keras")

    def test_same(load_model):
        load_model("models/same.keras")

    def test_new(load_model):
        load_model("models/new.keras")
"""


@pytest.fixture(scope="session")
def keras() -> Any:
    """Keras, imported once before any in-process run: TensorFlow cannot be imported twice in one process."""
    models.quiet_tf()
    return pytest.importorskip("keras")


def save_model(keras: Any, path: Path, dense_layers: int) -> None:
    """A small CNN with ``dense_layers`` Dense(64) layers: more layers, a slower load (Keras builds each)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    for _ in range(dense_layers):
        x = keras.layers.Dense(64)(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, keras.layers.Dense(10)(x)).save(path)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repository(pytester: pytest.Pytester, keras: Any) -> Path:
    """A repository whose last commit holds changed.keras and same.keras; the work tree then grows changed.keras."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = pytester.path
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    save_model(keras, root / "models" / "changed.keras", 2)
    save_model(keras, root / "models" / "same.keras", 2)
    pytester.makepyfile(test_models=TESTS)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "models")
    # Four times the layers: a load far past x1.05, caught in the first block of pairs.
    save_model(keras, root / "models" / "changed.keras", 40)
    save_model(keras, root / "models" / "new.keras", 2)
    return root


def verdicts(pytester: pytest.Pytester) -> dict[str, dict[str, dict[str, Any]]]:
    """Each model's comparisons by figure, from the JSON report."""
    document = json.loads((pytester.path / "out.json").read_text())
    return {record["name"]: {c["figure"]: c for c in record["comparisons"]} for record in document["models"]}


def test_a_slower_model_fails_against_the_revision_the_same_bytes_and_a_new_model_pass(
    pytester: pytest.Pytester, repository: Path,
) -> None:
    result = pytester.runpytest("-p", "no:randomly", "--loadbudget-against=HEAD", "--loadbudget-json=out.json",
                                "--loadbudget-report", "--loadbudget-markdown=out.md")
    result.assert_outcomes(failed=1, passed=2)
    markdown = (pytester.path / "out.md").read_text().splitlines()
    section = markdown[markdown.index("### Against the baseline artifacts, measured in this run"):]
    assert any(line.startswith("- **regression** changed.keras load ") and " against HEAD [" in line
               for line in section)
    result.stdout.fnmatch_lines([
        "against the baseline artifacts, measured in this run:",
        "  REGRESSION changed.keras size * MiB against HEAD * MiB (+*%, +* bytes)",
        "  REGRESSION changed.keras load *x against HEAD [[]*..*[]], p=*, * AB/BA pairs, own time > x1.05",
        "  REGRESSION changed.keras warm-up *x against HEAD [[]*..*[]], p=*, * AB/BA pairs, own time > x1.05",
        "  ok         same.keras same bytes as HEAD: not measured twice",
        "  ok         new.keras new against HEAD: models/new.keras is not at HEAD (*): a new model",
        "BUDGET test_models.py::test_changed - loadbudget: changed.keras size *",
    ])
    found = verdicts(pytester)
    load = found["changed.keras"]["ms"]
    assert load["regression"] and load["rule"] == "paired-signed-rank"
    numbers = load["numbers"]
    assert numbers["low"] > 1.05 and numbers["p"] <= ALPHA and numbers["outcome"] == "regression"
    # Balanced: as many pairs begin with the baseline as with the candidate (one more of either when odd).
    orders = numbers["orders"]
    assert len(orders) == numbers["pairs"] and abs(orders.count("A") - orders.count("B")) <= 1
    assert found["changed.keras"]["mb"]["rule"] == "paired-size" and found["changed.keras"]["mb"]["regression"]
    assert found["same.keras"]["mb"]["rule"] == "paired-same-bytes" and "ms" not in found["same.keras"]
    assert found["new.keras"]["mb"]["rule"] == "paired-new"


def test_an_equivalent_model_passes_against_a_directory(
    pytester: pytest.Pytester, repository: Path, keras: Any, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The directory holds the models as committed; the work tree re-saves changed.keras with the same layers.
    baseline = tmp_path_factory.mktemp("checkout") / "main"
    git(repository, "worktree", "add", "-q", str(baseline), "HEAD")
    save_model(keras, repository / "models" / "changed.keras", 2)
    pytester.makepyfile(test_models="""
        def test_changed(load_model):
            load_model("models/changed.keras")
    """)
    result = pytester.runpytest("-p", "no:randomly", f"--loadbudget-against={baseline}",
                                "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    found = verdicts(pytester)["changed.keras"]
    # Re-saved bytes differ (a zip's timestamps) or not: either way nothing regressed.
    assert not any(comparison["regression"] for comparison in found.values())
    if "ms" in found:
        assert found["ms"]["numbers"]["outcome"] in ("ok", "undecided")


def test_load_model_against_names_one_models_baseline(pytester: pytest.Pytester, keras: Any) -> None:
    save_model(keras, pytester.path / "production.keras", 2)
    save_model(keras, pytester.path / "candidate.keras", 40)
    pytester.makepyfile(test_models="""
        def test_candidate(load_model):
            load_model("candidate.keras", against="production.keras")
    """)
    result = pytester.runpytest("-p", "no:randomly", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*loadbudget: candidate.keras load *x against *production.keras [[]*]*> x1.05*"])


@pytest.mark.parametrize("source", ["not-a-revision", "--output=written-by-git"])
def test_a_source_that_is_neither_a_revision_nor_a_directory_is_a_usage_error(
    pytester: pytest.Pytester, repository: Path, source: str,
) -> None:
    result = pytester.runpytest(f"--loadbudget-against={source}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --loadbudget-against={source}: neither a directory nor a revision of the "
                                 f"repository at {repository} *"])
    # Never read as git's own option.
    assert not (repository / "written-by-git").exists()


def test_a_symbolic_link_out_of_the_repository_at_the_revision_is_refused(
    pytester: pytest.Pytester, repository: Path,
) -> None:
    link = repository / "models" / "same.keras"
    link.unlink()
    link.symlink_to("../../outside.keras")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "a link out")
    shutil.copy(repository / "models" / "changed.keras", repository / "models" / "linked.keras")
    link.unlink()
    shutil.copy(repository / "models" / "linked.keras", link)
    result = pytester.runpytest("-p", "no:randomly", "--loadbudget-against=HEAD", "-k", "same",
                                "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    same = verdicts(pytester)["same.keras"]["mb"]
    assert same["rule"] == "paired-baseline-unusable"
    assert same["line"].endswith("models/same.keras at HEAD is a symbolic link out of the repository "
                                 "(../../outside.keras): refused")


def test_a_git_lfs_pointer_is_said_precisely(pytester: pytest.Pytester, repository: Path) -> None:
    pointer = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")
    (repository / "models" / "same.keras").rename(repository / "kept.keras")
    (repository / "models" / "same.keras").write_bytes(pointer)
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "an LFS pointer")
    (repository / "kept.keras").rename(repository / "models" / "same.keras")
    result = pytester.runpytest("-p", "no:randomly", "--loadbudget-against=HEAD", "-k", "same",
                                "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    line = verdicts(pytester)["same.keras"]["mb"]["line"]
    assert "models/same.keras at HEAD is a Git LFS pointer (sha256:4d7a2146" in line and "12345 bytes)" in line
    assert ("git-lfs is not installed" in line) is (shutil.which("git-lfs") is None)


def test_pairs_run_in_xdist_workers(pytester: pytest.Pytester, repository: Path) -> None:
    pytest.importorskip("xdist")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", "--loadbudget-against=HEAD",
                                           "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1, passed=2)
    assert verdicts(pytester)["changed.keras"]["ms"]["regression"]


# The statistics and the schedule ---------------------------------------------------------------------------


def test_the_signed_rank_test_is_exact_for_few_pairs() -> None:
    # All 11 ratios positive: the most extreme of 2**11 sign patterns.
    assert signed_rank_greater([0.1 * (i + 1) for i in range(11)]) == 1 / 2 ** 11
    # Against all 16 sign patterns of the ranks 1..4: W+ of [-0.4, -0.1, 0.2, 0.3] is 2 + 3 = 5.
    patterns = [[rank if (bits >> rank - 1) & 1 else 0 for rank in range(1, 5)] for bits in range(16)]
    at_least = sum(sum(pattern) >= 5 for pattern in patterns) / 16
    assert signed_rank_greater([-0.4, -0.1, 0.2, 0.3]) == at_least == 9 / 16
    assert signed_rank_greater([]) == 1.0


def test_the_estimate_is_the_median_of_the_walsh_averages_and_its_interval_holds_it() -> None:
    logs = [math.log(ratio) for ratio in (1.08, 1.10, 1.12, 1.09, 1.11, 1.10, 1.13)]
    found = estimate(logs)
    assert found.ratio == pytest.approx(1.105, abs=0.003)
    assert found.low < found.ratio < found.high
    assert decide(found, 1.05) == "regression" if found.p_greater <= ALPHA else decide(found, 1.05) == "undecided"
    assert decide(estimate([math.log(r) for r in (0.99, 1.01, 1.0, 0.98, 1.02, 1.0, 0.99, 1.01, 1.0, 1.0, 1.01)]),
                  1.05) == "ok"


def test_orders_are_balanced_and_shuffled() -> None:
    rng = random.Random(7)
    orders = balanced_orders(21, rng)
    assert len(orders) == 21 and abs(orders.count("AB") - orders.count("BA")) == 1
    assert orders != sorted(orders)


def sleeper(seconds: float) -> Any:
    def load() -> object:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:  # busy, so that own time counts it
            pass
        return object()
    return load


def request_for(seconds: float, name: str) -> LoadRequest:
    return LoadRequest(format_name="callable", loader=sleeper(seconds), name=name, warmup=None)


def test_pairs_extend_block_by_block_while_undecided_and_stop_at_the_time_budget() -> None:
    calls: list[int] = []

    def never(pairs: Any) -> bool:
        calls.append(len(pairs.orders))
        return False

    pairs = measure_pairs(request_for(0.002, "a"), request_for(0.002, "b"), wall_clock=False, seconds=60.0,
                          decided=never, blocks=(3, 5, 9))
    assert calls == [3, 5, 9] and len(pairs.a.load) == len(pairs.b.load) == 9 and not pairs.out_of_time
    # A budget that the first block already spends: the first block runs whole, no other.
    calls.clear()
    pairs = measure_pairs(request_for(0.01, "a"), request_for(0.01, "b"), wall_clock=False, seconds=0.01,
                          decided=never, blocks=(3, 5, 9))
    assert calls == [3] and pairs.out_of_time


def test_a_loader_one_and_a_half_times_slower_is_caught_in_the_first_block() -> None:
    pairs = measure_pairs(request_for(0.004, "a"), request_for(0.006, "b"), wall_clock=False, seconds=60.0,
                          decided=lambda pairs: True)
    found = pairs.estimate("ms")
    assert found is not None and found.n == 11
    assert decide(found, 1.05) == "regression" and 1.3 < found.ratio < 1.7


def test_the_ini_key_names_the_source(pytester: pytest.Pytester, repository: Path) -> None:
    pytester.makeini("[pytest]\nloadbudget_against = HEAD\n")
    result = pytester.runpytest("-p", "no:randomly", "-k", "same", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    assert verdicts(pytester)["same.keras"]["mb"]["line"] == "same.keras same bytes as HEAD: not measured twice"
