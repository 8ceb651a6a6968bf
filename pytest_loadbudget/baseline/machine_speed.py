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

Where the saved rounds themselves were timed at a round's speed, they say
best what it would have taken at the baseline's: the same VM flips between
two speeds within a run (the workload read 1.5 or 2.7-2.9 ms, rarely
between), and a pure-Python load took 123 ms at the one and 215 ms at the
other in the saved rounds. A round is then scaled by the saved rounds'
median at the baseline's speed over their median at its own (each from at
least ``MATCH_ROUNDS`` saved rounds within ``MATCH_WINDOW`` of that
reading), in either direction, and never by more than the machine's own
change nor against it; for a load that follows the machine at least half
as much as the workload does (``MATCH_FOLLOWS``). Judged so, ten unchanged
runs of that load read 0.97-1.08x the saved rounds at their speed, and ten
runs doing 1.2x the work 1.17-1.25x.

Other rounds timed while the workload ran faster than in the baseline's run
are scaled up by ``(baseline's workload / this round's) ** follows``: what
they would have taken at the baseline's speed. Only faster rounds are
scaled so, by an exponent that under-estimates rather than over-estimates
(see above): a slower machine the saved rounds never saw is the allowance's
to judge, where a mistake costs a missed regression, not a false alarm.
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
#: Saved rounds whose workload reading is within this fraction of a round's count as timed at its speed.
MATCH_WINDOW = 0.15
#: Saved rounds needed at a speed for their median to stand for the load's time at that speed.
MATCH_ROUNDS = 5
#: Only a load that follows the machine's speed at least this much is judged at each round's speed: one that
#: follows it less varies for reasons the workload does not see (a 7 ms TFLite load, following 0.38, read
#: 9.2 ms in one saved run and 11.9 ms in an unchanged one at the same speed), and keeps the allowance.
MATCH_FOLLOWS = 0.5
#: The share of a run's rounds that must be brought to the baseline's speed by saved rounds timed at theirs
#: for the run to count as judged at its own speed (``judges_at_own_speed``).
MATCHED_SHARE = 0.5


@dataclass(frozen=True)
class SpeedFollowing:
    """How much a load follows the machine's speed, and what it was learned from."""

    #: The exponent: 0 for a load the machine's speed does not reach, 1 for one in step with it.
    follows: float
    #: The saved rounds it was learned from.
    rounds: int
    #: The speed workload's median (ms) in the baseline's run: the speed rounds are brought to.
    reference_ms: float
    #: The saved rounds as (workload reading, time) pairs: the load's time at each speed it was timed at.
    saved_rounds: tuple[tuple[float, float], ...] = ()

    def at_reference(self, samples: Samples, probes: Samples) -> Samples:
        """``samples`` with each round brought to the reference's speed (``scale``).

        Rounds pair with the workload timed after them; without one reading per
        round (an older saved run, a runtime without the workload), or for a
        load that did not follow the machine at all, ``samples`` come back as
        they are.
        """
        if probes.count != samples.count or self.follows <= 0:
            return samples
        return Samples([value * self.scale(probe) for value, probe in zip(samples.values, probes.values)])

    def saved_at_reference(self) -> Samples:
        """Every saved round brought to the reference's speed: what the baseline's runs, all of them, took there.

        The rounds a matched run is judged on were scaled by the medians of all
        the saved runs' rounds; against the median run's rounds alone they would
        be judged against a run that may sit below or above those medians (a
        TFLite load's slow-speed runs read 10.6 and 12.9 ms: judged against the
        first, an unchanged fast run read +21%).
        """
        return Samples([value * self.scale(speed) for speed, value in self.saved_rounds])

    def scale(self, speed_ms: float) -> float:
        """The factor a round followed by a ``speed_ms`` reading is scaled by: the saved rounds' at the two
        speeds where they were timed at both, else the learned exponent's where the machine was faster, else 1."""
        if speed_ms <= 0:
            return 1.0
        matched = self.matched_scale(speed_ms)
        if matched is not None:
            return matched
        if speed_ms >= self.reference_ms:
            return 1.0
        return float((self.reference_ms / speed_ms) ** self.follows)

    def matched_scale(self, speed_ms: float) -> float | None:
        """The saved rounds' time at the baseline's speed over their time at ``speed_ms``, kept between no
        change and the machine's own change; None where too few saved rounds were timed at either speed, or
        for a load that follows the machine less than ``MATCH_FOLLOWS``."""
        if self.follows < MATCH_FOLLOWS or speed_ms <= 0:
            return None
        at_reference, at_speed = self.time_at(self.reference_ms), self.time_at(speed_ms)
        if at_reference is None or at_speed is None:
            return None
        low, high = sorted((1.0, self.reference_ms / speed_ms))
        return min(max(at_reference / at_speed, low), high)

    def time_at(self, speed_ms: float) -> float | None:
        """The median time of the saved rounds timed at ``speed_ms`` (within ``MATCH_WINDOW``), if enough were."""
        near = [value for speed, value in self.saved_rounds if abs(speed / speed_ms - 1.0) <= MATCH_WINDOW]
        return statistics.median(near) if len(near) >= MATCH_ROUNDS else None

    def judges_at_own_speed(self, speeds: Samples) -> bool:
        """Whether a run with these workload readings is judged against saved rounds timed at its speed: then
        neither a slower machine nor a slower cache refill is allowed for again."""
        return self.matched_share(speeds) >= MATCHED_SHARE

    def matched_share(self, speeds: Samples) -> float:
        """The share of ``speeds`` (a run's workload readings) at which saved rounds were timed too."""
        if not speeds:
            return 0.0
        return sum(self.matched_scale(speed) is not None for speed in speeds.values) / speeds.count


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
    return SpeedFollowing(follows, len(rounds), _reference_speed(reference, rounds), tuple(rounds))


def _reference_speed(reference: Samples, rounds: list[tuple[float, float]]) -> float:
    """The speed the rounds are brought to: the baseline run's median workload reading, or where the machine
    flipped between two speeds in that run and too few saved rounds were timed near the median, the run's
    reading nearest to it at which enough were."""
    for speed in sorted(reference.values, key=lambda value: (abs(value - reference.median), value)):
        if speed > 0 and sum(abs(saved / speed - 1.0) <= MATCH_WINDOW for saved, _ in rounds) >= MATCH_ROUNDS:
            return speed if abs(speed / reference.median - 1.0) > MATCH_WINDOW else reference.median
    return reference.median
