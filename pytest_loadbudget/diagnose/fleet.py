"""A fleet start in words: how much slower each process started, which phase grew, and what fixes it.

The budget miss, the report and the diagnosis (``fleet_advice``) all say it the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_loadbudget.diagnose.advice import FIXES, Advice
from pytest_loadbudget.results.fleet_profile import FleetProfile, PhaseGrowth
from pytest_loadbudget.results.phases import PHASE_LABELS
from pytest_loadbudget.units import compact_ms, format_ms

if TYPE_CHECKING:
    # Only named in annotations: the reports import this module, and the figures' module is not light.
    from pytest_loadbudget.diagnose.figures import Figures

#: A fleet this much slower than one start alone is worth a diagnosis item: a
#: single cold start repeated moves by 10-20% on a quiet machine by itself.
NOTABLE_SLOWDOWN = 1.25
#: What the bottleneck means, in words.
BOTTLENECK_WORDS = {"cpu": "CPU", "storage": "storage"}


def fleet_fix(fleet: FleetProfile) -> str:
    """What usually fixes a fleet whose start is too slow, by the resource its processes fought over."""
    return FIXES[f"fleet-{fleet.bottleneck}"]


def grown_words(growth: PhaseGrowth) -> str:
    """"import +2.49 s, 2.45 s of it waiting for a CPU": the phase that grew, by how much, and why where known."""
    words = f"{PHASE_LABELS[growth.phase]} +{format_ms(growth.growth_ms)}"
    if growth.wait_growth_ms is not None and growth.growth_ms > 0:
        waited = min(max(growth.wait_growth_ms, 0.0), growth.growth_ms)
        words += f", {format_ms(waited)} of it waiting for a CPU"
    return words


def starts_words(fleet: FleetProfile) -> str:
    """"median 4.40 s, p95 4.49 s, slowest 4.50 s; 3.4x a single cold start (1.31 s)"."""
    return (f"median {format_ms(fleet.median_ms)}, p95 {format_ms(fleet.p95_ms)}, slowest {format_ms(fleet.slowest_ms)}; "
            f"{fleet.slowdown:.1f}x a single cold start ({format_ms(fleet.single_ms)})")


def fleet_title(fleet: FleetProfile) -> str:
    cache = ", page cache evicted" if fleet.fleet.evict else ""
    return f"fleet of {fleet.size} cold starts at once{cache}"


def phases_words(fleet: FleetProfile) -> str:
    """Each phase's median alone and in the fleet, ms: "start-up 353 -> 947, import 804 -> 3298, ..."."""
    return ", ".join(f"{PHASE_LABELS[growth.phase]} {compact_ms(growth.single_ms)} -> {compact_ms(growth.fleet_ms)}"
                     for growth in fleet.growth())


def verdict_words(fleet: FleetProfile) -> str:
    """"grew most: import +2.49 s, ...: CPU is the bottleneck"."""
    return f"grew most: {grown_words(fleet.grown_phase)}: {BOTTLENECK_WORDS[fleet.bottleneck]} is the bottleneck"


def fleet_lines(name: str, fleet: FleetProfile) -> list[str]:
    """The report's lines for one model's fleet: the starts and the verdict, then each phase."""
    return [f"{name} {fleet_title(fleet)}: {starts_words(fleet)}; {verdict_words(fleet)}",
            f"    per phase, alone -> in the fleet (ms): {phases_words(fleet)}"]


def fleet_advice(figures: Figures) -> Advice | None:
    """Processes started together: how much slower each started, and the phase that grew."""
    fleet = figures.fleet
    if fleet is None or fleet.size < 2 or fleet.slowdown < NOTABLE_SLOWDOWN:
        return None
    title = f"{fleet.size} processes started at once: {BOTTLENECK_WORDS[fleet.bottleneck]} is the bottleneck"
    numbers = (f"{fleet_title(fleet)}: {starts_words(fleet)}; per phase, alone -> in the fleet (ms): "
               f"{phases_words(fleet)}; {verdict_words(fleet)}")
    return Advice("fleet", title, numbers, fleet_fix(fleet))
