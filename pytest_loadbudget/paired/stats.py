"""Paired statistics on log ratios: the Wilcoxon signed-rank test and the Hodges-Lehmann estimate.

Each pair is one load of the baseline artifact (A) and one of the candidate
(B), back to back; its log ratio ``log(B / A)`` cancels whatever slowed both
(a slow spell of the host lasts longer than a pair). The signed-rank test asks
whether the log ratios lean positive; it assumes only that they are symmetric
under "nothing changed", which AB/BA order balancing makes true. The
Hodges-Lehmann estimate (the median of the Walsh averages) is the ratio the
test is about, and its confidence interval comes from the same distribution,
so the three never disagree. Chromium's Pinpoint judges pairs the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

#: Up to this many pairs the exact null distribution is used; past it the
#: normal approximation is within a few percent of it in p, and far cheaper.
EXACT_LIMIT = 60


@dataclass(frozen=True)
class PairedEstimate:
    """What ``n`` pairs say about the ratio B / A.

    ``ratio``: the Hodges-Lehmann estimate; ``low``..``high``: its confidence
    interval at ``confidence``; ``p_greater``: one-sided p of the signed-rank
    test that B is slower than A (1.0 without pairs).
    """

    n: int
    ratio: float
    low: float
    high: float
    p_greater: float
    confidence: float


def signed_rank_greater(log_ratios: list[float]) -> float:
    """One-sided p of "the log ratios lean positive": exact for up to EXACT_LIMIT pairs without ties.

    Zero differences are dropped (Wilcoxon's convention); ties among the
    absolute values get their average rank and the normal approximation.
    """
    values = [value for value in log_ratios if value != 0.0]
    n = len(values)
    if n == 0:
        return 1.0
    ranks = _ranks([abs(value) for value in values])
    w_plus = sum(rank for rank, value in zip(ranks, values) if value > 0)
    tied = len(set(abs(value) for value in values)) < n
    if n <= EXACT_LIMIT and not tied:
        counts = _null_counts(n)
        total = 2 ** n
        return float(sum(counts[int(w_plus):]) / total)
    mean = n * (n + 1) / 4
    tie_term = sum(t ** 3 - t for t in _tie_sizes([abs(value) for value in values])) / 48
    variance = n * (n + 1) * (2 * n + 1) / 24 - tie_term
    if variance <= 0:
        return 1.0
    z = (w_plus - mean - 0.5) / math.sqrt(variance)  # continuity correction
    return 0.5 * math.erfc(z / math.sqrt(2))


def estimate(log_ratios: list[float], confidence: float = 0.95) -> PairedEstimate:
    """The Hodges-Lehmann ratio of ``log_ratios`` with its two-sided interval and the one-sided p."""
    n = len(log_ratios)
    if n == 0:
        return PairedEstimate(0, 1.0, 0.0, math.inf, 1.0, confidence)
    walsh = sorted((log_ratios[i] + log_ratios[j]) / 2 for i in range(n) for j in range(i, n))
    center = _median(walsh)
    k = _interval_rank(n, 1 - confidence)
    low, high = (walsh[k], walsh[-k - 1]) if k < len(walsh) - k else (walsh[0], walsh[-1])
    return PairedEstimate(n, math.exp(center), math.exp(low), math.exp(high), signed_rank_greater(log_ratios),
                          confidence)


def _interval_rank(n: int, alpha: float) -> int:
    """How many Walsh averages each end of the interval leaves out: the largest c with P(W <= c) <= alpha / 2.

    The true centre lies below the (c+1)-th smallest Walsh average exactly when
    W <= c, so leaving out c at each end keeps the interval's coverage at
    1 - alpha or more (as R's wilcox.test); 0 where no c qualifies (too few
    pairs for that coverage: the interval is then every Walsh average).
    """
    if n <= EXACT_LIMIT:
        counts = _null_counts(n)
        total = 2 ** n
        cumulative = 0
        for k, count in enumerate(counts):
            cumulative += count
            if cumulative / total > alpha / 2:
                return max(k - 1, 0)  # P(W <= k - 1) <= alpha / 2 < P(W <= k)
        return 0
    mean = n * (n + 1) / 4
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    z = _normal_quantile(1 - alpha / 2)
    return max(0, int(math.floor(mean - z * sd)))


@lru_cache(maxsize=64)
def _null_counts(n: int) -> tuple[int, ...]:
    """How many of the 2**n sign patterns give each W+ = 0 .. n(n+1)/2."""
    top = n * (n + 1) // 2
    counts = [0] * (top + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        for w in range(top, rank - 1, -1):
            counts[w] += counts[w - rank]
    return tuple(counts)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for position in range(i, j + 1):
            ranks[order[position]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _tie_sizes(values: list[float]) -> list[int]:
    seen: dict[float, int] = {}
    for value in values:
        seen[value] = seen.get(value, 0) + 1
    return [size for size in seen.values() if size > 1]


def _median(values: list[float]) -> float:
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _normal_quantile(p: float) -> float:
    """The standard normal's quantile, by bisection on erfc: precise enough for an interval's rank."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2
