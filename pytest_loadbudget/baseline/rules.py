"""The rule that decided each verdict of the saved-run gate, as a stable code for the JSON report.

A verdict's line and notes say it in words; the code says it as data, so
that a script, a dashboard or a person reading the JSON can count which rule
failed or excused what, without parsing the words (docs: "Baselines and the
gate" lists each code with its rule).
"""

from __future__ import annotations

from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.results.comparison import Comparison

#: Set where they are decided (baseline/compare.py): these outrank whatever the figure's own rule said.
NOT_JUDGED = "saved-not-judged"
OTHER_MACHINE = "saved-other-machine"
TRACED_APART = "saved-traced-apart"

#: The timed figures judged by the rank test on their rounds; the others of kind "time" have a few
#: runs or loads a side and are judged by "every new one slower than every old one".
RANK_TESTED = ("ms", "warm_ms")


def decided_by(comparison: Comparison) -> str:
    """The code of the rule that decided ``comparison``, from its typed fields (never from its words)."""
    figure = comparison.figure
    if figure == "mb":
        return "saved-size"
    if figure in ("peak_mb", "gpu_mb"):
        return "saved-memory"
    if figure == "leak_mb":
        return "saved-leak-every-cycle"
    if figure in FIGURES and FIGURES[figure].kind == "count":
        return "saved-count"
    if figure == "fleet_ms":
        return "saved-fleet-p95"
    if comparison.confirmation == "confirmed":
        return "saved-confirmed"
    if comparison.confirmation in ("not confirmed", "not re-measured"):
        return "saved-not-confirmed"
    if comparison.excused:
        return "saved-machine-allowance"
    if comparison.underpowered:
        return "saved-underpowered"
    return "saved-rank-test" if figure in RANK_TESTED else "saved-all-above"


def name_rules(comparisons: list[Comparison]) -> None:
    """Give each verdict that has none the code of the rule that decided it."""
    for comparison in comparisons:
        if not comparison.rule:
            comparison.rule = decided_by(comparison)
