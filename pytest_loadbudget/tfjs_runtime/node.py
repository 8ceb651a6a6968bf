"""TF.js models measured in Node.js: one ``node js/harness.js`` process per call.

The harness imports the pure-JavaScript ``@tensorflow/tfjs`` (no tfjs-node
addon), picks the ``cpu`` or ``wasm`` backend, reads model.json and its shards
from disk through a custom IOHandler and runs js/core.js ``measure``. It
prints JSON lines as it goes, so a run that is killed at its timeout still
tells where it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

from pytest_loadbudget.tfjs_runtime.artifact import harness_options, validated
from pytest_loadbudget.tfjs_runtime.errors import RuntimeFailure, RuntimeTimeout
from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures
from pytest_loadbudget.tfjs_runtime.jsenv import JS_DIR, find_node, installed_js

NODE_BACKENDS = ("cpu", "wasm")
HARNESS = JS_DIR / "harness.js"


def run_node(
    model_json: str | os.PathLike[str],
    *,
    backend: str = "cpu",
    rounds: int = 5,
    predict_rounds: int = 5,
    warmup: bool = True,
    timeout: float = 120.0,
    leak: bool = False,
    predictions: int = 0,
    node: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> RuntimeFigures:
    """Load ``model_json`` ``rounds`` times in a fresh Node.js process and measure it.

    ``backend``: "cpu" or "wasm". ``rounds``: load + warm-up + dispose cycles
    (the leak is counted after the last). ``predict_rounds``: steady
    predictions after the last warm-up. ``leak=True`` keeps each warm-up's
    outputs alive, as a caller that forgets ``dispose()`` would: for checking
    that a leak is caught (and each of the ``predictions``' outputs).
    ``predictions``: predictions on the warm model of the last round, with
    tf.memory() after each (``figures.prediction_growth``); 0 for none.
    ``timeout``: seconds for the whole process.

    Raises ModelFileError (artifact invalid, before Node starts),
    RuntimeUnavailable (node or the npm packages missing: the message says what
    to install), RuntimeTimeout (with where the run stopped) or RuntimeFailure.
    """
    if backend not in NODE_BACKENDS:
        raise ValueError(f"backend {backend!r} does not run in Node.js without tfjs-node; choose one of {', '.join(NODE_BACKENDS)}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    manifest = validated(model_json)
    node_path = find_node(node)
    install = installed_js(cache_dir)
    options = {
        "modules": str(install.root),
        "model": str(manifest.model_json),
        **harness_options(manifest, backend, rounds, predict_rounds, warmup, leak, predictions),
    }
    what = f"{manifest.model_json} in Node.js ({backend})"
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(node_path), str(HARNESS), json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        stdout, stderr = process.communicate()
        events = _events(stdout)
        stage, where = _where(events)
        partial = RuntimeFigures(
            runtime="node", backend=backend, model=str(manifest.model_json), format=manifest.format, rounds=rounds,
            progress=[e for e in events if e.get("event") == "progress"],
            weight_bytes=manifest.weight_bytes, shards=sum(len(g.paths) for g in manifest.groups),
        )
        raise RuntimeTimeout(
            f"{what} did not finish within {timeout:g} s: stopped {where}", stage=stage, where=where, partial=partial
        ) from None
    wall_ms = (time.perf_counter() - start) * 1000
    events = _events(stdout)
    for event in events:
        if event.get("event") == "error":
            raise RuntimeFailure(f"{what} failed", str(event.get("message", "")))
    results = [e["result"] for e in events if e.get("event") == "result"]
    if not results:
        raise RuntimeFailure(
            f"{what}: the harness exited with status {process.returncode} without a result", stderr.strip()[-3000:]
        )
    figures = RuntimeFigures.from_harness(results[-1], runtime="node", backend=backend, model=str(manifest.model_json), rounds=rounds)
    ready = next((e for e in events if e.get("event") == "ready"), {})
    figures.startup_ms = ready.get("t_ms")
    figures.wall_ms = wall_ms
    figures.progress = [e for e in events if e.get("event") == "progress"]
    figures.weight_bytes = manifest.weight_bytes
    figures.shards = sum(len(group.paths) for group in manifest.groups)
    figures.environment.setdefault("node_path", str(node_path))
    figures.environment["import_ms"] = ready.get("import_ms")
    return figures


def _kill(process: subprocess.Popen[str]) -> None:
    killpg = getattr(os, "killpg", None)
    if killpg is None:  # native Windows: no process groups; node's own process is what there is to end
        process.kill()
        return
    try:
        # The whole group (start_new_session): node's helpers die with it.
        killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if isinstance(event, dict):
            events.append(event)
    return events


def _where(events: list[dict[str, Any]]) -> tuple[str, str]:
    """The stage the harness was in and the same in words, from its last events."""
    stages = [e for e in events if e.get("event") == "stage"]
    if not any(e.get("event") == "ready" for e in events):
        return "startup", "before TF.js was ready (importing @tensorflow/tfjs or setting up the backend)"
    if not stages:
        return "startup", "after TF.js was ready, before the first load"
    last = stages[-1]
    stage = str(last.get("stage"))
    round_number = int(last.get("round", 0)) + 1
    where = f"in {stage} of round {round_number}"
    if stage == "load":
        shards = [e for e in events if e.get("event") == "progress" and "shards_total" in e and e.get("t_ms", 0) >= last.get("t_ms", 0)]
        if shards:
            where += f": {shards[-1]['shards_done']} of {shards[-1]['shards_total']} shards read"
        elif any(e.get("event") == "progress" and e.get("t_ms", 0) >= last.get("t_ms", 0) for e in events):
            where += ": model.json read, no shard yet"
        else:
            where += ": model.json not read yet"
    return stage, where
