"""The page's main-thread block during a browser measurement: Chrome's trace, checked by a heartbeat.

Where the tasks come from (``block_source``):

- ``"trace"``: Chrome's trace of the run (tfjs_runtime/trace.py): every
  top-level task of the page's main thread, and of its Web Worker's thread,
  as Lighthouse reads them;
- ``"long-tasks"``, only where the trace is unavailable or unusable: the
  Long Tasks API (js/longtasks.js), every task of 50 ms or more, trusted once
  a probe saw it report a busy task run on purpose (some headless Chromium
  builds report none, and are known to miss freezes of a WebGL warm-up).

Either way the tasks and the measurement's stage events (load, warm-up, ...
of each round; the page's timeline, also when the model runs in a Web
Worker) line up. A task counts for the load and warm-up when it overlaps one
of their spans: a single task can run the end of a load and the start of a
warm-up (microtasks run in the task that queued them). Only the part of a
task inside those spans counts: on the cpu backend the warm-up and the
steady predictions after it run as one task, since every await there
resolves at once, and the predictions are not the model's start. Total
blocking time clips tasks the same way, as Lighthouse clips them to its
window, then sums each one's time beyond 50 ms.

A heartbeat on the page (js/heartbeat.js: a re-armed ``setTimeout(0)``)
runs beside either source and needs no browser internals: its longest gap
during the loads and warm-ups is how long the page did not answer. Where it
and the source's longest task differ by more than HEARTBEAT_TOLERANCE_MS,
the figures carry a note saying so (``heartbeat_note``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pytest_loadbudget.tfjs_runtime.trace import END_MARK, PAGE_MARK, PageTrace, Task

if TYPE_CHECKING:
    from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures

#: A long task, for the Long Tasks API and Lighthouse: 50 ms or more; its time beyond that is blocking time.
LONG_TASK_MS = 50.0
#: The stages whose tasks make the block: the model's initialisation as a user waits for it.
BLOCKING_STAGES = ("load", "warmup")
#: Where the tasks were read.
BlockSource = Literal["trace", "long-tasks"]
SOURCE_WORDS: dict[str, str] = {"trace": "Chrome's trace", "long-tasks": "the Long Tasks API"}
#: How far the heartbeat's longest gap may be from the longest task before the report says so:
#: two frames at 60 Hz (a beat waits for the next timer, and a gap can end a few ms after its task).
HEARTBEAT_TOLERANCE_MS = 35.0
#: Starts the observers and marks the trace, then the measurement on the page or in a Web Worker; returns at once.
START_MEASUREMENT = f"""([options, inWorker]) => {{
  window.loadbudgetLongTasks.start();
  window.loadbudgetHeartbeat.start();
  performance.mark({PAGE_MARK!r});
  return inWorker ? window.loadbudgetStartInWorker(options) : window.loadbudgetStart(options);
}}"""
#: Reads the observers of a finished run and marks the end of what the trace must hold.
COLLECT = f"""() => {{
  const observed = {{
    longTasks: window.loadbudgetLongTasks.collect(), heartbeat: window.loadbudgetHeartbeat.collect(),
  }};
  performance.mark({END_MARK!r});
  return observed;
}}"""
#: How long reading the observers of a finished run may take: a stuck page gives up.
COLLECT_TIMEOUT_MS = 5000
#: The busy task the probe runs on purpose before the Long Tasks API is trusted:
#: long enough to be a long task on any machine, short enough to cost little.
PROBE_TASK_MS = 80.0


@dataclass
class ObservedTasks:
    """The tasks one source saw: (start, duration) in ms on the page's timeline.

    ``worker``: the Web Worker's thread (trace only; None where not seen).
    """

    source: BlockSource
    main: list[Task]
    worker: list[Task] | None = None


@dataclass
class ThreadBlock:
    """One thread's tasks against the measurement's stages; times in ms.

    ``block_ms``: the longest part of a task inside loads and warm-ups;
    ``total_blocking_ms``: each such part's time beyond 50 ms, summed;
    ``per_round_ms``: each round's longest; ``stages``: per stage (where a
    task's part falls), ``{"longest_ms", "total_blocking_ms", "long_tasks"}``;
    ``tasks``: every long task, ``{"start_ms", "duration_ms", "stage",
    "round", "blocking_ms"}`` (``stage``: where it started, "backend" before
    the first load; ``blocking_ms``: its part inside loads and warm-ups).
    """

    block_ms: float
    total_blocking_ms: float
    per_round_ms: list[float]
    stages: dict[str, dict[str, float]]
    tasks: list[dict[str, Any]]


@dataclass
class MainThreadBlock:
    """What the page's threads went through; times in ms (see ThreadBlock for the figures).

    ``source``: where the tasks were read (None: nowhere, ``note`` says why);
    ``trace_note``: why not from the trace ("" when from it).
    ``heartbeat_ms``: the heartbeat's longest gap during loads and warm-ups
    (None where it was not read); ``heartbeat_note``: where it disagrees with
    ``block_ms`` ("" when it agrees). ``worker``: the Web Worker's thread.
    """

    block_ms: float | None = None
    total_blocking_ms: float | None = None
    per_round_ms: list[float] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    source: BlockSource | None = None
    trace_note: str = ""
    heartbeat_ms: float | None = None
    heartbeat_note: str = ""
    worker: ThreadBlock | None = None


Span = tuple[float, float, str, int]


def main_thread_block(
    observed: ObservedTasks | None,
    events: list[dict[str, Any]],
    rounds: int,
    *,
    note: str = "",
    trace_note: str = "",
    heartbeat: dict[str, Any] | None = None,
) -> MainThreadBlock:
    """The block from the tasks a source saw and the run's stage events.

    ``observed`` None: no source could be read, ``note`` says why.
    ``heartbeat``: what js/heartbeat.js ``collect()`` returned, or None.
    """
    spans = _stage_spans(events)
    heartbeat_ms = heartbeat_block(heartbeat, spans) if heartbeat else None
    if observed is None:
        return MainThreadBlock(note=note or "the page's tasks could not be read", trace_note=trace_note,
                               heartbeat_ms=heartbeat_ms)
    main = thread_block(observed.main, spans, rounds)
    return MainThreadBlock(
        block_ms=main.block_ms,
        total_blocking_ms=main.total_blocking_ms,
        per_round_ms=main.per_round_ms,
        stages=main.stages,
        tasks=main.tasks,
        source=observed.source,
        trace_note=trace_note,
        heartbeat_ms=heartbeat_ms,
        heartbeat_note=heartbeat_disagreement(main.block_ms, heartbeat_ms, observed.source),
        worker=thread_block(observed.worker, spans, rounds) if observed.worker is not None else None,
    )


def thread_block(tasks: list[Task], spans: list[Span], rounds: int) -> ThreadBlock:
    """One thread's block: its tasks clipped to the stage spans (see the module's docstring)."""
    per_round = [0.0] * rounds
    stages: dict[str, dict[str, float]] = {}
    kept: list[dict[str, Any]] = []
    blocking: list[float] = []
    for start, duration in tasks:
        inside, parts = _inside(start, duration, spans)
        for round_index, overlap in inside.items():
            if 0 <= round_index < rounds:
                per_round[round_index] = max(per_round[round_index], overlap)
        for stage, part in parts:
            figures = stages.setdefault(stage, {"longest_ms": 0.0, "total_blocking_ms": 0.0, "long_tasks": 0})
            figures["longest_ms"] = max(figures["longest_ms"], part)
            figures["total_blocking_ms"] += _blocking_time(part)
            figures["long_tasks"] += 1 if part >= LONG_TASK_MS else 0
        if inside:
            blocking.append(sum(inside.values()))
        if duration >= LONG_TASK_MS:
            started_in = next((span for span in spans if span[0] <= start < span[1]), None)
            kept.append({
                "start_ms": start, "duration_ms": duration,
                "stage": started_in[2] if started_in else "backend",
                "round": started_in[3] if started_in else None,
                "blocking_ms": sum(inside.values()),
            })
    # In the order the run went through them, not the order tasks happened to touch them.
    order = ["backend", *dict.fromkeys(span[2] for span in spans)]
    return ThreadBlock(
        block_ms=max(blocking, default=0.0),
        total_blocking_ms=sum(_blocking_time(part) for part in blocking),
        per_round_ms=per_round,
        stages={stage: stages[stage] for stage in order if stage in stages},
        tasks=kept,
    )


def _blocking_time(part: float) -> float:
    """Lighthouse's blocking time of a task (its part inside the window): what it ran beyond 50 ms."""
    return max(0.0, part - LONG_TASK_MS)


