"""One line at the end of a run with a baseline artifact: what the paired gate found, model by model.

A model whose baseline could not be used, or whose pairs stayed undecided,
passes; without this line a CI run whose baselines were all missing (an LFS
object not fetched, a shallow clone) would look as green as a judged one.
"""

from __future__ import annotations

from collections import Counter

from pytest_loadbudget.results.record import ModelRecord

#: The order the counts are said in, each with the rule that puts a model there (None: judged within).
OUTCOMES = (("regressed", None), ("undecided", "paired-undecided"), ("unusable baseline", "paired-baseline-unusable"),
            ("new", "paired-new"), ("same bytes", "paired-same-bytes"), ("not paired", "paired-not-applicable"))


def paired_summary(records: list[ModelRecord]) -> list[str]:
    """The count of models by outcome, then one line for each model passed without a verdict; [] when none paired."""
    counts: Counter[str] = Counter()
    said: list[str] = []
    for record in records:
        paired = [comparison for comparison in record.comparisons if comparison.rule.startswith("paired")]
        if not paired:
            continue
        rules = {comparison.rule for comparison in paired}
        outcome = "within the threshold"
        if any(comparison.regression for comparison in paired):
            outcome = "regressed"
        else:
            outcome = next((word for word, rule in OUTCOMES if rule in rules), outcome)
        counts[outcome] += 1
        if outcome in ("undecided", "unusable baseline", "not paired"):
            said += [f"  {comparison.line}" for comparison in paired if comparison.rule in rules - {"paired-size"}
                     and not comparison.regression and comparison.rule != "paired-signed-rank"]
    if not counts:
        return []
    order = [word for word, _ in OUTCOMES] + ["within the threshold"]
    parts = [f"{counts[word]} {word}" for word in order if counts[word]]
    return [f"paired against the baseline artifacts: {sum(counts.values())} model(s): {', '.join(parts)}", *said]
