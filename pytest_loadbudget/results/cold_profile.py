"""A model's cold start over fresh processes: runs, phases and the page cache they started with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_loadbudget.formats.graph_stats import GraphStats
from pytest_loadbudget.results.phases import PHASE_LABELS, PHASES
from pytest_loadbudget.results.samples import Samples

__all__ = ["PHASES", "PHASE_LABELS", "ColdProfile", "ColdRun", "PageCache", "add_up_tolerance_ms"]
#: The phases may miss the parent's wall time by the in-child time between
#: phases (the peak reset, building the sample input: a few ms) plus the pipe
#: hand-off of the last phase line to a reader thread, which a loaded machine
#: can delay by a scheduler tick or two.
ADD_UP_TOLERANCE_MS = 20.0
ADD_UP_TOLERANCE_FRACTION = 0.01


def add_up_tolerance_ms(wall_ms: float) -> float:
    """How far the phases of a run may fall short of its wall time, in ms."""
    return max(ADD_UP_TOLERANCE_MS, ADD_UP_TOLERANCE_FRACTION * wall_ms)


@dataclass
class PageCache:
    """The artifact's bytes in the page cache when a run started.

    ``resident_before``: resident bytes before eviction (before the run when
    nothing was evicted); ``resident_after``: at the child's start. None where
    residency cannot be read (no ``mincore``, or a file this user may not
    write, whose residency Linux hides). ``problem`` says why eviction was not
    tried or failed.
    """

    total_bytes: int
    resident_before: int | None
    resident_after: int | None
    evicted: bool
    problem: str = ""

    @property
    def evicted_fraction(self) -> float | None:
        """Share of what was cached that eviction dropped (1.0 = all of it)."""
        if not self.evicted or self.resident_before is None or self.resident_after is None:
            return None
        if self.resident_before == 0:
            return 1.0 if self.resident_after == 0 else 0.0
        return 1.0 - self.resident_after / self.resident_before

    @property
    def resident_fraction(self) -> float | None:
        """Share of the artifact in the page cache as the child started."""
        if self.resident_after is None or not self.total_bytes:
            return None
        return self.resident_after / self.total_bytes


@dataclass
class ColdRun:
    """One fresh process: phase times in ms, memory in bytes.

    ``first_call_ms`` is None when the request has no warm-up (nothing to
    call). ``wall_ms`` is the parent's own clock from spawn to the end of the
    first call; ``harness_ms`` the in-child time between phases.
    ``peak_bytes``: the high-water mark of read + load + first call above the
    RSS after the import; ``import_rss_bytes``: RSS after the import.
    """

    startup_ms: float
    import_ms: float
    read_ms: float
    load_ms: float
    first_call_ms: float | None
    steady_ms: list[float]
    reload_ms: list[float]
    wall_ms: float
    harness_ms: float
    read_bytes: int
    peak_bytes: int | None
    import_rss_bytes: int | None
    page_cache: PageCache | None = None
    #: Garbage collection inside the import, load and first call phases, in ms.
    gc_ms: dict[str, float] = field(default_factory=dict)
    #: Run-queue wait of the child's loading thread inside each phase, in ms,
    #: measured in the child (empty where the system keeps no schedstat).
    wait_ms: dict[str, float] = field(default_factory=dict)
    #: The frameworks and interpreters the child had imported at the end of the
    #: cold start (``fresh.protocol.FRAMEWORK_MODULES``); empty in older profiles.
    frameworks: list[str] = field(default_factory=list)

    def phase_ms(self, phase: str) -> float | None:
        value: float | None = getattr(self, f"{phase}_ms")
        return value

    def own_phase_ms(self, phase: str) -> float | None:
        """The phase's wall time less its run-queue wait; None where the wait was not measured."""
        wall = self.phase_ms(phase)
        if wall is None or phase not in self.wait_ms:
            return None
        return max(wall - self.wait_ms[phase], 0.0)

    @property
    def own_total_ms(self) -> float | None:
        """The cold time less every phase's run-queue wait; None unless each phase that ran has its wait."""
        ran = [phase for phase in PHASES if self.phase_ms(phase) is not None]
        owns = [self.own_phase_ms(phase) for phase in ran]
        return None if any(own is None for own in owns) else sum(own or 0.0 for own in owns)

    @property
    def total_ms(self) -> float:
        """The cold time: start-up + import + read + load + first call."""
        return sum(self.phase_ms(phase) or 0.0 for phase in PHASES)

    @property
    def unaccounted_ms(self) -> float:
        """Wall time no phase holds; within ``add_up_tolerance_ms(wall_ms)``."""
        return self.wall_ms - self.total_ms

    @property
    def steady_median_ms(self) -> float | None:
        return Samples(self.steady_ms).median if self.steady_ms else None

    @property
    def reload_median_ms(self) -> float | None:
        return Samples(self.reload_ms).median if self.reload_ms else None


