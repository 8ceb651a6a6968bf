"""The page's threads as Chrome's trace records them: every top-level task, as Lighthouse reads it.

A renderer thread runs one task at a time (a timer, a message, a script, a
promise's continuation with its microtasks); while one runs, the thread
answers nothing. Chrome's trace records each task as a complete event
(``ph: "X"``) named ``RunTask`` (``ThreadControllerImpl::RunTask`` in the
``toplevel`` category of older builds) on the thread that ran it. Lighthouse
takes these, outermost only, as the main thread's tasks; so does this module,
for the page's main thread (``CrRendererMain`` of the page's renderer) and
for its Web Worker's thread.

Which process and thread are the page's: the page sets
``performance.mark(PAGE_MARK)`` as the measurement starts; the mark lands in
the trace (``blink.user_timing``) on the thread that made it, with both
clocks: ``ts`` (the trace's, µs) and ``args.data.startTime`` (the page's
``performance.now()``, ms). One mark so gives the thread and the offset that
puts every task on the page's timeline, where the stage events are. The
worker marks ``WORKER_MARK`` on its own thread. ``END_MARK``, set when the
page's observers are read, shows that the trace holds the whole run (a trace
whose buffer filled up stops early, and its missing tasks would read as a
free thread).

    tracer = PageTracer(browser)          # a Playwright Browser (Chromium)
    tracer.start(page)                    # False: tracer.note says why
    ...                                   # the page marks PAGE_MARK ... END_MARK
    trace = tracer.finish()               # PageTrace, or None: tracer.note says why
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: What the trace records: tasks (``disabled-by-default-devtools.timeline``:
#: ``RunTask``; ``toplevel``: ``ThreadControllerImpl::RunTask``) and the
#: page's marks (``blink.user_timing``). Nothing else: a WebGL warm-up of a
#: few seconds then takes a few MB of trace, not tens.
TRACE_CATEGORIES = ("disabled-by-default-devtools.timeline", "toplevel", "blink.user_timing")
#: The events that are one task of a thread's loop (Lighthouse's ``isScheduleableTask``).
TASK_NAMES = frozenset({
    "RunTask", "ThreadControllerImpl::RunTask", "ThreadControllerImpl::DoWork",
    "TaskQueueManager::ProcessTaskFromWorkQueue",
})
PAGE_MARK = "loadbudget:page"
WORKER_MARK = "loadbudget:worker"
END_MARK = "loadbudget:end"

#: A task: (start on the page's timeline, duration), both ms.
Task = tuple[float, float]


class TraceUnreadable(ValueError):
    """The trace holds no usable record of the page's thread; the message says what is missing."""


@dataclass
class PageTrace:
    """The top-level tasks of the page's threads, on the page's timeline (``performance.now()``, ms).

    ``main``: the page's main thread. ``worker``: the thread of the Web
    Worker that marked WORKER_MARK; None where no worker marked it.
    ``threads``: the trace's name of each ("CrRendererMain", "DedicatedWorker thread").
    """

    main: list[Task]
    worker: list[Task] | None = None
    threads: dict[str, str] = field(default_factory=dict)


