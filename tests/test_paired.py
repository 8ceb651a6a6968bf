"""The paired gate: each model against its copy at a git revision or in a directory, measured in this run.

The plugin runs go in subprocesses: a paired run leaves Keras, git and the
pairs' state in its process, and an in-process run would share it with
every test after it.

The plugin tests make a git repository in pytester's directory with small
Keras models built here, commit them, change them, and run
``--loadbudget-against``. The statistics and the pair schedule are tested
on their own with loaders that take a known time.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import shutil
import subprocess
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
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-against=HEAD", "--loadbudget-json=out.json",
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
    result = pytester.runpytest_subprocess("-p", "no:randomly", f"--loadbudget-against={baseline}",
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
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["loadbudget: candidate.keras load *x against production.keras [[]*]*> x1.05*"])


@pytest.mark.parametrize("source", ["not-a-revision", "--output=written-by-git"])
def test_a_source_that_is_neither_a_revision_nor_a_directory_is_a_usage_error(
    pytester: pytest.Pytester, repository: Path, source: str,
) -> None:
    result = pytester.runpytest_subprocess(f"--loadbudget-against={source}")
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
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-against=HEAD", "-k", "same",
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
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-against=HEAD", "-k", "same",
                                "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    line = verdicts(pytester)["same.keras"]["mb"]["line"]
    assert "models/same.keras at HEAD is a Git LFS pointer (sha256:4d7a2146" in line and "12345 bytes)" in line
    # Said at the end of the run too, with or without the report: a gate whose baselines are all missing is not green.
    result.stdout.fnmatch_lines([
        "loadbudget: paired against the baseline artifacts: 1 model(s): 1 unusable baseline",
        "loadbudget:   same.keras unusable against HEAD: models/same.keras at HEAD is a Git LFS pointer *",
    ])
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


def worker(iterations: int) -> Any:
    """A loader doing a fixed amount of CPU work: own time counts the work, whatever else the machine runs
    (a loop until a wall-clock deadline would count less work whenever the thread waited for a CPU)."""
    def load() -> object:
        total = 0
        for value in range(iterations):
            total += value
        return object()
    return load


def request_for(iterations: int, name: str) -> LoadRequest:
    return LoadRequest(format_name="callable", loader=worker(iterations), name=name, warmup=None)


def test_pairs_extend_block_by_block_while_undecided_and_stop_at_the_time_budget() -> None:
    calls: list[int] = []

    def never(pairs: Any) -> bool:
        calls.append(len(pairs.orders))
        return False

    pairs = measure_pairs(request_for(50_000, "a"), request_for(50_000, "b"), wall_clock=False, seconds=60.0,
                          decided=never, blocks=(3, 5, 9))
    assert calls == [3, 5, 9] and len(pairs.a.load) == len(pairs.b.load) == 9 and not pairs.out_of_time
    # A budget that the first block already spends: the first block runs whole, no other.
    calls.clear()
    pairs = measure_pairs(request_for(200_000, "a"), request_for(200_000, "b"), wall_clock=False, seconds=0.01,
                          decided=never, blocks=(3, 5, 9))
    assert calls == [3] and pairs.out_of_time


def test_a_loader_one_and_a_half_times_slower_is_caught() -> None:
    def decided(pairs: Any) -> bool:
        found = pairs.estimate("ms")
        return found is not None and decide(found, 1.05) != "undecided"

    # As the gate runs them: more pairs while undecided (a busy machine widens the first block's interval).
    pairs = measure_pairs(request_for(200_000, "a"), request_for(300_000, "b"), wall_clock=False, seconds=60.0,
                          decided=decided)
    found = pairs.estimate("ms")
    assert found is not None and found.n >= 11
    assert decide(found, 1.05) == "regression" and 1.3 < found.ratio < 1.7


def test_the_html_page_lists_the_paired_verdicts(pytester: pytest.Pytester, repository: Path) -> None:
    # Looked up, not imported: importing the chart library here would change every later run in this process.
    if importlib.util.find_spec("pygal") is None:
        pytest.skip("the HTML page needs pytest-loadbudget[html]")
    # In a subprocess: the chart library, imported by a run in this process, would outlive it.
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-k", "same or new", "--loadbudget-against=HEAD",
                                           "--loadbudget-html=out.html")
    result.assert_outcomes(passed=2)
    page = (pytester.path / "out.html").read_text()
    assert "<p>Against the baseline artifacts, measured in this run:</p>" in page
    assert '<li class="">ok         same.keras same bytes as HEAD: not measured twice</li>' in page


def test_the_ini_key_names_the_source(pytester: pytest.Pytester, repository: Path) -> None:
    pytester.makeini("[pytest]\nloadbudget_against = HEAD\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-k", "same", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    assert verdicts(pytester)["same.keras"]["mb"]["line"] == "same.keras same bytes as HEAD: not measured twice"


def test_a_figure_left_undecided_is_said_undecided_and_passes() -> None:
    from pytest_loadbudget.paired.verdict import RULE_UNDECIDED, PairedVerdict
    from pytest_loadbudget.results.comparison import Comparison

    straddling = estimate([math.log(r) for r in (0.98, 1.12, 1.01, 1.09, 1.03, 1.07, 0.99, 1.11, 1.05, 1.02, 1.08)])
    verdict = PairedVerdict("ms", "load", straddling, 1.05, "own", "HEAD")
    assert straddling.low < 1.05 < straddling.high and verdict.outcome == "undecided"
    assert verdict.rule == RULE_UNDECIDED
    assert verdict.line("m.keras", 60.0).endswith(
        "own time: undecided at x1.05 after 60 s (the interval straddles it; --loadbudget-against-seconds allows "
        "more pairs)")
    shown = Comparison("ms", verdict.line("m.keras", 60.0), regression=False, rule=verdict.rule)
    assert shown.verdict_line().startswith("undecided  m.keras load ")


@pytest.mark.parametrize("n", [6, 7, 8, 11])
def test_the_interval_covers_an_unchanged_ratio_at_least_95_percent_of_the_time(n: int) -> None:
    # Under "nothing changed" every sign pattern of the pairs' log ratios is equally likely: enumerate them.
    import itertools

    magnitudes = [math.log(1 + 0.01 * (i + 1) ** 1.3) for i in range(n)]
    patterns = list(itertools.product((1, -1), repeat=n))
    inside = sum(found.low <= 1.0 <= found.high
                 for found in (estimate([s * m for s, m in zip(signs, magnitudes)]) for signs in patterns))
    assert 0.95 <= inside / len(patterns) < 0.975


def test_a_model_is_paired_once_per_baseline_and_each_test_names_its_own(
    pytester: pytest.Pytester, keras: Any,
) -> None:
    save_model(keras, pytester.path / "production.keras", 2)
    save_model(keras, pytester.path / "candidate.keras", 40)
    shutil.copy(pytester.path / "candidate.keras", pytester.path / "previous.keras")
    pytester.makeconftest("""
        import pytest
        import pytest_loadbudget.paired.gate as gate_module

        CALLS = []

        @pytest.fixture(autouse=True)
        def counted(monkeypatch):
            measure = gate_module.measure_pairs
            def counting(baseline, candidate, **kwargs):
                CALLS.append(baseline.path.name)
                return measure(baseline, candidate, **kwargs)
            monkeypatch.setattr(gate_module, "measure_pairs", counting)
            yield
    """)
    pytester.makepyfile(test_models="""
        import conftest

        def test_against_production(load_model):
            load_model("candidate.keras", against="production.keras")

        def test_against_production_again(load_model):
            load_model("candidate.keras", against="production.keras")

        def test_against_the_previous_release(load_model):
            load_model("candidate.keras", against="previous.keras")

        def test_pairs_ran_once_per_baseline():
            assert conftest.CALLS == ["production.keras"]
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    # Both tests against production fail on the same verdicts; against the same bytes, nothing is measured.
    result.assert_outcomes(failed=2, passed=2)
    result.stdout.fnmatch_lines(["BUDGET test_models.py::test_against_production - *",
                                 "BUDGET test_models.py::test_against_production_again - *"])
    result.stdout.fnmatch_lines(["loadbudget: candidate.keras load *x against production.keras [[]*[]], p=*"])