@dataclass
class ColdProfile:
    """A model's cold start over several fresh processes."""

    name: str
    format: str
    size_bytes: int
    files: int
    evict: bool
    runs: list[ColdRun] = field(default_factory=list)
    #: ``"vmhwm"`` or ``"unavailable"`` (no resettable high-water mark here).
    peak_method: str = "vmhwm"
    #: Functions, nodes or layers of the artifact (None where not counted).
    graph: GraphStats | None = None
    #: The interpreter of a .tflite model ("litert", "tensorflow", ...); "" for other formats.
    interpreter: str = ""

    def phase(self, phase: str) -> Samples:
        """One phase's samples in ms, one per run (none for a first call that never ran)."""
        return Samples([value for run in self.runs if (value := run.phase_ms(phase)) is not None])

    @property
    def total(self) -> Samples:
        return Samples([run.total_ms for run in self.runs])

    def own_phase(self, phase: str) -> Samples:
        """One phase's own time in ms, one per run whose wait was measured."""
        return Samples([value for run in self.runs if (value := run.own_phase_ms(phase)) is not None])

    @property
    def own_total(self) -> Samples:
        return Samples([value for run in self.runs if (value := run.own_total_ms) is not None])

    def timing(self, phase: str | None, clock: str) -> tuple[Samples, str]:
        """The samples a budget judges: the cold total (``phase`` None) or one phase, and their clock.

        Own time when ``clock`` is "own" and every run measured it, else wall
        time and "wall" (no schedstat, a profile saved before own time existed).
        """
        wall = self.total if phase is None else self.phase(phase)
        if clock == "own":
            own = self.own_total if phase is None else self.own_phase(phase)
            if own and own.count == wall.count:
                return own, "own"
        return wall, "wall"

    @property
    def wall(self) -> Samples:
        return Samples([run.wall_ms for run in self.runs])

    @property
    def steady_call(self) -> Samples:
        """The median steady call of each run, in ms."""
        return Samples([value for run in self.runs if (value := run.steady_median_ms) is not None])

    @property
    def reload(self) -> Samples:
        """The median reload of each run: the load again, framework warm, in ms."""
        return Samples([value for run in self.runs if (value := run.reload_median_ms) is not None])

    def gc(self, phase: str) -> Samples:
        """Garbage collection inside ``phase`` (import, load, first_call), ms per run."""
        return Samples([run.gc_ms[phase] for run in self.runs if phase in run.gc_ms])

    @property
    def peak_bytes(self) -> list[int]:
        """Peak memory of each run above the RSS after the import, in bytes."""
        return [run.peak_bytes for run in self.runs if run.peak_bytes is not None]

    @property
    def dominant_phase(self) -> str:
        """The phase with the largest median."""
        return max(PHASES, key=lambda phase: self.phase(phase).median if self.phase(phase) else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the runs, and each phase summarized (median, min, max, ...)."""
        data = asdict(self)
        data["graph"] = self.graph.to_dict() if self.graph is not None else None
        summaries = {phase: self.phase(phase) for phase in PHASES}
        summaries |= {"total": self.total, "wall": self.wall, "steady_call": self.steady_call, "reload": self.reload}
        data["phases_ms"] = {name: samples.summary() for name, samples in summaries.items() if samples}
        owns = {phase: self.own_phase(phase) for phase in PHASES} | {"total": self.own_total}
        data["own_phases_ms"] = {name: samples.summary() for name, samples in owns.items() if samples}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColdProfile:
        runs = []
        for run in data.get("runs", []):
            cache = run.get("page_cache")
            runs.append(ColdRun(**{**run, "page_cache": PageCache(**cache) if cache else None}))
        graph = data.get("graph")
        return cls(
            name=data["name"], format=data["format"], size_bytes=data["size_bytes"], files=data["files"],
            evict=data["evict"], runs=runs, peak_method=data.get("peak_method", "vmhwm"),
            graph=GraphStats(**graph) if graph else None, interpreter=data.get("interpreter", ""),
        )
