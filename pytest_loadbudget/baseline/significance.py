"""The Mann-Whitney U test, one-sided: are the new samples larger than the old?

Load times are skewed and heavy-tailed (a round that meets a busy core is far
slower, never far faster), so a rank test that assumes no distribution is the
fitting one. Exact for small samples, where it matters most: with 5 rounds
each the smallest possible p is 1/252 = 0.004.
"""

from __future__ import annotations

import math
from functools import lru_cache

#: Below this many (n_old * n_new) pairs the exact distribution is computed.
EXACT_LIMIT = 2500


def mann_whitney_greater(old: list[float], new: list[float]) -> float:
    """p-value of "new tends to be larger than old"; 1.0 without samples."""
    n_old, n_new = len(old), len(new)
    if n_old == 0 or n_new == 0:
        return 1.0
    u_new = _u_statistic(new, old)
    has_ties = len(set(old) | set(new)) < n_old + n_new
    if n_old * n_new <= EXACT_LIMIT and not has_ties:
        # P(U >= u) under the null: U takes integer values 0..n_old*n_new.
        counts = _u_distribution(n_new, n_old)
        total = sum(counts)
        return sum(counts[int(math.ceil(u_new)):]) / total
    return _normal_approximation(u_new, old, new)


def all_above(old: list[float], new: list[float]) -> bool:
    """Every new sample above every old one: the few-runs rule (cold starts, a browser's loads).

    It is the most extreme rank order, U = n_old * n_new: under "nothing
    changed" its chance is 1 / C(n_old + n_new, n_new), 1/20 = 0.05 with 3
    runs a side, where the U test can say no more (and 1/2 with one run a
    side: there the threshold and a second measurement must carry the
    verdict). Unlike a median it cannot be moved by one slow run of a few.
    """
    return bool(old) and bool(new) and min(new) > max(old)


def _u_statistic(sample: list[float], other: list[float]) -> float:
    """Pairs where ``sample`` exceeds ``other``, ties counting one half."""
    u = 0.0
    for value in sample:
        for reference in other:
            if value > reference:
                u += 1.0
            elif value == reference:
                u += 0.5
    return u


@lru_cache(maxsize=256)
def _u_distribution(n: int, m: int) -> tuple[int, ...]:
    """Number of rank arrangements giving each U from 0 to n*m."""
    if n == 0 or m == 0:
        return (1,)
    # Recurrence on whether the largest value belongs to the first sample.
    with_largest_first = _u_distribution(n - 1, m)
    with_largest_second = _u_distribution(n, m - 1)
    size = n * m + 1
    counts = [0] * size
    for u, count in enumerate(with_largest_first):
        counts[u + m] += count
    for u, count in enumerate(with_largest_second):
        counts[u] += count
    return tuple(counts)


def _normal_approximation(u: float, old: list[float], new: list[float]) -> float:
    n_old, n_new = len(old), len(new)
    total = n_old + n_new
    mean = n_old * n_new / 2
    tie_sizes: dict[float, int] = {}
    for value in old + new:
        tie_sizes[value] = tie_sizes.get(value, 0) + 1
    tie_term = sum(t**3 - t for t in tie_sizes.values()) / (total * (total - 1))
    variance = n_old * n_new / 12 * ((total + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u - mean - 0.5) / math.sqrt(variance)  # continuity correction
    return 0.5 * math.erfc(z / math.sqrt(2))
