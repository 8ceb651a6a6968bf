"""A live line for measurements that take seconds: fresh processes, cold runs, a browser's start.

The measuring code wraps each long step in ``live_step(model, what, n, of)``.
Once the step has run ``SHOW_AFTER_S``, a line under pytest's output says
what it is doing and for how long ("loadbudget: mobilenetv2.h5: cold start
2 of 3, 4 s"), rewritten every second, and erased when the step ends: the
output reads as if it had never been there.

Like pytest's own "collecting ..." line, it is drawn only on a terminal:
rewriting a line means nothing in a CI log, and a line per step would bury
the results, so a non-terminal gets nothing. Nothing under ``-q``, nothing
in an xdist worker (its output goes nowhere). Off, ``live_step`` returns a
shared do-nothing object: no thread, no clock.

The line is written raw (``TerminalWriter.write_raw``), one row below the
test's own line, and the cursor goes back to where pytest left it: pytest's
count of the current line's width, which places its ``[ 50%]``, never sees it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the memory child imports this module: no pytest at its start
    import pytest

#: A step shorter than this shows nothing: most loads take less.
SHOW_AFTER_S = 2.0
#: How often the elapsed time is redrawn.
REFRESH_S = 1.0
PREFIX = "loadbudget: "
#: ANSI: clear from the cursor to the end of the line; the cursor one row up.
CLEAR_TO_END = "\x1b[K"
UP = "\x1b[1A"


class Writer(Protocol):
    """What the live line needs of pytest's ``TerminalWriter``."""

    @property
    def fullwidth(self) -> int: ...

    @property
    def width_of_current_line(self) -> int: ...

    def write_raw(self, msg: str, *, flush: bool = False) -> None: ...


class _NoStep:
    """The step when nothing is shown: every call returns at once."""

    def __enter__(self) -> _NoStep:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


NO_STEP = _NoStep()


class LiveLine:
    """Draws one step at a time on a terminal; ``suspend`` lifts pytest's output capture while it writes."""

    def __init__(
        self, writer: Writer, suspend: Callable[[], AbstractContextManager[Any]] = nullcontext,
        show_after: float | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writer = writer
        self.suspend = suspend
        self.show_after = SHOW_AFTER_S if show_after is None else show_after
        self.clock = clock
        self.lock = threading.Lock()
        self.active: _LiveStep | None = None

    def step(self, model: str, what: str, index: int | None = None, total: int | None = None) -> _LiveStep | _NoStep:
        if self.active is not None:
            return NO_STEP  # a step inside a step: the outer line says enough
        return _LiveStep(self, model, what, index, total)


class _LiveStep:
    def __init__(self, line: LiveLine, model: str, what: str, index: int | None, total: int | None) -> None:
        self.line = line
        self.title = f"{PREFIX}{model}: {what}" + (f" {index} of {total}" if index is not None and total else "")
        self.started = 0.0
        #: Columns of the test's line the cursor goes back to; None until drawn.
        self.resume_column: int | None = None
        self.moved_down = False
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None

    def __enter__(self) -> _LiveStep:
        self.line.active = self
        self.started = self.line.clock()
        if self.line.show_after <= 0:
            self._draw()
        else:
            self.ticker = threading.Thread(target=self._tick, name="loadbudget-progress", daemon=True)
            self.ticker.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None,
    ) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join(timeout=REFRESH_S * 5)
        self._erase()
        self.line.active = None

    def text(self) -> str:
        elapsed = self.line.clock() - self.started
        return f"{self.title}, {elapsed:.0f} s"

    def _tick(self) -> None:
        wait = self.line.show_after
        while not self.stop.wait(wait):
            self._draw()
            wait = REFRESH_S

    def _draw(self) -> None:
        with self.line.lock:
            if self.stop.is_set() and self.resume_column is None:
                return  # ended before its first drawing
            writer = self.line.writer
            # One column short of the width: a line that wraps cannot be rewritten with \r.
            text = self.text()[: max(writer.fullwidth - 1, 0)]
            if self.resume_column is None:
                self.resume_column = writer.width_of_current_line % max(writer.fullwidth, 1)
                # Below the test's own line ("test_x.py ..."), which stays as it is; on an empty line, on it.
                self.moved_down = self.resume_column > 0
                start = "\n" if self.moved_down else "\r"
            else:
                start = "\r"
            self._write(start + text + CLEAR_TO_END)

    def _erase(self) -> None:
        with self.line.lock:
            if self.resume_column is None:
                return
            back = ""
            if self.moved_down:
                back = UP + (f"\x1b[{self.resume_column}C" if self.resume_column else "")
            self._write("\r" + CLEAR_TO_END + back)
            self.resume_column = None

    def _write(self, raw: str) -> None:
        try:
            with self.line.suspend():
                self.line.writer.write_raw(raw, flush=True)
        except Exception:  # noqa: BLE001 - a terminal that went away must not fail the measurement
            self.stop.set()


_live: LiveLine | None = None


def live_step(model: str, what: str, index: int | None = None, total: int | None = None) -> _LiveStep | _NoStep:
    """A context manager around a step that may take seconds.

    ``index`` of ``total``: the step's place in a series ("cold start 2 of 3").
    """
    line = _live
    if line is None:
        return NO_STEP
    return line.step(model, what, index, total)


def install(line: LiveLine | None) -> LiveLine | None:
    """Make ``line`` the one steps draw on; returns the one it replaces (None: off)."""
    global _live
    previous, _live = _live, line
    return previous


def start(config: pytest.Config) -> None:
    """Turn the live line on for this run where pytest writes to a terminal; off again when the run ends.

    Nothing under ``-q``, in an xdist worker, or where pytest's output is not a terminal.
    """
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None or config.get_verbosity() < 0 or hasattr(config, "workerinput"):
        return
    isatty = terminal.isatty  # a method since pytest 9, a bool before
    if not (isatty() if callable(isatty) else isatty) or os.environ.get("TERM") == "dumb":
        return
    writer = config.get_terminal_writer()
    if not hasattr(writer, "write_raw"):  # an older pytest cannot write past its line count: no live line
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    suspend = capture.global_and_fixture_disabled if capture is not None else nullcontext
    previous = install(LiveLine(writer, suspend))

    def stop() -> None:
        install(previous)

    config.add_cleanup(stop)
