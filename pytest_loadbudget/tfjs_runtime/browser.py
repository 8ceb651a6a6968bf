"""TF.js models measured in headless Chromium, driven by Playwright for Python.

``BrowserSession`` starts, once, a local model server (server.py) and a
system Chromium (``executable_path``; Playwright's own browser downloads are
never used). Each ``run()`` opens a new browser context (empty HTTP cache),
loads js/page.html with the TF.js bundles, and measures the model over HTTP
with ``tf.loadGraphModel`` / ``tf.loadLayersModel`` (js/core.js ``measure``):
round 1 is the first load, later rounds reload in the same page (from the
HTTP cache under ``cache_policy="cache"``, from the network under
``"no-store"``).

    with BrowserSession() as browser:
        figures = browser.run("model/model.json", backend="webgl", cache_policy="cache")

Each run is recorded in Chrome's trace (trace.py), from which the page's
main-thread block is read (mainthread.py: the Long Tasks API stands in where
the trace is unavailable, and a heartbeat on the page checks either).

A run that does not finish in ``timeout`` seconds raises RuntimeTimeout whose
``where`` combines the page's last stage, TF.js onProgress events and the
server's request log ("6 of 7 shards requested, 0 fully sent").
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from pytest_loadbudget.formats.tfjs_manifest import TFJSManifest
from pytest_loadbudget.tfjs_runtime.artifact import harness_options, shard_names, validated
from pytest_loadbudget.tfjs_runtime.errors import RuntimeFailure, RuntimeTimeout, RuntimeUnavailable
from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures
from pytest_loadbudget.tfjs_runtime.jsenv import JS_DIR, installed_js
from pytest_loadbudget.tfjs_runtime.own_thread import OwnThread
from pytest_loadbudget.tfjs_runtime.mainthread import (
    START_MEASUREMENT, apply_main_thread_block, collect_observers, main_thread_block, observed_tasks, probe_long_tasks,
)
from pytest_loadbudget.tfjs_runtime.server import CACHE_POLICIES, ModelServer, RequestRecord, records_as_dicts
from pytest_loadbudget.tfjs_runtime.storage import (
    INDEXEDDB, INDEXEDDB_MIN_ROUNDS, apply_storage_figures, quota_failure, storage_options,
)
from pytest_loadbudget.tfjs_runtime.trace import PageTracer

BROWSER_BACKENDS = ("cpu", "wasm", "webgl")
#: The server's Cache-Control policies, and the browser storage cache (tfjs_runtime/storage.py).
BROWSER_CACHE_POLICIES = (*CACHE_POLICIES, INDEXEDDB)
#: What the page loads from the server besides the TF.js bundles (js/).
PAGE_FILES = (
    "page.html", "core.js", "run.js", "storage.js", "longtasks.js", "heartbeat.js", "worker-host.js", "worker.js",
)
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Flags for a headless Chromium without GPU, network or first-run chores
#: (Playwright adds --headless and a fresh profile directory). WebGL then runs
#: on SwiftShader, in software: webgl timings say nothing about a real GPU.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PLAYWRIGHT_INSTALL = (
    "pip install playwright (or pytest-loadbudget[browser]); "
    "no `playwright install` is needed: the system Chromium is used"
)
CHROMIUM_INSTALL = "install Chromium (Debian: apt-get install chromium) or pass executable_path / set LOADBUDGET_CHROMIUM"
_DONE = "() => { const s = window.loadbudgetState; return s.result !== null || s.error !== null; }"


def find_chromium(executable_path: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium to drive: ``executable_path``, else ``$LOADBUDGET_CHROMIUM``, else /usr/bin/chromium."""
    wanted = str(executable_path) if executable_path is not None else os.environ.get("LOADBUDGET_CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    if found is None:
        raise RuntimeUnavailable(f"Chromium not found at {wanted}", CHROMIUM_INSTALL)
    return Path(found)


class BrowserSession:
    """One headless Chromium and one model server, shared by many ``run()`` calls.

    ``startup_ms`` is the fixed cost of the session: server start, Playwright
    start and browser launch. Use as a context manager, or ``start()``/``close()``.
    """

    #: A storage quota smaller than the browser's, in bytes (None: the browser's
    #: own): how a model that does not fit a small device's storage fails under
    #: cache_policy="indexeddb". Chromium's DevTools quota override does not
    #: reach headless contexts, so the page applies it to storage.estimate().
    storage_quota_bytes: int | None = None

    def __init__(
        self,
        *,
        executable_path: str | os.PathLike[str] | None = None,
        extra_args: tuple[str, ...] = (),
        launch_timeout: float = 60.0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.executable_path = executable_path
        self.extra_args = tuple(extra_args)
        self.launch_timeout = launch_timeout
        self.cache_dir = cache_dir
        self.startup_ms: float | None = None
        self.browser_version: str | None = None
        self.server: ModelServer | None = None
        self._playwright: Any = None
        self._browser: Any = None
        #: Why this browser's Long Tasks API cannot be trusted ("" when it can; None: not probed yet).
        #: Probed only where Chrome's trace is unavailable: the API is then the main-thread block's source.
        self.long_tasks_note: str | None = None
        #: Every Playwright call runs there (``own_thread.py``: why).
        self._thread = OwnThread("loadbudget-browser")

    def __enter__(self) -> BrowserSession:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start server and browser; raises RuntimeUnavailable naming what to install."""
        self._thread.call(self._start)

    def _start(self) -> None:
        if self._browser is not None:
            return
        chromium = find_chromium(self.executable_path)
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise RuntimeUnavailable("Playwright for Python is not installed", PLAYWRIGHT_INSTALL) from None
        install = installed_js(self.cache_dir)
        began = time.perf_counter()
        page_files = {name: JS_DIR / name for name in PAGE_FILES}
        self.server = ModelServer(page_files, install.browser_files())
        self.server.start()
        try:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(chromium),
                headless=True,
                chromium_sandbox=False,
                args=[*CHROMIUM_ARGS, *self.extra_args],
                timeout=self.launch_timeout * 1000,
            )
        except Exception as error:  # noqa: BLE001 - Playwright raises its own and OS errors here
            self._close()
            raise RuntimeUnavailable(
                f"Chromium at {chromium} did not start under Playwright ({type(error).__name__}: {str(error).strip()[:500]})",
                CHROMIUM_INSTALL,
            ) from None
        self.browser_version = self._browser.version
        self.startup_ms = (time.perf_counter() - began) * 1000

    def close(self) -> None:
        """Close browser, Playwright and server; safe to call twice or after a failed start."""
        try:
            self._thread.call(self._close)
        finally:
            self._thread.stop()

    def _close(self) -> None:
        browser, playwright, server = self._browser, self._playwright, self.server
        self._browser = self._playwright = self.server = None
        try:
            if browser is not None:
                browser.close()
        except Exception:  # noqa: BLE001 - a browser that already died has nothing left to close
            pass
        finally:
            if playwright is not None:
                playwright.stop()
            if server is not None:
                server.stop()

    def run(
        self,
        model_json: str | os.PathLike[str],
        *,
        backend: str = "cpu",
        cache_policy: str = "cache",
        rounds: int = 3,
        predict_rounds: int = 5,
        warmup: bool = True,
        leak: bool = False,
        timeout: float = 60.0,
        predictions: int = 0,
        worker: bool = False,
    ) -> RuntimeFigures:
        """Measure ``model_json`` in a fresh browser context.

        ``backend``: "cpu", "wasm" or "webgl". ``cache_policy``: "cache" or
        "no-store", the Cache-Control the server answers for the model files,
        or "indexeddb": round 1 over HTTP, then saved to IndexedDB, round 2
        from the HTTP cache, later rounds from IndexedDB (at least 3 rounds).
        ``rounds``: loads in the page (round 1 with an empty cache).
        ``worker``: load and warm up in a dedicated Web Worker instead of on
        the page's main thread (webgl there needs OffscreenCanvas: without it,
        RuntimeUnavailable). Either way the page's main thread is recorded
        (Chrome's trace, the worker's thread too; tfjs_runtime/mainthread.py).
        ``predictions``: predictions on the warm model of the last round, with
        tf.memory() after each (``figures.prediction_growth``); 0 for none.
        ``timeout``: seconds for the page set-up plus the measurement.
        Raises ModelFileError, RuntimeTimeout (with where the load stopped) or RuntimeFailure.
        """
        if backend not in BROWSER_BACKENDS:
            raise ValueError(f"backend {backend!r} unknown in the browser; choose one of {', '.join(BROWSER_BACKENDS)}")
        if cache_policy not in BROWSER_CACHE_POLICIES:
            raise ValueError(f"cache_policy {cache_policy!r} unknown; choose one of {', '.join(BROWSER_CACHE_POLICIES)}")
        if rounds < 1:
            raise ValueError(f"rounds must be at least 1, not {rounds}")
        if cache_policy == INDEXEDDB and rounds < INDEXEDDB_MIN_ROUNDS:
            raise ValueError(f"cache_policy 'indexeddb' needs at least {INDEXEDDB_MIN_ROUNDS} rounds (first load, "
                             f"HTTP-cached reload, IndexedDB reload), not {rounds}")
        manifest = validated(model_json)
        return self._thread.call(self._measure, manifest, backend, cache_policy, rounds, predict_rounds,
                                 warmup, leak, timeout, predictions, worker)

    def _measure(
        self, manifest: TFJSManifest, backend: str, cache_policy: str, rounds: int, predict_rounds: int,
        warmup: bool, leak: bool, timeout: float, predictions: int, worker: bool,
    ) -> RuntimeFigures:
        self._start()
        assert self.server is not None and self._browser is not None  # start() sets both or raises
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        server = self.server
        model_id = server.add_model(manifest.model_json.parent)
        http_policy = "cache" if cache_policy == INDEXEDDB else cache_policy
        options = {
            "modelUrl": server.model_url(model_id, http_policy, manifest.model_json.name),
            **harness_options(manifest, backend, rounds, predict_rounds, warmup, leak, predictions),
            **storage_options(manifest, model_id, cache_policy, self.storage_quota_bytes),
        }
        what = f"{manifest.model_json} in Chromium ({backend}, {cache_policy}{', worker' if worker else ''})"
        deadline = time.perf_counter() + timeout
        began = time.perf_counter()
        context = self._browser.new_context()
        console: list[str] = []
        page_ms = 0.0
        tracer = PageTracer(self._browser)
        try:
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            try:
                page.goto(f"{server.url}/page.html", wait_until="load", timeout=_left_ms(deadline))
                page_ms = (time.perf_counter() - began) * 1000
                tracer.start(page)
                page.evaluate(START_MEASUREMENT, [options, worker])
                page.wait_for_function(_DONE, polling=50, timeout=_left_ms(deadline))
            except PlaywrightTimeout:
                state = _state(page)
                raise self._timeout(what, timeout, manifest, model_id, state, backend, cache_policy, rounds) from None
            except PlaywrightError as error:
                raise RuntimeFailure(f"{what}: the page failed", f"{error}\n" + "\n".join(console[-20:])) from None
            state = _state(page)
            observers = collect_observers(page)
            trace = tracer.finish(worker=worker)
            if trace is None and self.long_tasks_note is None:
                # The Long Tasks API stands in for the trace: once per browser, after the run, outside it.
                self.long_tasks_note = probe_long_tasks(page, self.browser_version)
        finally:
            tracer.stop()
            context.close()
        wall_ms = (time.perf_counter() - began) * 1000
        if state is not None and state.get("unavailable"):
            raise RuntimeUnavailable(f"{what}: {state['unavailable']}", "measure it with backend='cpu' or 'wasm'")
        quota = quota_failure(what, (state or {}).get("events", []))
        if quota is not None:
            raise quota
        if state is None or state.get("error"):
            detail = (state or {}).get("error") or "the page state could not be read"
            raise RuntimeFailure(f"{what} failed", str(detail) + "".join(f"\n{line}" for line in console[-20:]))
        figures = RuntimeFigures.from_harness(
            state["result"], runtime="browser", backend=backend, model=str(manifest.model_json), rounds=rounds,
            cache_policy=cache_policy,
        )
        events = state.get("events", [])
        ready: dict[str, Any] = next((e for e in events if e.get("event") == "ready"), {})
        # New context, page with the bundles, backend set-up: all before the first load.
        figures.startup_ms = page_ms + float(ready.get("backend_ms") or 0.0)
        figures.wall_ms = wall_ms
        figures.progress = [e for e in events if e.get("event") == "progress"]
        figures.requests = records_as_dicts(server.requests_for(model_id))
        figures.weight_bytes = manifest.weight_bytes
        figures.shards = len(shard_names(manifest))
        figures.environment["browser"] = self.browser_version
        figures.environment["backend_ms"] = ready.get("backend_ms")
        figures.worker = worker
        observed, note = observed_tasks(trace, tracer.note, observers.get("longTasks"), self.long_tasks_note or "")
        apply_main_thread_block(figures, main_thread_block(
            observed, events, rounds, note=note, trace_note=tracer.note, heartbeat=observers.get("heartbeat")))
        apply_storage_figures(figures, state["result"])
        return figures

    def _timeout(
        self, what: str, timeout: float, manifest: TFJSManifest, model_id: str, state: dict[str, Any] | None,
        backend: str, cache_policy: str, rounds: int,
    ) -> RuntimeTimeout:
        assert self.server is not None
        records = self.server.requests_for(model_id)
        stage, where = describe_stall(manifest, records, state)
        partial = RuntimeFigures(
            runtime="browser", backend=backend, model=str(manifest.model_json), format=manifest.format, rounds=rounds,
            cache_policy=cache_policy, weight_bytes=manifest.weight_bytes, shards=len(shard_names(manifest)),
            progress=[e for e in (state or {}).get("events", []) if e.get("event") == "progress"],
            requests=records_as_dicts(records),
        )
        return RuntimeTimeout(f"{what} did not finish within {timeout:g} s: stopped {where}", stage=stage, where=where, partial=partial)


def describe_stall(
    manifest: TFJSManifest, records: list[RequestRecord], state: dict[str, Any] | None
) -> tuple[str, str]:
    """Where a browser run stopped, in words, from the page state and the server log."""
    if state is None:
        return "startup", "with the page unresponsive (its state could not be read)"
    stage = str(state.get("stage") or "startup")
    if stage == "idle":
        return "startup", "while loading the page and the TF.js bundles"
    if stage == "backend":
        return "startup", "while setting up the TF.js backend"
    round_number = int(state.get("round") or 0) + 1
    where = f"in {stage} of round {round_number}"
    if stage != "load":
        return stage, where
    events = state.get("events", [])
    load_started = max((e.get("t_ms", 0) for e in events if e.get("event") == "stage" and e.get("stage") == "load"), default=0)
    fractions = [e.get("fraction", 0) for e in events if e.get("event") == "progress" and e.get("t_ms", 0) >= load_started]
    shards = shard_names(manifest)
    model_json = [r for r in records if r.file == manifest.model_json.name]
    if not model_json:
        return stage, where + ": model.json never requested"
    # A round starts by fetching model.json (unless it comes from the cache):
    # this round's requests are those since the last model.json request.
    records = [r for r in records if r.received_ms >= model_json[-1].received_ms]
    if not model_json[-1].complete:
        return stage, where + ": model.json requested but not fully sent"
    names = set(shards)
    requested = {r.file for r in records if r.file in names}
    answered = {r.file for r in records if r.file in names and r.headers_ms is not None}
    sent = {r.file for r in records if r.file in names and r.complete}
    # TF.js reports the first half of the progress one shard at a time as
    # response headers arrive, and the second half as the bodies are read.
    fraction = max(fractions, default=0.0)
    count = len(shards)
    if fraction <= 0.5:
        progress = f"{round(fraction * 2 * count)} of {count} shards received"
    else:
        progress = f"{count} of {count} shards received, {round((fraction - 0.5) * 2 * count)} of {count} read"
    where += (
        f": {progress} (TF.js onProgress {fraction:.2f}); the server saw {len(requested)} of {count} shards "
        f"requested, {len(answered)} answered, {len(sent)} fully sent"
    )
    missing = [name for name in shards if name not in requested]
    if missing:
        where += f"; never requested: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
    return stage, where


def _state(page: Any) -> dict[str, Any] | None:
    # wait_for_function, unlike evaluate, gives up on a page whose main thread is stuck.
    try:
        handle = page.wait_for_function("() => window.loadbudgetState", timeout=5000)
        state = handle.json_value()
    except Exception:  # noqa: BLE001 - a crashed or hung page
        return None
    return state if isinstance(state, dict) else None


def _left_ms(deadline: float) -> float:
    return max(1.0, (deadline - time.perf_counter()) * 1000)
