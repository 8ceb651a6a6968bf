"""A fleet start: several fresh processes doing the same cold start at one moment, against one alone.

What a deployment that starts many workers at once (an autoscaler's burst,
a restart of every pod, a batch job's array) pays: each process imports the
framework, reads the artifact, loads it and calls it while its siblings do
the same on the same cores and the same storage. The single cold start of
the same session is the reference; the phase that grew the most says which
resource the processes fought over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pytest_loadbudget.results.cold_profile import ColdProfile
from pytest_loadbudget.results.phases import PHASES
from pytest_loadbudget.results.samples import Samples

#: The percentile the ``fleet_ms`` budget judges: the start most of the fleet beats.
BUDGET_PERCENTILE = 95
#: Which resource the fleet fought over: "storage" where reading the artifact
#: grew the most, "cpu" where the import, load or first call did (start-up:
#: interpreters spawned together compete for CPU too).
Bottleneck = Literal["storage", "cpu"]


@dataclass(frozen=True)
class PhaseGrowth:
    """One phase's median alone and in the fleet, ms; the run-queue wait's share of the growth where measured."""

    phase: str
    single_ms: float
    fleet_ms: float
    #: How much more the fleet's children waited for a CPU in this phase than the single start did.
    wait_growth_ms: float | None

    @property
    def growth_ms(self) -> float:
        return self.fleet_ms - self.single_ms


@dataclass
class FleetProfile:
    """``fleet``: one run per process, all released from one barrier; ``single``: the cold start alone.

    Times are wall time: the wait for a CPU among the fleet's processes is
    what a fleet start measures, so own time would take away the figure itself.
    """

    fleet: ColdProfile
    single: ColdProfile
    #: Each process's release from the start barrier after the first one's,
    #: in ms: how closely the processes began together.
    start_offsets_ms: list[float]

    @property
    def size(self) -> int:
        return len(self.fleet.runs)

    @property
    def starts(self) -> Samples:
        """Each process's cold start (start-up + import + read + load + first call), ms."""
        return self.fleet.total

    @property
    def median_ms(self) -> float:
        return self.starts.median

    @property
    def p95_ms(self) -> float:
        return self.starts.percentile(BUDGET_PERCENTILE)

    @property
    def slowest_ms(self) -> float:
        return self.starts.maximum

    @property
    def single_ms(self) -> float:
        return self.single.total.median

    @property
    def slowdown(self) -> float:
        """The fleet's median cold start over the single one's (1.0: no contention)."""
        return self.median_ms / self.single_ms if self.single_ms > 0 else float("inf")

    def growth(self) -> list[PhaseGrowth]:
        """Each phase that ran in both, single and fleet medians side by side, in the order they happen."""
        grown = []
        for phase in PHASES:
            single, fleet = self.single.phase(phase), self.fleet.phase(phase)
            if single and fleet:
                grown.append(PhaseGrowth(phase, single.median, fleet.median, _wait_growth(self, phase)))
        return grown

    @property
    def grown_phase(self) -> PhaseGrowth:
        """The phase whose median grew the most in the fleet."""
        return max(self.growth(), key=lambda growth: growth.growth_ms)

    @property
    def bottleneck(self) -> Bottleneck:
        return "storage" if self.grown_phase.phase == "read" else "cpu"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: both profiles, and the figures a reader wants without recomputing them."""
        grown = self.grown_phase
        return {
            "size": self.size,
            "evict": self.fleet.evict,
            "fleet": self.fleet.to_dict(),
            "single": self.single.to_dict(),
            "start_offsets_ms": self.start_offsets_ms,
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "slowest_ms": self.slowest_ms,
            "single_ms": self.single_ms,
            "slowdown": self.slowdown,
            "phases": {growth.phase: {"single_ms": growth.single_ms, "fleet_ms": growth.fleet_ms,
                                      "growth_ms": growth.growth_ms, "wait_growth_ms": growth.wait_growth_ms}
                       for growth in self.growth()},
            "grown_phase": grown.phase,
            "bottleneck": self.bottleneck,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FleetProfile:
        return cls(fleet=ColdProfile.from_dict(data["fleet"]), single=ColdProfile.from_dict(data["single"]),
                   start_offsets_ms=list(data.get("start_offsets_ms", [])))


def _wait_growth(profile: FleetProfile, phase: str) -> float | None:
    waits = [_median_wait(side, phase) for side in (profile.single, profile.fleet)]
    if waits[0] is None or waits[1] is None:
        return None
    return waits[1] - waits[0]


def _median_wait(profile: ColdProfile, phase: str) -> float | None:
    waits = [run.wait_ms[phase] for run in profile.runs if phase in run.wait_ms]
    return Samples(waits).median if waits and len(waits) == len(profile.runs) else None
