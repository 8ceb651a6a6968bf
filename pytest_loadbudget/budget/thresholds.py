"""What counts as a regression: a threshold per figure, and the list that sets them.

``--loadbudget-compare-fail``, the ini key and a marker's ``compare_fail``
each change the figures they name and keep the others: ``ms:15%`` loosens
the load's threshold and leaves sizes and memory gated; ``FIGURE:off``
keeps a figure in the report but never fails on it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_loadbudget.figures import COMPARED, FIGURES

#: What counts as a regression unless --loadbudget-compare-fail says otherwise: each compared
#: figure's default threshold (``figures.py`` says why each is what it is).
DEFAULT_COMPARE_FAIL = ",".join(f"{key}:{FIGURES[key].default_threshold}" for key in COMPARED)


@dataclass(frozen=True)
class Threshold:
    """Growth allowed before a figure regresses: a fraction, or an absolute amount (ms, MiB or tensors)."""

    figure: str
    amount: float
    relative: bool

    def exceeded(self, old: float, new: float, unit: float) -> bool:
        growth = new - old
        if self.relative and old <= 0:
            return growth > 0
        return growth > self.allowed(old, unit)

    def allowed(self, old: float, unit: float = 1.0) -> float:
        """The growth from ``old`` this threshold lets pass (``unit``: ms, MiB or tensors per absolute amount)."""
        return self.amount * old if self.relative else self.amount * unit

    def __str__(self) -> str:
        return f"{self.figure}:{self.amount * 100:g}%" if self.relative else f"{self.figure}:{self.amount:g}"

    def widened(self, share: float, old: float) -> Threshold:
        """This threshold with ``share`` of the baseline ``old`` more growth allowed."""
        return Threshold(self.figure, self.amount + share if self.relative else self.amount + share * old,
                         self.relative)


#: The amount that leaves a figure unjudged: compared and shown, never failing.
OFF = "off"


def parse_compare_fail(text: str) -> dict[str, Threshold | None]:
    """``ms:15%,peak_mb:5%,mb:0,leak_mb:off`` into the thresholds it names (None for ``off``);
    ArgumentTypeError says what is wrong. ``merge_thresholds`` lays them over the defaults."""
    thresholds: dict[str, Threshold | None] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        figure, separator, amount = part.partition(":")
        if not separator or figure not in COMPARED:
            raise argparse.ArgumentTypeError(
                f"{part!r}: expected FIGURE:AMOUNT with FIGURE one of {', '.join(COMPARED)} (e.g. ms:10%)"
            )
        if amount.strip() == OFF:
            thresholds[figure] = None
            continue
        relative = amount.endswith("%")
        try:
            value = float(amount[:-1] if relative else amount)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r}: {amount!r} is not a number, a percentage or {OFF!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: a threshold cannot be negative")
        thresholds[figure] = Threshold(figure, value / 100 if relative else value, relative)
    return thresholds


def merge_thresholds(base: Mapping[str, Threshold], changes: Mapping[str, Threshold | None]) -> dict[str, Threshold]:
    """``base`` with each figure ``changes`` names set to its threshold, or unjudged where it says ``off``.

    A list given to change one figure (``ms:15%``) keeps every other figure
    gated: replacing the whole list would silently stop judging sizes and
    memory for a user who only wanted a looser time threshold.
    """
    merged = {**base, **changes}
    return {figure: threshold for figure, threshold in merged.items() if threshold is not None}


def default_thresholds() -> dict[str, Threshold]:
    """What counts as a regression when nothing says otherwise (``DEFAULT_COMPARE_FAIL``)."""
    return merge_thresholds({}, parse_compare_fail(DEFAULT_COMPARE_FAIL))
