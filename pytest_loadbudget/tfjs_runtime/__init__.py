"""TF.js models measured where they run: Node.js and headless Chromium.

Nothing here imports TensorFlow, Playwright or starts a process at import.

Set-up (once per machine; the ``loadbudget setup-js`` command)::

    from pytest_loadbudget.tfjs_runtime import setup_js
    setup_js()          # npm ci of the shipped lockfile into ~/.cache/pytest-loadbudget/js-<digest>

Node.js (``backend``: "cpu" or "wasm"; one fresh ``node`` process per call)::

    figures = run_node("model/model.json", backend="wasm", rounds=5, timeout=120)

Chromium (``backend``: "cpu", "wasm" or "webgl"; one browser for many runs)::

    with BrowserSession(executable_path="/usr/bin/chromium") as browser:
        figures = browser.run("model/model.json", backend="webgl", cache_policy="no-store", timeout=60)
        figures = browser.run("model/model.json", backend="wasm", worker=True)   # in a Web Worker
        figures = browser.run("model/model.json", cache_policy="indexeddb")      # reloads from IndexedDB

Both validate the artifact with ``read_manifest`` first and return
:class:`RuntimeFigures` (times in ms, memory in bytes, JSON-safe through
``to_dict()``). Errors:

- ``ModelFileError``: the artifact is broken (before any runtime starts);
- :class:`RuntimeUnavailable`: node, npm, the npm packages, Playwright or
  Chromium is missing; its message says what to install (skip with it);
- :class:`RuntimeTimeout`: the run did not finish in ``timeout`` seconds;
  ``.where`` says where it stopped ("6 of 7 shards received ..."),
  ``.partial`` holds the progress events and HTTP requests seen;
- :class:`RuntimeFailure`: TF.js threw; the JS error is in the message.

``RUNTIMES`` maps each runtime name to the backends it supports, for
validating ``runtime=`` / ``backend=`` values before anything starts.
"""

from __future__ import annotations

from pytest_loadbudget.tfjs_runtime.browser import (
    BROWSER_BACKENDS, BROWSER_CACHE_POLICIES, CHROMIUM_ARGS, BrowserSession, find_chromium,
)
from pytest_loadbudget.tfjs_runtime.errors import RuntimeFailure, RuntimeTimeout, RuntimeUnavailable, SetupError
from pytest_loadbudget.tfjs_runtime.figures import MEMORY_STAGES, RuntimeFigures
from pytest_loadbudget.tfjs_runtime.jsenv import JSInstall, add_setup_arguments, find_node, install_dir, installed_js, main, run_setup, setup_js
from pytest_loadbudget.tfjs_runtime.node import NODE_BACKENDS, run_node
from pytest_loadbudget.tfjs_runtime.server import CACHE_POLICIES

#: Runtime name -> the TF.js backends it can measure.
RUNTIMES = {"node": NODE_BACKENDS, "browser": BROWSER_BACKENDS}

__all__ = [
    "BROWSER_BACKENDS",
    "BROWSER_CACHE_POLICIES",
    "CACHE_POLICIES",
    "CHROMIUM_ARGS",
    "MEMORY_STAGES",
    "NODE_BACKENDS",
    "RUNTIMES",
    "BrowserSession",
    "JSInstall",
    "RuntimeFailure",
    "RuntimeFigures",
    "RuntimeTimeout",
    "RuntimeUnavailable",
    "SetupError",
    "add_setup_arguments",
    "find_chromium",
    "find_node",
    "install_dir",
    "installed_js",
    "main",
    "run_node",
    "run_setup",
    "setup_js",
]
