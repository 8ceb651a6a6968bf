"""``--loadbudget-suggest=config``: each suggested entry measures its model where this run did.

A model measured in a TF.js runtime or on a GPU that came back as a plain
entry would be measured in Python on the CPU next time, against limits set
elsewhere. The records here are made by hand for the places this machine
cannot reach (a GPU, a browser); Node.js runs end to end where it is set up.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from models import copy_model, literal

from pytest_loadbudget.config.suggest import config_text
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.tfjs_runtime import RuntimeUnavailable, find_node, setup_js
from pytest_loadbudget.tfjs_runtime.jsenv import cache_root

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

#: The keywords that say where a model is measured, as the marker and the entries take them.
PLACEMENT = ("runtime", "backend", "cache_policy", "worker", "device")

GPU = "gpu: NVIDIA H100 80GB HBM3 (driver 550.54.15)"

#: (path, runtime label, device label) of each hand-made record, and the placement its entry must name.
MEASURED = [
    ("web/net/model.json", "node wasm", "node wasm", {"runtime": "node", "backend": "wasm"}),
    ("web/net/model.json", "browser webgl no-store", "browser webgl no-store",
     {"runtime": "browser", "backend": "webgl", "cache_policy": "no-store"}),
    # The same model on the page and in a Web Worker: two places, two entries.
    ("web/net/model.json", "browser wasm indexeddb", "browser wasm indexeddb",
     {"runtime": "browser", "backend": "wasm", "cache_policy": "indexeddb"}),
    ("web/net/model.json", "browser wasm indexeddb worker", "browser wasm indexeddb worker",
     {"runtime": "browser", "backend": "wasm", "cache_policy": "indexeddb", "worker": True}),
    ("models/big.keras", "python", GPU, {"device": "gpu"}),
    ("models/small.tflite", "python", "cpu", {}),
    # The framework's own choice on a machine with a GPU: the entry leaves it to the framework again.
    ("models/free.keras", "python", "default", {}),
]


def _record(base: Path, path: str, runtime: str, device: str) -> ModelRecord:
    # Wall time only, as a browser measures: the suggested times come from these rounds alone.
    return ModelRecord(key=f"{path}@{runtime}@{device}", name=Path(path).name, format="any", runtime=runtime,
                       device=device, path=str(base / path), size_bytes=2**20,
                       load_ms=Samples([40.0, 42.0, 44.0]), warm_ms=Samples([8.0, 9.0, 10.0]))


def _entries(base: Path) -> tuple[str, list[dict]]:
    records = [_record(base, path, runtime, device) for path, runtime, device, _ in MEASURED]
    text = config_text(records, base, "models", "own")
    return text, tomllib.loads(text)["models"]


def test_each_suggested_entry_names_the_runtime_backend_cache_policy_or_device_it_was_measured_on(tmp_path):
    _, entries = _entries(tmp_path)
    # Beside its placement, each keeps the limits of its rounds: the upper decile (43.6 ms of the loads,
    # 9.8 ms of the warm-ups) + 25% with no wait measured, and the size x1.1, rounded up to two digits.
    limits = {"ms": 55, "warm_ms": 13, "mb": 1.1}
    expected = [{"path": path, **where, **limits} for path, _, _, where in MEASURED]
    def in_order(entry: dict) -> str:
        return json.dumps(entry, sort_keys=True)

    assert sorted(entries, key=in_order) == sorted(expected, key=in_order)


def test_suggested_entries_collect_one_item_per_place_a_model_was_measured(pytester):
    text, _ = _entries(pytester.path)
    (pytester.path / "loadbudget.toml").write_text(text)
    # Collection loads nothing: empty files are enough for the globs.
    for path in {path for path, *_ in MEASURED}:
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text("")
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([literal(line) for line in (
        "loadbudget.toml::models/big.keras[gpu]",
        "loadbudget.toml::models/free.keras",
        "loadbudget.toml::models/small.tflite",
        "loadbudget.toml::web/net/model.json[browser-wasm-indexeddb]",
        "loadbudget.toml::web/net/model.json[browser-wasm-indexeddb-worker]",
        "loadbudget.toml::web/net/model.json[browser-webgl-no-store]",
        "loadbudget.toml::web/net/model.json[node-wasm]",
    )] + ["7 tests collected*"])


@pytest.fixture
def node_ready(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    try:
        setup_js()
        find_node()
    except RuntimeUnavailable as error:
        pytest.skip(str(error))
    # pytester gives each run its own HOME: point the runs at this install.
    monkeypatch.setenv("LOADBUDGET_CACHE_DIR", str(cache_root()))
    yield


def test_a_model_measured_in_node_is_suggested_for_node_and_measured_there_again(pytester, tfjs_models, node_ready):
    model = copy_model(tfjs_models["layers"], pytester.path / "web")
    pytester.makepyfile(test_in_node=f"""
        import pytest

        @pytest.mark.load_budget(runtime="node", backend="wasm")
        def test_in_node(load_model):
            load_model({str(model)!r})
        """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--loadbudget-rounds=2", "--loadbudget-suggest=suggested.toml")
    result.assert_outcomes(passed=1)
    (entry,) = tomllib.loads((pytester.path / "suggested.toml").read_text())["models"]
    assert entry["path"] == model.relative_to(pytester.path).as_posix()
    assert {key: entry[key] for key in PLACEMENT if key in entry} == {"runtime": "node", "backend": "wasm"}

    # Budgeted by the suggested entries alone, the model is measured in Node.js with wasm again.
    (pytester.path / "test_in_node.py").unlink()
    (pytester.path / "suggested.toml").rename(pytester.path / "loadbudget.toml")
    result = pytester.runpytest("-p", "no:cacheprovider", "--loadbudget-rounds=2", "--loadbudget-json=out.json", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([literal(f"loadbudget.toml::{entry['path']}[node-wasm]") + " PASSED*"])
    (record,) = json.loads((pytester.path / "out.json").read_text())["models"]
    assert record["runtime"] == "node wasm"
