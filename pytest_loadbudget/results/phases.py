"""The steps of a cold load in a fresh process: one table for every word said about them.

The child announces each step by its name as it starts; the parent turns
the name into a progress line, and into what the child was doing when it
crashed or ran out of time; the reports use the label. Importing nothing,
this module costs the child's start-up nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Announced the moment the cold load is over (after the first call): the
#: parent stamps the end of its wall time on this line.
COLD_DONE = "cold-done"
#: Announced by a fleet's child once it has its envelope and waits at the
#: start barrier: the parent releases every child when all have said it.
AT_BARRIER = "at-barrier"


@dataclass(frozen=True)
class Step:
    #: The word the child announces; for a cold phase, also the ``ColdRun`` field ``<name>_ms``.
    name: str
    #: In reports and miss lines: "first call".
    label: str
    #: In a crash or timeout message: "(it was <doing>; ...)".
    doing: str
    #: The progress line as the step starts; ``{framework}`` and ``{size}`` are filled in by the parent.
    progress: str
    #: One of the phases whose sum is the cold time.
    cold: bool


STEPS = (
    Step("startup", "start-up", "starting", "starting python...", cold=True),
    Step(AT_BARRIER, "start barrier", "waiting at the start barrier", "waiting for the fleet...", cold=False),
    Step("import", "import", "importing the framework", "importing {framework}...", cold=True),
    Step("read", "read", "reading the artifact", "reading {size}...", cold=True),
    Step("load", "load", "loading", "loading...", cold=True),
    Step("first_call", "first call", "in the first call", "first call...", cold=True),
    Step(COLD_DONE, "peak memory", "reading its peak memory", "", cold=False),
    Step("steady", "steady calls", "in the steady calls", "steady calls...", cold=False),
    Step("reload", "reload", "loading again", "loading again, framework warm...", cold=False),
)
STEP_NAMED = {step.name: step for step in STEPS}
#: The phases whose sum is the cold time, in the order they happen.
PHASES = tuple(step.name for step in STEPS if step.cold)
PHASE_LABELS = {step.name: step.label for step in STEPS if step.cold}
