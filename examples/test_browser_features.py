"""What a page's user feels of a TF.js model: a frozen page, and a second visit that downloads again.

Two comparisons, on MobileNetV2 (float32 and uint8 TF.js graph models) and the
small CNN as a TF.js layers model, in headless Chromium with the wasm backend:

- the page's main-thread block (its longest task, the Long Tasks API) when the
  model loads and warms up on the page, and when it does so in a Web Worker;
- the first load over HTTP, the reload from the HTTP cache, and the reload
  from IndexedDB (``cache_policy="indexeddb"``), with what the copy takes.

Run with ``--loadbudget-report`` to see the block column and the lines that
put the three loads side by side. Skipped, with what to install, where Node.js
packages (``loadbudget setup-js``) or Chromium are missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from build_models import ExampleModels
from pytest_loadbudget import LoadModel

budget = pytest.mark.load_budget


def example_path(models: ExampleModels, kind: str) -> Path:
    return models.cnn_tfjs_layers if kind == "layers" else models.mobilenet[kind]


KINDS = [pytest.param("tfjs-graph", id="float32"), pytest.param("tfjs-graph-uint8", id="uint8"),
         pytest.param("layers", id="layers")]


# On the page the load and the warm-up hold the main thread for hundreds of
# milliseconds: no budget on the block there, this is the figure to compare.
@pytest.mark.parametrize("kind", KINDS)
@budget(runtime="browser", backend="wasm", leak_tensors=0)
def test_block_on_the_page(load_model: LoadModel, models: ExampleModels, kind: str) -> None:
    figures = load_model(example_path(models, kind))
    assert figures.block_ms is not None and not figures.worker


# In a Web Worker the page's main thread stays free: a budget of a few frames
# holds (what is left is the page receiving the worker's messages).
@pytest.mark.parametrize("kind", KINDS)
@budget(runtime="browser", backend="wasm", worker=True, block_ms=250, leak_tensors=0)
def test_block_in_a_worker(load_model: LoadModel, models: ExampleModels, kind: str) -> None:
    figures = load_model(example_path(models, kind))
    assert figures.worker


# The second visit: from the HTTP cache, or from the copy saved in IndexedDB.
@pytest.mark.parametrize("kind", KINDS)
@budget(runtime="browser", backend="wasm", cache_policy="indexeddb", leak_tensors=0)
def test_http_cache_vs_indexeddb(load_model: LoadModel, models: ExampleModels, kind: str) -> None:
    figures = load_model(example_path(models, kind))
    assert figures.load_sources[-1] == "indexeddb" and figures.storage["saved_bytes"] > 0
