"""One figure of a model compared with the saved run: the verdict and its line.

It lives with the record (not in ``baseline/``) because it travels with it:
from an xdist worker to the controller, and into the JSON report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The figures a run is compared on, and the word the lines and the table use for each.
FIGURE_LABELS = {"ms": "load", "warm_ms": "warm-up", "mb": "size", "peak_mb": "peak", "leak_mb": "leak"}


@dataclass
class Comparison:
    """A figure against the baseline.

    ``line``: the figure in words ("m load 152 ms vs baseline 102 ms (+49%, ...)");
    ``change``: the relative change of the figure ("+49%", or "new" over a zero);
    ``note``: why a grown figure is not called a regression (too few samples,
    another machine...).
    """

    figure: str
    line: str
    regression: bool
    note: str = ""
    change: str = ""

    @property
    def label(self) -> str:
        return FIGURE_LABELS.get(self.figure, self.figure)

    @property
    def verdict(self) -> str:
        return "REGRESSION" if self.regression else "ok"

    def verdict_line(self) -> str:
        """The line the terminal report and ``loadbudget compare`` print for this figure."""
        note = f"  [{self.note}]" if self.note else ""
        return f"{self.verdict:<10} {self.line}{note}"

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "line": self.line, "regression": self.regression, "note": self.note,
                "change": self.change}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        # Reports written before ``change`` existed have none: the table shows "?".
        return cls(figure=data["figure"], line=data["line"], regression=bool(data["regression"]),
                   note=data.get("note", ""), change=data.get("change", ""))
