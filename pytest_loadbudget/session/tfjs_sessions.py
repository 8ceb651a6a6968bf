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
from pytest_loadbudget.session.request import PYTHON, LoadRequest
from pytest_loadbudget.settings import Settings

TFJS_FORMATS = ("tfjs-graph", "tfjs-layers")
#: Rounds when neither the marker nor the options say: the browser pays a page per round.
DEFAULT_ROUNDS = {"node": 5, "browser": 3}
DEFAULT_BACKEND = "cpu"


def validate(runtime: str | None, backend: str | None, cache_policy: str | None) -> None:
    """Check the marker's runtime keywords without starting anything."""
    from pytest_loadbudget.tfjs_runtime import CACHE_POLICIES, RUNTIMES

    if runtime is not None and runtime != PYTHON and runtime not in RUNTIMES:
        raise MarkerError(f"runtime={runtime!r} must be one of {', '.join(map(repr, (PYTHON, *RUNTIMES)))}")
    if backend is not None:
        supported = RUNTIMES.get(runtime or "", ())
        if not supported:
            raise MarkerError(f"backend={backend!r} needs runtime='node' or runtime='browser'")
        if backend not in supported:
            raise MarkerError(f"backend={backend!r} is not one of {', '.join(map(repr, supported))} for runtime={runtime!r}")
    if cache_policy is not None:
        if runtime != "browser":
            raise MarkerError(f"cache_policy={cache_policy!r} applies to runtime='browser' only")
        if cache_policy not in CACHE_POLICIES:
            raise MarkerError(f"cache_policy={cache_policy!r} must be one of {', '.join(map(repr, CACHE_POLICIES))}")


class RuntimeSessions:
    """The browser shared by the session, started on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._browser: Any = None

    def measure(self, request: LoadRequest, rounds: int | None) -> Any:
        """RuntimeFigures of ``request`` in its runtime; raises the runtime layer's errors."""
        from pytest_loadbudget.tfjs_runtime import BrowserSession, run_node

        if request.format_name not in TFJS_FORMATS or request.path is None:
            raise MarkerError(
                f"runtime={request.runtime!r} measures TF.js models (model.json), not {request.format_name}"
            )
        model_json = request.path if request.path.name.endswith(".json") else Path(request.path) / "model.json"
        wanted_rounds = rounds or DEFAULT_ROUNDS[request.runtime]
        timeout = self.settings.timeout
        if request.runtime == "node":
            return run_node(model_json, backend=request.backend, rounds=wanted_rounds, timeout=timeout,
                            node=self.settings.node)
        if self._browser is None:
            browser = BrowserSession(executable_path=self.settings.chromium)
            browser.start()
            self._browser = browser
        return self._browser.run(model_json, backend=request.backend, cache_policy=request.cache_policy,
                                 rounds=wanted_rounds, timeout=timeout)

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
