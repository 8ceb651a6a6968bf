"""TF.js models measured in Node.js and in headless Chromium.

Tests that need node + the npm packages, or Playwright + Chromium, skip with
the reason the runtime gives (what to install); the tests of those reasons
run everywhere.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from tfjs_fixtures import INPUT_WIDTH, quiet_tf, sharded_graph_model, weightless_graph_model

from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats.tfjs_manifest import read_manifest
from pytest_loadbudget.tfjs_runtime import (
    BROWSER_BACKENDS,
    NODE_BACKENDS,
    RUNTIMES,
    BrowserSession,
    RuntimeFigures,
    RuntimeTimeout,
    RuntimeUnavailable,
    find_node,
    installed_js,
    main,
    run_node,
    setup_js,
)
from pytest_loadbudget.tfjs_runtime.server import ModelServer

PREDICT_ROUNDS = 3


@pytest.fixture(scope="session")
def js_packages() -> None:
    try:
        setup_js()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def node(js_packages: None) -> None:
    try:
        find_node()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def models(tfjs_models: dict[str, Path]) -> dict[str, Path]:
    return tfjs_models


@pytest.fixture(scope="session")
def browser(js_packages: None) -> Iterator[BrowserSession]:
    session = BrowserSession()
    try:
        session.start()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))
    try:
        yield session
    finally:
        session.close()


def check_plausible(figures: RuntimeFigures, model_json: Path, *, rounds: int) -> None:
    """What any clean run of a small model must show, whatever the runtime and backend."""
    manifest = read_manifest(model_json)
    weights = sum(1 for group in json.loads(model_json.read_text())["weightsManifest"] for _ in group["weights"])
    assert figures.format == manifest.format
    assert len(figures.load_ms) == rounds and all(ms > 0 for ms in figures.load_ms)
    assert figures.first_load_ms == figures.load_ms[0]
    assert len(figures.warm_ms) == rounds and all(ms > 0 for ms in figures.warm_ms)
    # The browser's clock ticks in 0.1 ms: a tiny predict may read as 0. Every
    # timed step happens inside the run, so none can exceed the run's wall time.
    assert len(figures.predict_ms) == PREDICT_ROUNDS and all(ms >= 0 for ms in figures.predict_ms)
    assert figures.wall_ms is not None and all(ms <= figures.wall_ms for ms in figures.predict_ms)
    timed = figures.startup_ms + sum(figures.load_ms) + sum(figures.warm_ms) + sum(figures.predict_ms)
    assert timed <= figures.wall_ms
    assert figures.memory["before_load"]["numTensors"] == 0
    # Loaded weights are the model's weights, decoded (uint8 shards become float32 tensors).
    assert figures.memory["after_load"]["numTensors"] == weights
    assert figures.memory["after_load"]["numBytes"] == manifest.decoded_bytes
    assert figures.memory["after_warmup"]["numTensors"] > weights  # + input and outputs
    assert figures.leak_tensors == 0 and figures.leak_bytes == 0
    assert figures.inputs == [{"name": figures.inputs[0]["name"], "shape": [1, INPUT_WIDTH], "dtype": "float32"}]
    assert figures.environment["backend"] == figures.backend
    assert figures.startup_ms is not None and figures.startup_ms > 0
    assert figures.weight_bytes == manifest.weight_bytes and figures.shards == 1
    json.dumps(asdict(figures))  # JSON-safe, as records are


# Node.js


@pytest.mark.parametrize("backend", NODE_BACKENDS)
@pytest.mark.parametrize("kind", ["float32", "layers"])
def test_node_measures_graph_and_layers_models(node: None, models: dict[str, Path], backend: str, kind: str) -> None:
    figures = run_node(models[kind], backend=backend, rounds=2, predict_rounds=PREDICT_ROUNDS, timeout=120)
    check_plausible(figures, models[kind], rounds=2)
    # Node's clock has sub-microsecond resolution: a prediction that took no time was never timed.
    assert all(ms > 0 for ms in figures.predict_ms)
    assert (figures.runtime, figures.backend) == ("node", backend)
    assert figures.format == ("layers-model" if kind == "layers" else "graph-model")
    assert figures.cached_load_ms is None and figures.gpu_bytes is None
    assert figures.progress[-1]["shards_done"] == figures.progress[-1]["shards_total"] == 1
    if backend == "wasm":
        assert figures.environment["wasm_simd"] is True  # Node.js 16.4 and later run WebAssembly SIMD


def test_node_catches_a_leak(node: None, models: dict[str, Path]) -> None:
    figures = run_node(models["float32"], rounds=2, predict_rounds=1, leak=True)
    # Each round's warm-up output is kept: one tensor per round stays alive.
    assert figures.leaked_on_purpose == 2
    assert figures.leak_tensors == 2
    assert figures.leak_bytes == 2 * 4 * 4  # two [1, 4] float32 outputs


def test_node_uint8_model_decodes_to_float32(node: None, models: dict[str, Path]) -> None:
    figures = run_node(models["uint8"], backend="wasm", rounds=1, predict_rounds=PREDICT_ROUNDS)
    check_plausible(figures, models["uint8"], rounds=1)
    assert figures.weight_bytes * 4 == figures.memory["after_load"]["numBytes"]


def test_node_timeout_says_where_it_stopped(node: None, models: dict[str, Path]) -> None:
    with pytest.raises(RuntimeTimeout) as caught:
        run_node(models["float32"], timeout=0.01)
    assert caught.value.stage == "startup"
    assert "did not finish within 0.01 s: stopped before TF.js was ready" in str(caught.value)
    assert caught.value.partial is not None and caught.value.partial.load_ms == []


def test_node_refuses_webgl() -> None:
    with pytest.raises(ValueError, match="backend 'webgl' does not run in Node.js without tfjs-node; choose one of cpu, wasm"):
        run_node("unused/model.json", backend="webgl")


def test_broken_artifact_is_reported_before_any_runtime_starts(models: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(models["float32"].parent, broken)
    shard = broken / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-8])
    with pytest.raises(ModelFileError, match="truncated"):
        # A node that does not exist proves that validation comes first.
        run_node(broken / "model.json", node=tmp_path / "no-node")
    with pytest.raises(ModelFileError, match="truncated"):
        BrowserSession(executable_path=tmp_path / "no-chromium").run(broken)


# Chromium


@pytest.mark.parametrize("backend", BROWSER_BACKENDS)
@pytest.mark.parametrize("kind", ["float32", "layers"])
def test_browser_measures_graph_and_layers_models(
    browser: BrowserSession, models: dict[str, Path], backend: str, kind: str
) -> None:
    figures = browser.run(models[kind], backend=backend, rounds=2, predict_rounds=PREDICT_ROUNDS, timeout=60)
    check_plausible(figures, models[kind], rounds=2)
    assert (figures.runtime, figures.backend, figures.cache_policy) == ("browser", backend, "cache")
    assert figures.environment["browser"] == browser.browser_version
    assert [e["fraction"] for e in figures.progress if e["round"] == 0] == [0.5, 1]
    files = sorted(r["file"] for r in figures.requests if r["complete"])
    assert files == ["group1-shard1of1.bin", "model.json"]
    if backend == "webgl":
        # Weights upload lazily: GPU bytes show once the warm-up has run.
        assert figures.gpu_bytes is not None and figures.gpu_bytes > 0
        assert "numBytesInGPU" in figures.memory["after_dispose"]
        assert figures.environment["webgl_version"] in (1, 2)
    else:
        assert figures.gpu_bytes is None


def test_browser_reload_comes_from_the_http_cache_only_when_allowed(browser: BrowserSession, models: dict[str, Path]) -> None:
    model = models["float32"]
    cached = browser.run(model, backend="cpu", cache_policy="cache", rounds=3, predict_rounds=1)
    refetched = browser.run(model, backend="cpu", cache_policy="no-store", rounds=3, predict_rounds=1)

    def fetches(figures: RuntimeFigures) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in figures.requests:
            counts[record["file"]] = counts.get(record["file"], 0) + 1
        return counts

    assert fetches(cached) == {"model.json": 1, "group1-shard1of1.bin": 1}
    assert fetches(refetched) == {"model.json": 3, "group1-shard1of1.bin": 3}
    assert cached.cached_load_ms is not None and len(cached.reload_ms) == 2
    assert refetched.cached_load_ms is None and len(refetched.reload_ms) == 2


def test_browser_catches_a_leak(browser: BrowserSession, models: dict[str, Path]) -> None:
    figures = browser.run(models["layers"], backend="webgl", rounds=1, predict_rounds=1, leak=True)
    assert figures.leaked_on_purpose == 1
    assert figures.leak_tensors == 1
    assert figures.memory["after_dispose"]["numTensors"] == 1


def test_a_session_measures_from_a_thread_whose_event_loop_runs(browser: BrowserSession, models: dict[str, Path]) -> None:
    # The calling thread runs an asyncio loop, as under pytest-playwright or an
    # async test, and this module's own session-scoped browser is open too:
    # Playwright's sync API refuses such a thread, the session's thread does not.
    async def measure_inside_a_running_loop() -> tuple[float, float]:
        with BrowserSession() as session:
            figures = session.run(models["layers"], backend="cpu", rounds=1, predict_rounds=1)
        return figures.load_ms[0], browser.run(models["layers"], backend="cpu", rounds=1, predict_rounds=1).load_ms[0]

    own_session, shared_session = asyncio.run(measure_inside_a_running_loop())
    assert own_session > 0 and shared_session > 0


@pytest.fixture(scope="session")
def seven_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    quiet_tf()
    pytest.importorskip("tensorflowjs")
    return sharded_graph_model(tmp_path_factory.mktemp("sharded"), shards=7)


def test_no_store_load_of_more_than_six_shards_never_finishes(browser: BrowserSession, seven_shards: Path) -> None:
    """TF.js 4.22 awaits every shard's headers before reading any body; six
    unread no-store bodies hold Chromium's six connections to the host, and
    the seventh shard is never requested."""
    with pytest.raises(RuntimeTimeout) as caught:
        browser.run(seven_shards, backend="cpu", cache_policy="no-store", rounds=1, warmup=False, timeout=6)
    error = caught.value
    assert error.stage == "load"
    assert "in load of round 1: 6 of 7 shards received" in error.where
    assert "never requested: group1-shard7of7.bin" in error.where
    assert error.partial is not None
    shards = [r["file"] for r in error.partial.requests if r["file"] != "model.json"]
    assert len(shards) == 6 and "group1-shard7of7.bin" not in shards
    # The same files load under a cacheable policy: the stall is the policy's.
    figures = browser.run(seven_shards, backend="cpu", cache_policy="cache", rounds=1, warmup=False, predict_rounds=0, timeout=60)
    assert figures.shards == 7 and len(figures.load_ms) == 1
    assert figures.memory["after_load"]["numBytes"] == read_manifest(seven_shards).decoded_bytes


# What a missing runtime says


def test_missing_node_names_what_to_install(tmp_path: Path) -> None:
    model = weightless_graph_model(tmp_path / "model")
    with pytest.raises(RuntimeUnavailable) as caught:
        run_node(model, node=tmp_path / "no-node")
    assert str(caught.value) == (
        f"Node.js not found ('{tmp_path / 'no-node'}' is not an executable): "
        "install Node.js 18 or newer with npm (Debian: apt-get install nodejs npm)"
    )


def test_missing_npm_packages_name_the_setup_command(tmp_path: Path) -> None:
    with pytest.raises(RuntimeUnavailable, match=r"the TF.js npm packages are not installed in .*js-[0-9a-f]{16}: "
                       r"run `loadbudget setup-js --cache-dir .*` \(npm ci of the lockfile"):
        installed_js(tmp_path)


def test_setup_without_npm_names_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(RuntimeUnavailable, match=r"npm not found .*: install Node.js 18 or newer with npm"):
        setup_js(tmp_path, npm=tmp_path / "no-npm")
    assert not any(tmp_path.glob("js-*/node_modules"))


def test_missing_chromium_names_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(RuntimeUnavailable) as caught:
        BrowserSession(executable_path=tmp_path / "no-chromium").start()
    assert str(caught.value) == (
        f"Chromium not found at {tmp_path / 'no-chromium'}: install Chromium (Debian: apt-get install chromium) "
        "or pass executable_path / set LOADBUDGET_CHROMIUM"
    )


def test_missing_playwright_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails
    with pytest.raises(RuntimeUnavailable, match=r"Playwright for Python is not installed: pip install playwright .*"
                       r"no `playwright install` is needed: the system Chromium is used"):
        BrowserSession(executable_path=chromium).start()


def test_setup_cli_check_reports_a_missing_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        find_node()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))
    assert main(["--check", "--cache-dir", str(tmp_path)]) == 1
    assert "loadbudget setup-js: the TF.js npm packages are not installed" in capsys.readouterr().err


def test_setup_cli_reports_the_install(js_packages: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().out.startswith(f"TF.js 4.22.0 installed in {installed_js().root} (node: ")


@pytest.mark.parametrize(
    ("runtime", "documented"), [("node", ("cpu", "wasm")), ("browser", ("cpu", "wasm", "webgl"))], ids=["node", "browser"]
)
def test_runtimes_name_their_backends(
    request: pytest.FixtureRequest, models: dict[str, Path], runtime: str, documented: tuple[str, ...]
) -> None:
    """The backends the README and the marker validation name are the ones TF.js itself reports running."""
    assert set(RUNTIMES) == {"node", "browser"} and RUNTIMES[runtime] == documented
    measure: Any = run_node if runtime == "node" else request.getfixturevalue("browser").run
    if runtime == "node":
        request.getfixturevalue("node")
    for backend in documented:
        figures = measure(models["float32"], backend=backend, rounds=1, predict_rounds=0, timeout=120)
        # tf.getBackend() in the runtime, after the harness set it up.
        assert (figures.backend, figures.environment["backend"]) == (backend, backend)


# The model server


def _get(url: str) -> tuple[int, dict[str, Any], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def test_server_answers_each_cache_policy_and_logs_requests(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{}")
    (model / "weights.bin").write_bytes(b"\1" * 200_000)
    (tmp_path / "secret").write_text("outside")
    server = ModelServer({"page.html": model / "model.json"}, {})
    server.start()
    try:
        model_id = server.add_model(model)
        status, headers, body = _get(server.model_url(model_id, "no-store", "weights.bin"))
        assert (status, headers["Cache-Control"], len(body)) == (200, "no-store", 200_000)
        status, headers, _ = _get(server.model_url(model_id, "cache"))
        assert (status, headers["Cache-Control"], headers["Content-Type"]) == (200, "public, max-age=3600", "application/json")
        assert _get(server.model_url(model_id, "cache", "missing.bin"))[0] == 404
        assert _get(server.model_url(model_id, "cache", "..%2Fsecret"))[0] == 404
        assert _get(f"{server.url}/models/unknown/cache/model.json")[0] == 404
        with pytest.raises(ValueError, match="cache policy 'private' unknown; choose one of no-store, cache"):
            server.model_url(model_id, "private")
        records = server.requests_for(model_id)
        assert [(r.file, r.status, r.bytes_sent, r.complete) for r in records] == [
            ("weights.bin", 200, 200_000, True),
            ("model.json", 200, 2, True),
            ("missing.bin", 404, 0, True),
            ("../secret", 404, 0, True),
        ]
    finally:
        server.stop()


def test_a_stall_in_a_later_round_counts_that_rounds_requests(tmp_path: Path) -> None:
    from pytest_loadbudget.tfjs_runtime.browser import describe_stall
    from pytest_loadbudget.tfjs_runtime.server import RequestRecord

    (tmp_path / "model.json").write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": []},
        "weightsManifest": [{"paths": ["a.bin", "b.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32"}]}],
    }))
    (tmp_path / "a.bin").write_bytes(b"\0" * 4)
    (tmp_path / "b.bin").write_bytes(b"\0" * 4)

    def sent(file: str, at: float) -> RequestRecord:
        return RequestRecord(path=f"/{file}", model_id="m", file=file, status=200, bytes_total=4, bytes_sent=4,
                             received_ms=at, headers_ms=at, done_ms=at + 1)

    records = [sent("model.json", 0), sent("a.bin", 1), sent("b.bin", 1), sent("model.json", 10), sent("a.bin", 11)]
    state = {"stage": "load", "round": 1, "events": [
        {"event": "stage", "stage": "load", "round": 0, "t_ms": 100},
        {"event": "progress", "round": 0, "fraction": 1, "t_ms": 110},
        {"event": "stage", "stage": "load", "round": 1, "t_ms": 200},
        {"event": "progress", "round": 1, "fraction": 0.25, "t_ms": 210},
    ]}
    stage, where = describe_stall(read_manifest(tmp_path / "model.json"), records, state)
    assert stage == "load"
    assert where == (
        "in load of round 2: 1 of 2 shards received (TF.js onProgress 0.25); the server saw 1 of 2 shards "
        "requested, 1 answered, 1 fully sent; never requested: b.bin"
    )
