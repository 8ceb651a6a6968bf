"""TF.js models measured in their own runtime, Node.js or Chromium, for the plugin.

The session keeps one browser for every browser measurement and closes it at
the end; a Node.js measurement is one fresh ``node`` process. What is missing
(node, the npm packages, Playwright, Chromium) becomes a skip that says what
to install; a timeout or a TF.js error fails the test that asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_loadbudget.errors import MarkerError
from pytest_loadbudget.measure.progress import live_step
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.settings import Settings

TFJS_FORMATS = ("tfjs-graph", "tfjs-layers")
#: Rounds when neither the marker nor the options say: the browser pays a page per round.
DEFAULT_ROUNDS = {"node": 5, "browser": 3}
DEFAULT_BACKEND = "cpu"


class RuntimeSessions:
    """The browser shared by the session, started on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._browser: Any = None

    def measure(self, request: LoadRequest, rounds: int | None, predictions: int = 0) -> Any:
        """RuntimeFigures of ``request`` in its runtime; raises the runtime layer's errors.

        ``predictions``: predictions on the warm model with tf.memory() after each (0: none),
        within the same ``--loadbudget-timeout`` as the rest of the run.
        """
        from pytest_loadbudget.tfjs_runtime import BrowserSession, run_node

        if request.format_name not in TFJS_FORMATS or request.path is None:
            raise MarkerError(
                f"runtime={request.runtime!r} measures TF.js models (model.json), not {request.format_name}"
            )
        model_json = request.path if request.path.name.endswith(".json") else Path(request.path) / "model.json"
        wanted_rounds = rounds or DEFAULT_ROUNDS[request.runtime]
        if request.cache_policy == "indexeddb":
            # --loadbudget-rounds may say fewer: each kind of load needs its round.
            wanted_rounds = max(wanted_rounds, 3)
        timeout = self.settings.timeout
        if request.runtime == "node":
            with live_step(request.name, f"Node.js start and {wanted_rounds} rounds ({request.backend})"):
                return run_node(model_json, backend=request.backend, rounds=wanted_rounds, timeout=timeout,
                                node=self.settings.node, predictions=predictions)
        if self._browser is None:
            browser = BrowserSession(executable_path=self.settings.chromium)
            with live_step(request.name, "starting Chromium for TF.js"):
                browser.start()
            self._browser = browser
        with live_step(request.name, f"{wanted_rounds} rounds in Chromium ({request.backend})"):
            return self._browser.run(model_json, backend=request.backend, cache_policy=request.cache_policy,
                                     rounds=wanted_rounds, timeout=timeout, predictions=predictions,
                                     worker=request.worker)

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
