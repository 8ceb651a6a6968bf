"""The page's main-thread block during a browser measurement, from the Long Tasks API.

The page (js/longtasks.js) reports every task of 50 ms or more with its start
and duration on the page's timeline; the stage events of the measurement
(load, warm-up, ... of each round) are on the same timeline, also when the
model runs in a Web Worker. A task counts for the load and warm-up when it
overlaps one of their spans: a single task can run the end of a load and the
start of a warm-up (microtasks run in the task that queued them). Only the
part of a task inside those spans counts: on the cpu backend the warm-up and
the steady predictions after it run as one task, since every await there
resolves at once, and the predictions are not the model's start.

``block_ms`` is the longest such part: the longest the page could not answer
a click while the model started. ``total_blocking_ms`` is Lighthouse's total
blocking time over the same parts: what each has beyond 50 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures

#: The Long Tasks API's threshold: a task this long or longer is a long task.
LONG_TASK_MS = 50.0
#: The stages whose tasks make the block: the model's initialisation as a user waits for it.
BLOCKING_STAGES = ("load", "warmup")
#: Starts the long-task observer, then the measurement on the page or in a Web Worker; returns at once.
START_MEASUREMENT = """([options, inWorker]) => {
  window.loadbudgetLongTasks.start();
  return inWorker ? window.loadbudgetStartInWorker(options) : window.loadbudgetStart(options);
}"""
#: How long reading the long tasks of a finished run may take: a stuck page gives up.
COLLECT_TIMEOUT_MS = 5000
#: The busy task the probe runs on purpose before a browser's first measurement:
#: long enough to be a long task on any machine, short enough to cost little.
PROBE_TASK_MS = 80.0


@dataclass
class MainThreadBlock:
    """What the main thread went through; times in ms.

    ``tasks``: every long task, each ``{"start_ms", "duration_ms", "stage",
    "round", "blocking_ms"}`` (``stage``: where it started, "backend" before the
    first load; ``blocking_ms``: its part inside loads and warm-ups).
    ``per_round_ms``: each round's longest task of its load and warm-up (0 for
    none). ``note``: why nothing was measured ("" when measured).
    """

    block_ms: float | None = None
    total_blocking_ms: float | None = None
    per_round_ms: list[float] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def main_thread_block(observed: dict[str, Any] | None, events: list[dict[str, Any]], rounds: int) -> MainThreadBlock:
    """The block from what js/longtasks.js ``collect()`` returned and the run's stage events."""
    if not observed or not observed.get("observed"):
        note = (observed or {}).get("note") or "the page's long tasks could not be read"
        return MainThreadBlock(note=str(note))
    spans = _stage_spans(events)
    per_round = [0.0] * rounds
    tasks: list[dict[str, Any]] = []
    blocking: list[float] = []
    for raw in observed.get("tasks", []):
        start, duration = float(raw["start_ms"]), float(raw["duration_ms"])
        end = start + duration
        started_in = next((span for span in spans if span[0] <= start < span[1]), None)
        # Adjacent load and warm-up spans of a round add up: one task that runs both blocks for both.
        inside: dict[int, float] = {}
        for span_start, span_end, stage, round_index in spans:
            overlap = min(end, span_end) - max(start, span_start)
            if stage in BLOCKING_STAGES and overlap > 0:
                inside[round_index] = inside.get(round_index, 0.0) + overlap
        for round_index, overlap in inside.items():
            if 0 <= round_index < rounds:
                per_round[round_index] = max(per_round[round_index], overlap)
        tasks.append({
            "start_ms": start, "duration_ms": duration,
            "stage": started_in[2] if started_in else "backend",
            "round": started_in[3] if started_in else None,
            "blocking_ms": sum(inside.values()),
        })
        if inside:
            blocking.append(sum(inside.values()))
    return MainThreadBlock(
        block_ms=max(blocking, default=0.0),
        total_blocking_ms=sum(max(0.0, duration - LONG_TASK_MS) for duration in blocking),
        per_round_ms=per_round,
        tasks=tasks,
    )


def _stage_spans(events: list[dict[str, Any]]) -> list[tuple[float, float, str, int]]:
    """(start, end, stage, round) of each stage, in order; the last one runs on."""
    stages = [e for e in events if e.get("event") == "stage" and e.get("t_ms") is not None]
    spans = []
    for index, stage in enumerate(stages):
        end = float(stages[index + 1]["t_ms"]) if index + 1 < len(stages) else float("inf")
        spans.append((float(stage["t_ms"]), end, str(stage.get("stage")), int(stage.get("round") or 0)))
    return spans


def long_tasks_probe_note(probed: dict[str, Any] | None, browser: str | None) -> str:
    """Why this browser's Long Tasks API cannot be trusted, from ``probe()``'s answer; "" when it can.

    The probe's own task must come back as one long task of about its length:
    a browser that reports nothing (seen in some headless Chromium builds)
    would read every page as never blocked.
    """
    name = f"Chromium {browser}" if browser else "this browser"
    if probed is None:
        return f"{name} did not answer the Long Tasks API probe"
    if not probed.get("supported"):
        return f"{name} has no Long Tasks API"
    durations = [float(duration) for duration in probed.get("durations") or []]
    if not any(duration >= PROBE_TASK_MS * 0.9 for duration in durations):
        return (f"{name}'s Long Tasks API did not report a {PROBE_TASK_MS:g} ms busy task run on purpose on the page "
                f"(it reported {len(durations)} long task(s)): its long tasks cannot be trusted here")
    return ""


def probe_long_tasks(page: Any, browser: str | None) -> str:
    """Run the probe on a loaded page: "" when the Long Tasks API reports its busy task, else why not."""
    try:
        probed = page.evaluate("(ms) => window.loadbudgetLongTasks.probe(ms)", PROBE_TASK_MS)
    except Exception:  # noqa: BLE001 - a page that fails here fails the measurement itself right after
        probed = None
    return long_tasks_probe_note(probed if isinstance(probed, dict) else None, browser)


def collect_long_tasks(page: Any) -> dict[str, Any] | None:
    """What js/longtasks.js observed, or None from a page that does not answer in time."""
    try:
        # wait_for_function, unlike evaluate, gives up on a page whose main thread is stuck.
        handle = page.wait_for_function("() => window.loadbudgetLongTasks.collect()", timeout=COLLECT_TIMEOUT_MS)
        observed = handle.json_value()
    except Exception:  # noqa: BLE001 - a crashed or hung page: the block is then not measured
        return None
    return observed if isinstance(observed, dict) else None


def apply_main_thread_block(figures: RuntimeFigures, observed: dict[str, Any] | None, events: list[dict[str, Any]]) -> None:
    """Set the block figures of a browser run (see RuntimeFigures)."""
    block = main_thread_block(observed, events, figures.rounds)
    figures.block_ms, figures.total_blocking_ms = block.block_ms, block.total_blocking_ms
    figures.block_round_ms, figures.long_tasks, figures.block_note = block.per_round_ms, block.tasks, block.note