def _inside(start: float, duration: float, spans: list[Span]) -> tuple[dict[int, float], list[tuple[str, float]]]:
    """A task's part inside the loads and warm-ups, per round, and its part in every stage it overlaps."""
    end = start + duration
    # Adjacent load and warm-up spans of a round add up: one task that runs both blocks for both.
    inside: dict[int, float] = {}
    parts: list[tuple[str, float]] = []
    first = spans[0][0] if spans else float("inf")
    if start < first:
        parts.append(("backend", min(end, first) - start))
    for span_start, span_end, stage, round_index in spans:
        overlap = min(end, span_end) - max(start, span_start)
        if overlap <= 0:
            continue
        parts.append((stage, overlap))
        if stage in BLOCKING_STAGES:
            inside[round_index] = inside.get(round_index, 0.0) + overlap
    return inside, parts


def heartbeat_block(heartbeat: dict[str, Any], spans: list[Span]) -> float:
    """The heartbeat's longest gap during loads and warm-ups, clipped as tasks are (ms; 0: none of 16 ms)."""
    longest = 0.0
    for gap in heartbeat.get("gaps") or []:
        try:
            start, duration = float(gap["start_ms"]), float(gap["gap_ms"])
        except (KeyError, TypeError, ValueError):
            continue
        inside, _ = _inside(start, duration, spans)
        if inside:
            longest = max(longest, sum(inside.values()))
    return longest