def test_an_expected_failure_does_not_hide_a_budget_miss(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_models="""
        import time
        import pytest

        def slow():
            time.sleep(0.02)
            return object()

        @pytest.mark.xfail(reason="the model's accuracy is a known problem")
        @pytest.mark.load_budget(ms=5)
        def test_it(load_model):
            load_model(slow, warmup=None)
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-rounds=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["load_budget: slow load * ms own time > budget 5 ms (median of 1, *)",
                                 "BUDGET test_models.py::test_it - load_budget: slow load*"])


def test_a_link_in_the_repository_is_looked_up_as_the_link(pytester: pytest.Pytester, repository: Path,
                                                           keras: Any) -> None:
    models_dir = repository / "models"
    (models_dir / "latest.keras").symlink_to("same.keras")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "latest is the small model")
    (models_dir / "latest.keras").unlink()
    (models_dir / "latest.keras").symlink_to("changed.keras")  # the work tree's changed.keras has 40 layers
    pytester.makepyfile(test_models="""
        def test_latest(load_model):
            load_model("models/latest.keras")
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--loadbudget-against=HEAD", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1)
    assert verdicts(pytester)["latest.keras"]["ms"]["regression"]


def test_saved_runs_still_judge_what_the_pairs_did_not(pytester: pytest.Pytester, repository: Path) -> None:
    pytester.runpytest_subprocess("-p", "no:randomly", "-k", "same", "--loadbudget-save").assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-k", "same", "--loadbudget-against=HEAD",
                                "--loadbudget-compare", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1)
    found = verdicts(pytester)["same.keras"]
    assert found["mb"]["rule"] == "paired-same-bytes"
    assert found["ms"]["rule"].startswith("saved-")
