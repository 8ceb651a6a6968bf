"""TF.js models measured in Node.js and Chromium through the load_budget marker."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from models import marker_error

from pytest_loadbudget.tfjs_runtime import RuntimeUnavailable, find_chromium, find_node, setup_js
from pytest_loadbudget.tfjs_runtime.jsenv import cache_root


@pytest.fixture(scope="module")
def node_ready() -> Iterator[None]:
    try:
        setup_js()
        find_node()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))
    # pytester gives each run its own HOME: point the runs at this install.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOADBUDGET_CACHE_DIR", str(cache_root()))
        yield


@pytest.fixture(scope="module")
def browser_ready(node_ready: None) -> None:
    """Chromium and Playwright are there; the browser itself starts in the run under test."""
    pytest.importorskip("playwright.sync_api")
    try:
        find_chromium()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))


def models_json(pytester: pytest.Pytester) -> list[dict]:
    return json.loads((pytester.path / "out.json").read_text())["models"]


def test_node_runtime_measures_graph_and_layers_models(pytester, tfjs_models, node_ready):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="node", ms=60000, warm_ms=60000, mb=1, leak_tensors=0)
        def test_graph_cpu(load_model):
            figures = load_model({str(tfjs_models["float32"])!r})
            assert figures.runtime == "node" and figures.backend == "cpu"

        @pytest.mark.load_budget(runtime="node", backend="wasm", ms=60000, leak_tensors=0)
        def test_layers_wasm(load_model):
            load_model({str(tfjs_models["layers"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=2", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["tiny_tfjs/model.json*tfjs-graph*node cpu*0 tensors*ok"])
    records = {record["runtime"]: record for record in models_json(pytester)}
    assert set(records) == {"node cpu", "node wasm"}
    for record in records.values():
        assert len(record["load_ms"]["samples"]) == 2
        assert all(sample > 0 for sample in record["load_ms"]["samples"])
        assert record["runtime_figures"]["leak_tensors"] == 0
    assert records["node wasm"]["format"] == "tfjs-layers"
    # The backend TF.js itself reports having run on, not the label the plugin asked for.
    assert {name: record["runtime_figures"]["environment"]["backend"] for name, record in records.items()} == {
        "node cpu": "cpu", "node wasm": "wasm"
    }


#: Preloaded into the harness's node process (NODE_OPTIONS=--require): it switches on
#: the harness's own ``leak`` option, which keeps each warm-up's outputs alive as a
#: caller that forgets ``dispose()`` would. Everything else is the real runtime path.
LEAK_PRELOAD = """
const options = JSON.parse(process.argv[2]);
options.leak = true;
process.argv[2] = JSON.stringify(options);
"""


def test_leak_tensors_over_budget_fails(pytester, tfjs_models, node_ready, monkeypatch):
    preload = pytester.path / "leak.js"
    preload.write_text(LEAK_PRELOAD)
    monkeypatch.setenv("NODE_OPTIONS", f'--require "{preload}"')
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="node", leak_tensors=0)
        def test_over(load_model):
            load_model({str(tfjs_models["float32"])!r})

        @pytest.mark.load_budget(runtime="node", leak_tensors=2)
        def test_at_the_budget(load_model):
            load_model({str(tfjs_models["float32"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=2", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1, passed=1)
    # One output tensor kept per round, two rounds.
    result.stdout.fnmatch_lines(
        ["*load_budget: tiny_tfjs/model.json leaks 2 tensors > budget 0 (alive after model.dispose(), node cpu)"]
    )
    (record,) = models_json(pytester)
    figures = record["runtime_figures"]
    assert (figures["leaked_on_purpose"], figures["leak_tensors"], figures["leak_bytes"]) == (2, 2, 2 * 4 * 4)


def test_timeout_option_limits_a_runtime_call(pytester, tfjs_models, node_ready):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="node")
        def test_it(load_model):
            load_model({str(tfjs_models["float32"])!r})
        """
    )
    # Far less than node needs to import TF.js: the call stops before the model loads.
    result = pytester.runpytest("--loadbudget-timeout=0.01", "--loadbudget-json=out.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"RuntimeTimeout: {tfjs_models['float32']} in Node.js (cpu) did not finish within 0.01 s: "
        "stopped before TF.js was ready (importing @tensorflow/tfjs or setting up the backend)",
    ])
    (record,) = models_json(pytester)
    assert "did not finish within 0.01 s" in record["error"]


def test_browser_webgl_gpu_memory_and_cache_policies(pytester, tfjs_models, browser_ready):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="browser", backend="webgl", gpu_mb=0.0001)
        def test_webgl(load_model):
            load_model({str(tfjs_models["float32"])!r})

        @pytest.mark.load_budget(runtime="browser", backend="cpu", cache_policy="no-store", ms=60000, leak_tensors=0)
        def test_no_store(load_model):
            figures = load_model({str(tfjs_models["uint8"])!r})
            assert figures.cached_load_ms is None
        """
    )
    # In a process of its own: Playwright's sync API cannot start where another
    # test of this session already runs one.
    result = pytester.runpytest_subprocess("--loadbudget-rounds=2", "--loadbudget-report", "--loadbudget-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*load_budget: tiny_tfjs/model.json GPU memory * MiB > budget 0.0001 MiB (numBytesInGPU after warm-up, browser webgl cache)",
    ])
    runtimes = sorted(record["runtime"] for record in models_json(pytester))
    assert runtimes == ["browser cpu no-store", "browser webgl cache"]


def test_missing_node_is_a_skip_that_says_what_to_install(pytester, tfjs_models, node_ready):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime="node")
        def test_it(load_model):
            load_model({str(tfjs_models["float32"])!r})
        """
    )
    result = pytester.runpytest("--loadbudget-node=/nonexistent/node", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*/nonexistent/node*"])


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ('backend="wasm"', "*backend='wasm' needs runtime='node' or runtime='browser'*"),
        ('runtime="deno"', "*runtime='deno' must be one of 'python', 'node', 'browser'*"),
        ('runtime="node", backend="webgl"', "*backend='webgl' is not one of 'cpu', 'wasm' for runtime='node'*"),
        ('runtime="node", cache_policy="no-store"', "*cache_policy='no-store' applies to runtime='browser' only*"),
        ('leak_tensors=-1', "*leak_tensors=-1 must be an integer of at least 0*"),
    ],
)
def test_bad_runtime_keywords_are_marker_errors(pytester, keywords, message):
    result = marker_error(pytester, keywords)
    result.stdout.fnmatch_lines([message])


def test_runtime_on_a_python_format_says_what_it_measures(pytester, tmp_path):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(runtime="node")
        def test_it(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*runtime='node' measures TF.js models (model.json), not callable*"])


def test_leak_tensors_budget_in_python_says_which_runtime_counts_them(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(leak_tensors=0)
        def test_it(load_model):
            load_model(dict)
        """
    )
    result = pytester.runpytest("--loadbudget-rounds=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*dict leaked tensors not counted: tensors are counted in a TF.js runtime*"])


@pytest.mark.parametrize(
    ("ini", "runtime", "reason"),
    [("loadbudget_node = /nonexistent/node", "node", "*/nonexistent/node*"),
     ("loadbudget_chromium = /nonexistent/chromium", "browser", "*/nonexistent/chromium*")],
)
def test_runtime_executable_ini_keys_are_read(pytester, tfjs_models, node_ready, ini, runtime, reason):
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.load_budget(runtime={runtime!r})
        def test_it(load_model):
            load_model({str(tfjs_models["float32"])!r})
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED{reason}"])