def heartbeat_disagreement(block_ms: float, heartbeat_ms: float | None, source: BlockSource) -> str:
    """Where the heartbeat and the source disagree on the longest block, the words that say so; else ""."""
    if heartbeat_ms is None or abs(heartbeat_ms - block_ms) <= HEARTBEAT_TOLERANCE_MS:
        return ""
    more = ("the thread ran tasks back to back, waited for a CPU, or ran work the source does not see"
            if heartbeat_ms > block_ms else "the heartbeat beat through the source's task: not the page's thread's?")
    return (f"the page's heartbeat saw a {heartbeat_ms:.0f} ms gap at most during loads and warm-ups, "
            f"{SOURCE_WORDS[source]} a {block_ms:.0f} ms task: more than {HEARTBEAT_TOLERANCE_MS:g} ms apart "
            f"({more})")


def _stage_spans(events: list[dict[str, Any]]) -> list[Span]:
    """(start, end, stage, round) of each stage, in order; the last one runs on."""
    stages = [e for e in events if e.get("event") == "stage" and e.get("t_ms") is not None]
    spans = []
    for index, stage in enumerate(stages):
        end = float(stages[index + 1]["t_ms"]) if index + 1 < len(stages) else float("inf")
        spans.append((float(stage["t_ms"]), end, str(stage.get("stage")), int(stage.get("round") or 0)))
    return spans


def observed_tasks(
    trace: PageTrace | None, trace_note: str, long_tasks: dict[str, Any] | None, long_tasks_note: str,
) -> tuple[ObservedTasks | None, str]:
    """The tasks to judge: the trace's, else the Long Tasks API's if trusted; else None and why not.

    ``long_tasks``: what js/longtasks.js ``collect()`` returned;
    ``long_tasks_note``: the probe's verdict ("" when trusted).
    """
    if trace is not None:
        return ObservedTasks("trace", trace.main, trace.worker), ""
    if long_tasks_note:
        return None, f"{trace_note}, and {long_tasks_note}"
    if not long_tasks or not long_tasks.get("observed"):
        why = (long_tasks or {}).get("note") or "the page's long tasks could not be read"
        return None, f"{trace_note}, and {why}"
    tasks = [(float(task["start_ms"]), float(task["duration_ms"])) for task in long_tasks.get("tasks", [])]
    return ObservedTasks("long-tasks", tasks), ""


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


def collect_observers(page: Any) -> dict[str, Any]:
    """What js/longtasks.js and js/heartbeat.js observed (``longTasks``, ``heartbeat``); {} from a stuck page."""
    try:
        # wait_for_function, unlike evaluate, gives up on a page whose main thread is stuck.
        handle = page.wait_for_function(COLLECT, timeout=COLLECT_TIMEOUT_MS)
        observed = handle.json_value()
    except Exception:  # noqa: BLE001 - a crashed or hung page: the block is then not measured
        return {}
    return observed if isinstance(observed, dict) else {}


def apply_main_thread_block(figures: RuntimeFigures, block: MainThreadBlock) -> None:
    """Set the block figures of a browser run (see RuntimeFigures)."""
    figures.block_ms, figures.total_blocking_ms = block.block_ms, block.total_blocking_ms
    figures.block_round_ms, figures.long_tasks, figures.block_note = block.per_round_ms, block.tasks, block.note
    figures.block_source, figures.block_stages, figures.trace_note = block.source, block.stages, block.trace_note
    figures.heartbeat_block_ms, figures.heartbeat_note = block.heartbeat_ms, block.heartbeat_note
    worker = block.worker
    figures.worker_thread = None if worker is None else {
        "block_ms": worker.block_ms, "total_blocking_ms": worker.total_blocking_ms, "stages": worker.stages,
        "long_tasks": worker.tasks,
    }
