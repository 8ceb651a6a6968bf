"""One figure of a model compared with the saved run: the verdict and its line.

It lives with the record (not in ``baseline/``) because it travels with it:
from an xdist worker to the controller, and into the JSON report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_loadbudget.figures import FIGURES


#: What a second measurement said of a suspected regression: "" when none was
#: taken (not suspected, or a figure that is not re-measured).
Confirmation = Literal["", "confirmed", "not confirmed", "not re-measured"]


@dataclass
class Comparison:
    """A figure against the baseline.

    ``line``: the figure in words ("m load 152 ms vs baseline 102 ms (+49%, ...)");
    ``change``: the relative change of the figure ("+49%", or "new" over a zero);
    ``note``: what the line leaves out: the clock compared when it is not the
    one asked for, why a grown figure is not called a regression (too few
    samples, another machine...), what a second measurement said;
    ``grown``: the figure grew past its threshold (a regression unless the
    note says why not); ``measured``: the new figure alone ("152 ms"), for a
    second measurement's words;
    ``confirmation``: the second measurement's verdict on a suspected regression, or on an
    ``underpowered`` growth it was taken for;
    ``underpowered``: timed rounds that grew past the threshold without the
    rank test calling it (p >= ALPHA, as a 500 ms load's 5 rounds a side
    often leave a 1.2x change): a second measurement's rounds, joined, may;
    ``excused``: timed rounds that regressed past the threshold and were let
    pass only by what the machine's gauges (speed workload, cache refill,
    memory copies) read as a slower machine: a second measurement whose
    gauges read the machine as it was may still call them;
    ``allowance``: the share of the baseline added to a timed figure's
    threshold for what the machine measurably took (0 where nothing);
    ``crept``: where the saved runs themselves drifted, why the baseline
    crept (``baseline/creep.py``), else "": it fails nothing.
    ``rule``: the stable code of the rule that decided (``paired-signed-rank``,
    ``paired-undecided``, ...; "" for the saved-run gate's verdicts, whose
    rules its notes name); ``numbers``: the figures the rule decided on
    (ratio, interval, p, pairs...), for the JSON.
    """

    figure: str
    line: str
    regression: bool
    note: str = ""
    change: str = ""
    grown: bool = False
    measured: str = ""
    confirmation: Confirmation = ""
    underpowered: bool = False
    excused: bool = False
    allowance: float = 0.0
    crept: str = ""
    rule: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        known = FIGURES.get(self.figure)
        return known.label if known is not None else self.figure

    @property
    def verdict(self) -> str:
        if self.regression:
            return "REGRESSION"
        # Pairs that could not place the ratio on either side of the threshold: passing, but not "ok".
        return "undecided" if self.rule == UNDECIDED_RULE else "ok"

    @property
    def text(self) -> str:
        """The line with its note: what a failing test and its details say."""
        return f"{self.line} [{self.note}]" if self.note else self.line

    def add_note(self, note: str) -> None:
        """Add ``note`` ("" adds nothing) after what the note says already."""
        if note:
            self.note = f"{self.note}; {note}" if self.note else note

    def verdict_line(self) -> str:
        """The line the terminal report and ``loadbudget compare`` print for this figure."""
        note = f"  [{self.note}]" if self.note else ""
        return f"{self.verdict:<10} {self.line}{note}"

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "line": self.line, "regression": self.regression, "note": self.note,
                "change": self.change, "grown": self.grown, "measured": self.measured,
                "confirmation": self.confirmation, "underpowered": self.underpowered, "excused": self.excused,
                "allowance": self.allowance, "crept": self.crept, "rule": self.rule, "numbers": self.numbers}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        # Reports written before ``change`` or the confirmation existed have
        # none: the table shows "?".
        confirmation = data.get("confirmation", "")
        return cls(figure=data["figure"], line=data["line"], regression=bool(data["regression"]),
                   note=data.get("note", ""), change=data.get("change", ""),
                   grown=bool(data.get("grown", data["regression"])), measured=data.get("measured", ""),
                   confirmation=confirmation if confirmation in CONFIRMATIONS else "",
                   underpowered=bool(data.get("underpowered", False)), excused=bool(data.get("excused", False)),
                   allowance=float(data.get("allowance", 0.0)), crept=str(data.get("crept", "")),
                   rule=str(data.get("rule", "")), numbers=dict(data.get("numbers") or {}))


#: The paired gate's code for a figure its pairs left undecided (paired/verdict.py says why it passes).
UNDECIDED_RULE = "paired-undecided"

CONFIRMATIONS: tuple[Confirmation, ...] = ("", "confirmed", "not confirmed", "not re-measured")
