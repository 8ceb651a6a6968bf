"""The marker's runtime keywords, checked without starting anything.

``runtime=``, ``backend=`` and ``cache_policy=`` name where a TF.js model is
measured; ``worker=``, ``block_ms=`` and the IndexedDB cache apply to the
browser alone. The names come from ``tfjs_runtime``, imported when a budget
sets one of them: a budget without a TF.js runtime does not need them.
"""

from __future__ import annotations

from pytest_loadbudget.errors import MarkerError
from pytest_loadbudget.model.placement import PYTHON


def validate_runtime(runtime: str | None, backend: str | None, cache_policy: str | None) -> None:
    """Check the marker's runtime keywords without starting anything."""
    from pytest_loadbudget.tfjs_runtime import BROWSER_CACHE_POLICIES as CACHE_POLICIES
    from pytest_loadbudget.tfjs_runtime import RUNTIMES

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


def validate_browser_features(
    runtime: str | None, cache_policy: str | None, worker: bool | None, block_ms: float | None, rounds: int | None,
) -> None:
    """Check the keywords that only the browser measures: the Web Worker, the main-thread block, IndexedDB."""
    from pytest_loadbudget.tfjs_runtime.storage import INDEXEDDB, INDEXEDDB_MIN_ROUNDS

    if worker is not None and runtime != "browser":
        raise MarkerError(f"worker={worker!r} applies to runtime='browser' only (a Web Worker of the page)")
    if block_ms is not None and runtime != "browser":
        raise MarkerError(f"block_ms={block_ms!r} applies to runtime='browser' only (the page's main thread)")
    if cache_policy == INDEXEDDB and rounds is not None and rounds < INDEXEDDB_MIN_ROUNDS:
        raise MarkerError(f"rounds={rounds!r} is too few for cache_policy='indexeddb': it needs at least "
                          f"{INDEXEDDB_MIN_ROUNDS} (first load, HTTP-cached reload, IndexedDB reload)")
