"""A paired figure's verdict: regressed, within the threshold, or undecided, each with its rule code.

``regression`` (rule ``paired-signed-rank``): the 95% interval of the ratio
B / A lies above the threshold and the one-sided signed-rank test gives
p <= 0.001. ``ok`` (same rule): the interval lies below the threshold.
``undecided`` (rule ``paired-undecided``): the interval still straddles the
threshold when the time budget ran out; said, never failed, since a verdict
the pairs could not reach is not one the plugin may claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_loadbudget.paired.stats import PairedEstimate
from pytest_loadbudget.results.comparison import UNDECIDED_RULE

#: The one-sided signed-rank p a regression needs, as asv's and Pinpoint's gates ask for about as much.
ALPHA = 0.001
#: How much slower a paired time may be: A/A pairs of the same artifact here kept their interval
#: within 0.95-1.05 (21 pairs, idle and 2 busy processes), and 1.10x must be caught every time.
DEFAULT_PAIRED_FACTOR = 1.05
#: The compare-fail list the paired gate starts from; a user's list changes the figures it names.
DEFAULT_PAIRED_COMPARE_FAIL = "ms:5%,warm_ms:5%"

Outcome = Literal["regression", "ok", "undecided"]
RULE_SIGNED_RANK = "paired-signed-rank"
RULE_UNDECIDED = UNDECIDED_RULE
RULE_SIZE = "paired-size"
RULE_SAME_BYTES = "paired-same-bytes"
RULE_NEW = "paired-new"
RULE_UNUSABLE = "paired-baseline-unusable"
RULE_NOT_PAIRED = "paired-not-applicable"
RULE_NOT_JUDGED = "paired-not-judged"


def decide(found: PairedEstimate, factor: float) -> Outcome:
    """The verdict of one figure's pairs against ``factor`` (1.05: 5% slower allowed)."""
    if found.low > factor and found.p_greater <= ALPHA:
        return "regression"
    if found.high < factor:
        return "ok"
    return "undecided"


@dataclass(frozen=True)
class PairedVerdict:
    """One paired figure: its estimate, the factor it was judged at (None: not judged) and the outcome."""

    figure: str
    label: str
    found: PairedEstimate
    factor: float | None
    clock: str
    against: str

    @property
    def outcome(self) -> Outcome | None:
        return decide(self.found, self.factor) if self.factor is not None else None

    @property
    def rule(self) -> str:
        if self.factor is None:
            return RULE_NOT_JUDGED
        return RULE_UNDECIDED if self.outcome == "undecided" else RULE_SIGNED_RANK

    def line(self, name: str, seconds: float) -> str:
        """``m.keras load 1.14x against origin/main [1.11..1.17], p=0.0002, 21 AB/BA pairs, own time > x1.05``."""
        found = self.found
        head = (f"{name} {self.label} {found.ratio:.2f}x against {self.against} [{found.low:.2f}..{found.high:.2f}], "
                f"p={_p(found.p_greater)}, {found.n} AB/BA pairs, {self.clock} time")
        if self.factor is None:
            return f"{head}, not judged"
        outcome = self.outcome
        if outcome == "regression":
            return f"{head} > x{self.factor:.2f}"
        if outcome == "ok":
            return f"{head} < x{self.factor:.2f}"
        return (f"{head}: undecided at x{self.factor:.2f} after {seconds:.0f} s (the interval straddles it; "
                "--loadbudget-against-seconds allows more pairs)")

    def numbers(self, seconds: float) -> dict[str, float | int | str | None]:
        found = self.found
        return {"ratio": found.ratio, "low": found.low, "high": found.high, "confidence": found.confidence,
                "p": found.p_greater, "pairs": found.n, "factor": self.factor, "clock": self.clock,
                "against": self.against, "seconds": round(seconds, 3), "outcome": self.outcome}


def _p(value: float) -> str:
    return f"{value:.2g}" if value >= 0.0001 else f"{value:.1e}"
