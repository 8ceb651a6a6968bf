"""Rounds timed on a faster machine, brought to the speed of the baseline's.

A shared virtual machine runs fast or slow for minutes at a time with
nothing in the guest to show it: on a 2-core cloud VM a small CNN loaded in
53-60 ms in some runs and 80-95 ms in others, unchanged, while the speed
workload timed after every round (``measure/speed.py``) took 1.3-1.6 ms in
the first and 2.3-3.0 ms in the second. A baseline saved in a slow spell
hides a 1.2x regression measured in a fast one: the slower model still loads
faster than the baseline did. Widening the threshold for a slower machine
(``compare._allowance``) keeps such spells from failing a build; this module
lets a faster one reveal what it hides.

Loads do not follow the machine's speed alike (a pure-Python loader nearly
in step with the workload, a TFLite model's memory copies a third as much),
so how much a load follows is learned from its own saved rounds, each paired
with the workload timed right after it: over all of the saved runs' rounds,
the slowest third by the workload against the fastest third gives the
exponent ``follows`` in load ∝ workload ** follows (grouping by thirds, not a
least-squares slope, which the workload's own round-to-round jitter flattens
towards 0). It is learned only where the saved rounds saw the machine's
speed vary enough to tell, and kept within 0 (a load the machine's speed
does not reach: I/O) and 1 (a load that follows it fully).

Each round timed while the workload ran faster than in the baseline's run
is then scaled up by ``(baseline's workload / this round's) ** follows``:
what it would have taken at the baseline's speed. Only faster rounds are
scaled, and by an exponent that under-estimates rather than over-estimates
(see above): a slower machine is the allowance's to judge, where a mistake
costs a missed regression, not a false alarm.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_loadbudget.results.samples import Samples

#: Rounds with a workload reading needed to learn from: three in each third.
LEARN_ROUNDS = 9
#: The slowest third's workload must take this much longer than the fastest third's: a machine whose speed
#: barely varied teaches nothing about how a load follows it (every difference would be the load's own noise).
LEARN_SPREAD = 1.2


@dataclass(frozen=True)
class SpeedFollowing:
    """How much a load follows the machine's speed, and what it was learned from."""

    #: The exponent: 0 for a load the machine's speed does not reach, 1 for one in step with it.
    follows: float
    #: The saved rounds it was learned from.
    rounds: int
    #: The speed workload's median (ms) in the baseline's run: the speed rounds are brought to.
    reference_ms: float

    def at_reference(self, samples: Samples, probes: Samples) -> Samples:
        """``samples`` with each round timed on a faster machine than the reference's scaled to its speed.

        Rounds pair with the workload timed after them; without one reading per
        round (an older saved run, a runtime without the workload) ``samples``
        come back as they are.
        """
        if probes.count != samples.count or self.follows <= 0:
            return samples
        return Samples([value * self.scale(probe) for value, probe in zip(samples.values, probes.values)])

    def scale(self, speed_ms: float) -> float:
        """The factor a round followed by a ``speed_ms`` reading is scaled by: 1 unless the machine was faster."""
        if speed_ms <= 0 or speed_ms >= self.reference_ms:
            return 1.0
        return float((self.reference_ms / speed_ms) ** self.follows)


def learn(pairs: Iterable[tuple[Samples, Samples]], reference: Samples) -> SpeedFollowing | None:
    """What the saved runs' rounds teach: ``pairs`` are each run's samples with its workload readings,
    ``reference`` the workload readings of the baseline's run; None where they cannot teach it."""
    rounds = sorted((probe, value) for samples, probes in pairs if probes.count == samples.count
                    for value, probe in zip(samples.values, probes.values) if probe > 0 and value > 0)
    if len(rounds) < LEARN_ROUNDS or not reference or reference.median <= 0:
        return None
    third = len(rounds) // 3
    fast, slow = rounds[:third], rounds[-third:]
    machine = statistics.median(probe for probe, _ in slow) / statistics.median(probe for probe, _ in fast)
    if machine < LEARN_SPREAD:
        return None
    load = statistics.median(value for _, value in slow) / statistics.median(value for _, value in fast)
    follows = min(max(math.log(load) / math.log(machine), 0.0), 1.0)
    return SpeedFollowing(follows, len(rounds), reference.median)
