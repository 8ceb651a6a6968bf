"""``cache_policy="indexeddb"``: the model cached in the browser's storage, and the quota it must fit.

Round 1 loads over HTTP with an empty cache and the model is saved to
``indexeddb://``; round 2 reloads over HTTP from the HTTP cache; rounds 3 and
later load from IndexedDB (js/storage.js). The three loads side by side say
what the storage cache buys over the HTTP cache.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from pytest_loadbudget.tfjs_runtime.errors import RuntimeFailure
from pytest_loadbudget.units import format_mib

if TYPE_CHECKING:
    from pytest_loadbudget.formats.tfjs_manifest import TFJSManifest
    from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures

INDEXEDDB = "indexeddb"
#: First load, HTTP-cached reload, then at least one load from IndexedDB.
INDEXEDDB_MIN_ROUNDS = 3


def storage_options(
    manifest: TFJSManifest, model_id: str, cache_policy: str, quota_bytes: int | None,
) -> dict[str, Any]:
    """What js/storage.js is told: the policy, the IndexedDB key, the size to fit and a smaller quota if any."""
    return {
        "cachePolicy": cache_policy,
        "storageKey": f"loadbudget-{model_id}",
        # What the copy holds at the least: model.json and the weights as served.
        "modelBytes": manifest.weight_bytes + manifest.model_json.stat().st_size,
        "storageQuotaBytes": quota_bytes,
    }


def apply_storage_figures(figures: RuntimeFigures, result: dict[str, Any]) -> None:
    """Split the rounds by where they loaded from; under IndexedDB its loads are the cached ones."""
    sources = [str(source) for source in result.get("load_sources", [])]
    figures.load_sources = sources
    if figures.cache_policy != INDEXEDDB:
        return
    by_source = list(zip(figures.load_ms, sources))
    figures.indexeddb_load_ms = [ms for ms, source in by_source if source == INDEXEDDB]
    http_reloads = [ms for ms, source in by_source[1:] if source == "http"]
    figures.http_cached_load_ms = statistics.median(http_reloads) if http_reloads else None
    figures.cached_load_ms = statistics.median(figures.indexeddb_load_ms) if figures.indexeddb_load_ms else None
    figures.storage = dict(result["storage"]) if isinstance(result.get("storage"), dict) else None


def quota_failure(what: str, events: list[dict[str, Any]]) -> RuntimeFailure | None:
    """The failure of a model that did not fit the storage quota, from the page's "quota" event; else None."""
    refused = next((event for event in events if event.get("event") == "quota"), None)
    if refused is None:
        return None
    quota, usage, size = refused.get("quota_bytes"), refused.get("usage_bytes") or 0, refused.get("size_bytes")
    return RuntimeFailure(
        f"{what}: the model ({format_mib(size)}, {size} bytes) does not fit the browser's storage quota for "
        f"IndexedDB: quota {format_mib(quota)} ({quota} bytes), {format_mib(usage)} already used "
        f"(navigator.storage.estimate())",
        f"refused by {refused.get('why')}",
    )
