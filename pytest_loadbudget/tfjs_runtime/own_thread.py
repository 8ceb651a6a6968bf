"""One thread that drives Playwright for a browser session, whatever thread asks.

Playwright's sync API refuses to start on a thread whose asyncio event loop is
running, and its objects work only on the thread that made them. The test
process's main thread may well have a running loop: pytest-playwright's
session-scoped browser, an async test framework, or any fixture that drives a
browser of its own. So a session's every Playwright call runs on a thread of
its own, started on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Result = TypeVar("Result")


class OwnThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._ident: int | None = None

    def call(self, function: Callable[..., Result], *args: object, **kwargs: object) -> Result:
        """``function(*args, **kwargs)`` on the thread; its result, or its exception raised here."""
        if threading.get_ident() == self._ident:
            return function(*args, **kwargs)  # already there: a call from inside a call
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
            self._ident = self._executor.submit(threading.get_ident).result()
        return self._executor.submit(function, *args, **kwargs).result()

    def stop(self) -> None:
        """End the thread once its calls are done; the next call starts a new one."""
        executor, self._executor, self._ident = self._executor, None, None
        if executor is not None:
            executor.shutdown(wait=True)