def read_trace(data: bytes | str, *, worker: bool = False) -> PageTrace:
    """The page's tasks from the JSON that ``Browser.stop_tracing()`` returned.

    ``worker``: the run used a Web Worker, whose mark must be there too.
    Raises TraceUnreadable naming what is missing.
    """
    try:
        parsed = json.loads(data)
    except ValueError as error:
        raise TraceUnreadable(f"the trace is not JSON ({error})") from None
    events = parsed.get("traceEvents") if isinstance(parsed, dict) else parsed
    if not isinstance(events, list):
        raise TraceUnreadable("the trace holds no traceEvents list")
    marks: dict[str, dict[str, Any]] = {}
    names: dict[tuple[Any, Any], str] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        name = event.get("name")
        if name in (PAGE_MARK, WORKER_MARK, END_MARK) and name not in marks:
            marks[str(name)] = event
        elif name == "thread_name" and event.get("ph") == "M":
            names[(event.get("pid"), event.get("tid"))] = str((event.get("args") or {}).get("name", ""))
    page = marks.get(PAGE_MARK)
    if page is None:
        raise TraceUnreadable(f"the page's mark {PAGE_MARK!r} is not in the trace (no blink.user_timing events?)")
    if END_MARK not in marks:
        raise TraceUnreadable(f"the trace stops before the run's end (no {END_MARK!r} mark: its buffer filled up?)")
    try:
        # The trace's clock is µs, the page's ms; the mark holds both readings of one instant.
        offset_ms = float(page["ts"]) / 1000 - float(page["args"]["data"]["startTime"])
    except (KeyError, TypeError, ValueError):
        raise TraceUnreadable(f"the page's mark {PAGE_MARK!r} has no startTime to align the trace with") from None
    # Tasks that ended before the mark belong to the page's set-up, not to the measurement.
    started_ms = float(page["args"]["data"]["startTime"])
    main_thread = (page.get("pid"), page.get("tid"))
    worker_mark = marks.get(WORKER_MARK)
    if worker and worker_mark is None:
        raise TraceUnreadable(f"the worker's mark {WORKER_MARK!r} is not in the trace")
    worker_thread = (worker_mark.get("pid"), worker_mark.get("tid")) if worker_mark is not None else None
    main = [task for task in top_level_tasks(events, main_thread, offset_ms) if sum(task) >= started_ms]
    if not main:
        raise TraceUnreadable(f"the trace holds no task of the page's main thread (none of {sorted(TASK_NAMES)})")
    threads = {"main": names.get(main_thread, "")}
    if worker_thread is not None:
        threads["worker"] = names.get(worker_thread, "")
    return PageTrace(
        main=main,
        worker=([task for task in top_level_tasks(events, worker_thread, offset_ms) if sum(task) >= started_ms]
                if worker_thread is not None else None),
        threads=threads,
    )


def top_level_tasks(events: list[Any], thread: tuple[Any, Any], offset_ms: float) -> list[Task]:
    """The outermost tasks of one (pid, tid), sorted, on the page's timeline.

    A task nests its ``ThreadControllerImpl::RunTask`` inside its ``RunTask``
    (and a nested run loop a task inside another): only the outermost counts,
    or one freeze would count twice. Unfinished ``B`` events (a task running
    when tracing stopped) have no duration and are left out.
    """
    spans: list[tuple[float, float]] = []
    for event in events:
        if (not isinstance(event, dict) or event.get("ph") != "X" or event.get("name") not in TASK_NAMES
                or (event.get("pid"), event.get("tid")) != thread):
            continue
        try:
            start, duration = float(event["ts"]) / 1000, float(event.get("dur", 0)) / 1000
        except (KeyError, TypeError, ValueError):
            continue
        spans.append((start, start + duration))
    spans.sort(key=lambda span: (span[0], -span[1]))
    tasks: list[Task] = []
    outer_end = float("-inf")
    for start, end in spans:
        if start < outer_end:
            # Inside the task before it; one that ends a µs after it is the same task, rounded.
            if end > outer_end:
                last_start = tasks[-1][0]
                tasks[-1] = (last_start, end - offset_ms - last_start)
                outer_end = end
            continue
        tasks.append((start - offset_ms, end - start))
        outer_end = end
    return tasks


class PageTracer:
    """Chrome's trace of one page's run, through Playwright's ``Browser.start_tracing``.

    Tracing is the browser's, one at a time: ``start`` fails (False, ``note``
    says why) where a trace is already being recorded or the browser is not
    Chromium. ``finish`` stops it and reads it; ``stop`` only stops it
    (after a failed run), and is safe to call twice.
    """

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.note = ""
        self._running = False

    def start(self, page: Any) -> bool:
        try:
            self.browser.start_tracing(page=page, categories=list(TRACE_CATEGORIES))
        except Exception as error:  # noqa: BLE001 - Playwright raises its own errors: the reason is the note
            self.note = f"Chrome's trace could not be recorded ({_reason(error)})"
            return False
        self._running = True
        return True

    def stop(self) -> bytes | None:
        if not self._running:
            return None
        self._running = False
        try:
            return bytes(self.browser.stop_tracing())
        except Exception as error:  # noqa: BLE001 - as in start
            self.note = f"Chrome's trace could not be read back ({_reason(error)})"
            return None

    def finish(self, *, worker: bool = False) -> PageTrace | None:
        """The run's trace, or None with ``note`` saying why (also when it was never started)."""
        data = self.stop()
        if data is None:
            self.note = self.note or "Chrome's trace was not recorded"
            return None
        try:
            return read_trace(data, worker=worker)
        except TraceUnreadable as error:
            self.note = f"Chrome's trace is unusable: {error}"
            return None


def _reason(error: Exception) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:300]}" if first else type(error).__name__
