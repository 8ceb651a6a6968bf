"""The ``load_budget`` marker: one ``Budget`` that is its signature, its help and its validation."""

from __future__ import annotations

import inspect
from dataclasses import fields
from typing import Any

import pytest

import pytest_loadbudget
from pytest_loadbudget.budget.marker import LIMIT_KEYWORDS, Budget, describe, load_budget, marker_help
from pytest_loadbudget.errors import MarkerError

KEYWORDS = [keyword.name for keyword in fields(Budget)]


def test_the_marker_is_the_budget_and_both_are_public() -> None:
    assert pytest_loadbudget.load_budget is load_budget is Budget
    assert pytest_loadbudget.Budget is Budget
    assert load_budget(ms=500, mb=2) == Budget(ms=500, mb=2)


def test_the_signature_is_the_fields_keyword_only_and_unset() -> None:
    parameters = inspect.signature(load_budget).parameters.values()
    assert [parameter.name for parameter in parameters] == KEYWORDS
    assert {(parameter.kind, parameter.default) for parameter in parameters} == {(inspect.Parameter.KEYWORD_ONLY, None)}


def test_python_binding_rejects_unknown_keywords_and_positions() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'msx'"):
        load_budget(msx=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        load_budget(300)  # type: ignore[misc]


def test_the_limits_are_the_figures_with_a_unit() -> None:
    assert LIMIT_KEYWORDS == ("ms", "mb", "warm_ms", "peak_mb", "leak_mb", "gpu_mb", "block_ms", "leak_tensors",
                              "cold_ms", "import_ms", "fleet_ms", "predict_leak_tensors", "predict_leak_mb")
    assert Budget(ms=1, cycles=3, runtime="node", leak_tensors=0).limits() == {"ms": 1, "leak_tensors": 0}


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_every_keyword_checks_its_value(keyword: str) -> None:
    with pytest.raises(MarkerError, match=f"^{keyword}=<object object at .*"):
        Budget(**{keyword: object()})


@pytest.mark.parametrize(
    ("keywords", "problem"),
    [
        ({"ms": -1}, "ms=-1 must be greater than 0"),
        ({"import_ms": 0}, "import_ms=0 must be greater than 0"),
        ({"mb": "big"}, "mb='big' must be a number"),
        ({"peak_mb": True}, "peak_mb=True must be a number"),
        ({"leak_mb": 1, "cycles": 1}, "cycles=1 must be an integer of at least 2 (the first cycle is the reference)"),
        ({"rounds": 0}, "rounds=0 must be an integer of at least 1"),
        ({"cold_runs": 1.5}, "cold_runs=1.5 must be an integer of at least 1"),
        ({"leak_tensors": -1}, "leak_tensors=-1 must be an integer of at least 0"),
        ({"cold_disk": "yes"}, "cold_disk='yes' must be True or False"),
        ({"device": "tpu"}, "device='tpu' must be one of 'cpu', 'gpu'"),
        ({"compare_fail": 5}, "compare_fail=5 must be a string such as 'ms:10%,mb:0'"),
        ({"compare_fail": "ms"}, "compare_fail='ms': 'ms': expected FIGURE:AMOUNT*"),
        ({"backend": "wasm"}, "backend='wasm' needs runtime='node' or runtime='browser'"),
        ({"runtime": "node", "cache_policy": "no-store"}, "cache_policy='no-store' applies to runtime='browser' only"),
    ],
)
def test_a_wrong_value_says_what_is_wrong(keywords: dict[str, Any], problem: str) -> None:
    with pytest.raises(MarkerError) as error:
        Budget(**keywords)
    assert str(error.value) == problem or (problem.endswith("*") and str(error.value).startswith(problem[:-1]))


def test_valid_values_pass_and_describe_round_trips() -> None:
    budget = Budget(ms=500, mb=1.5, leak_mb=2, cycles=3, rounds=1, compare_fail="ms:10%", device="cpu",
                    runtime="browser", backend="webgl", cache_policy="no-store", leak_tensors=0, cold_runs=2,
                    cold_disk=False)
    assert Budget(**describe(budget)) == budget
    assert "cold_ms" not in describe(budget)


def test_the_help_line_and_the_docstring_come_from_the_fields() -> None:
    line = marker_help()
    signature = line.split("):", 1)[0]
    assert signature == "load_budget(" + ", ".join(f"{name}=None" for name in KEYWORDS)
    assert "in ms: ms, warm_ms, block_ms, cold_ms, import_ms, fleet_ms; in MiB: mb, peak_mb, leak_mb, gpu_mb" in line
    documented = [text.split(":", 1)[0] for text in (Budget.__doc__ or "").splitlines()[2:]]
    assert documented == KEYWORDS
    assert "ms: median load time over the rounds, in milliseconds." in (Budget.__doc__ or "")


def test_a_wrong_marker_is_an_error_of_that_test_in_the_marker_s_words(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
        import pytest

        @pytest.mark.load_budget(ms=-1)
        def test_y(load_model):
            load_model(dict)

        @pytest.mark.load_budget(300)
        def test_positional(load_model):
            load_model(dict)

        @pytest.mark.load_budget(msx=3)
        def test_unknown(load_model):
            load_model(dict)

        @pytest.mark.load_budget(ms=60000)
        def test_fine(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=3)
    accepted = "accepted keywords: " + ", ".join(KEYWORDS)
    shown = result.stdout.lines
    assert "invalid @pytest.mark.load_budget on test_x.py::test_y: ms=-1 must be greater than 0" in shown
    assert f"invalid @pytest.mark.load_budget on test_x.py::test_positional: takes keyword arguments only; {accepted}" \
        in shown
    assert "invalid @pytest.mark.load_budget on test_x.py::test_unknown: got an unexpected keyword argument 'msx'; " \
        f"{accepted}" in shown
