"""The one-sided Mann-Whitney U test against p-values known exactly.

Small samples are checked against a brute-force enumeration written here
(every way of splitting the pooled values into an old and a new sample is
equally likely under the null), and against scipy where it is installed.
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest

from pytest_loadbudget.baseline.significance import EXACT_LIMIT, mann_whitney_greater


def u_of(new: list[float], old: list[float]) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in new for b in old)


def enumerated_p(old: list[float], new: list[float]) -> Fraction:
    """P(U >= u observed) over every split of the pooled values: the exact null distribution."""
    pooled = old + new
    observed = u_of(new, old)
    splits = list(itertools.combinations(range(len(pooled)), len(new)))
    at_least = 0
    for chosen in splits:
        picked = set(chosen)
        as_new = [pooled[i] for i in picked]
        as_old = [pooled[i] for i in range(len(pooled)) if i not in picked]
        at_least += u_of(as_new, as_old) >= observed
    return Fraction(at_least, len(splits))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # Every new value above every old one: 1 split of C(10, 5) = 252.
        ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], Fraction(1, 252)),
        # The same with 3 a side: 1 of C(6, 3) = 20, exactly the 0.05 the gate compares with.
        ([1, 2, 3], [4, 5, 6], Fraction(1, 20)),
        # The largest old value above the smallest new: U = 24, reached by 2 splits of 252.
        ([1, 2, 3, 4, 6], [5, 7, 8, 9, 10], Fraction(2, 252)),
        # Every new value below every old one: U = 0, and P(U >= 0) = 1.
        ([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], Fraction(1)),
        # One against one, the new one larger: half of the two orders.
        ([1.0], [2.0], Fraction(1, 2)),
    ],
)
def test_exact_p_values_computed_by_hand(old: list[float], new: list[float], expected: Fraction) -> None:
    assert mann_whitney_greater(old, new) == pytest.approx(float(expected), abs=1e-12)
    assert enumerated_p(old, new) == expected, "the hand figure itself is right"


def test_alternating_samples_are_not_significant() -> None:
    old, new = [1, 3, 5, 7, 9], [2, 4, 6, 8, 10]
    p = mann_whitney_greater(old, new)
    # U = 15 of 25. The splits of 5 + 5 by U (partitions of U into at most 5
    # parts of at most 5) number 1, 1, 2, 3, 5, 7, 9, 11, 14, 16, 18, 19, 20,
    # 20, 19, 18, 16, ... for U = 0, 1, 2, ...; those with U >= 15 add up to
    # 18+16+14+11+9+7+5+3+2+1+1 = 87 of 252.
    assert p == pytest.approx(87 / 252, abs=1e-12)
    assert p > 0.05
    assert enumerated_p(old, new) == Fraction(87, 252)


def test_small_samples_without_ties_match_the_enumeration() -> None:
    rng = random.Random(20240611)
    for n_old, n_new in [(2, 3), (4, 4), (5, 5), (3, 7), (6, 4)]:
        for _ in range(5):
            values = rng.sample(range(1000), n_old + n_new)
            old, new = [float(v) for v in values[:n_old]], [float(v) for v in values[n_old:]]
            assert mann_whitney_greater(old, new) == pytest.approx(float(enumerated_p(old, new)), abs=1e-12), (old, new)


def test_no_samples_means_no_evidence() -> None:
    assert mann_whitney_greater([], [1.0, 2.0]) == 1.0
    assert mann_whitney_greater([1.0, 2.0], []) == 1.0


def test_ties_use_the_normal_approximation_with_tie_correction() -> None:
    old, new = [1.0, 2.0, 2.0, 3.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]
    n_old, n_new = len(old), len(new)
    total = n_old + n_new
    u = u_of(new, old)
    # Tie groups: 2 (three times), 3 (four times): t**3 - t = 24 and 60.
    variance = n_old * n_new / 12 * ((total + 1) - (24 + 60) / (total * (total - 1)))
    z = (u - n_old * n_new / 2 - 0.5) / math.sqrt(variance)
    assert mann_whitney_greater(old, new) == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-12)


def test_all_values_equal_is_no_evidence() -> None:
    assert mann_whitney_greater([5.0, 5.0, 5.0], [5.0, 5.0, 5.0]) == 1.0


def test_exact_small_samples_agree_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(7)
    for n_old, n_new in [(5, 5), (6, 6), (3, 8), (10, 7), (12, 12)]:
        values = rng.sample(range(10_000), n_old + n_new)
        old, new = [v / 10 for v in values[:n_old]], [v / 10 for v in values[n_old:]]
        expected = stats.mannwhitneyu(new, old, alternative="greater", method="exact").pvalue
        assert mann_whitney_greater(old, new) == pytest.approx(expected, rel=1e-9, abs=1e-15), (old, new)


def test_large_and_tied_samples_agree_with_scipys_asymptotic_test() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(11)
    large_old = [rng.gauss(100, 10) for _ in range(60)]
    large_new = [rng.gauss(104, 10) for _ in range(60)]
    assert len(large_old) * len(large_new) > EXACT_LIMIT, "past the exact limit"
    tied_old = [float(rng.randint(0, 6)) for _ in range(8)]
    tied_new = [float(rng.randint(1, 7)) for _ in range(8)]
    for old, new in [(large_old, large_new), (tied_old, tied_new)]:
        expected = stats.mannwhitneyu(
            new, old, alternative="greater", method="asymptotic", use_continuity=True
        ).pvalue
        assert mann_whitney_greater(old, new) == pytest.approx(expected, rel=1e-9), (old, new)


def test_a_tie_is_not_every_new_run_slower() -> None:
    from pytest_loadbudget.baseline.significance import all_above

    # Whole-number or coarse timer figures tie: a tie is not "slower", or an unchanged cold start fails.
    assert not all_above([10.0, 12.0], [12.0, 13.0])
    assert all_above([10.0, 12.0], [12.5, 13.0])
