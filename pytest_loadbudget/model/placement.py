"""Where a model is measured: Python on a device, or a TF.js runtime with its backend.

Light on purpose: the marker checks its runtime keywords against ``PYTHON``
when ``pytest --help`` configures the plugin, before any format is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The runtime of a model loaded in the test process, as opposed to a TF.js runtime ("node", "browser").
PYTHON = "python"


@dataclass(frozen=True)
class Placement:
    """Where a model is measured: Python on a device, or a TF.js runtime with its backend.

    ``device``: "cpu" or "gpu" when asked for, "" to leave placement to the
    framework (Python only). ``cache_policy``: the Cache-Control of the model
    files in the browser (or "indexeddb"), "" elsewhere. ``worker``: in the
    browser, loaded in a dedicated Web Worker rather than on the page's thread.
    """

    runtime: str = PYTHON
    backend: str = ""
    cache_policy: str = ""
    device: str = ""
    worker: bool = False

    @property
    def label(self) -> str:
        """"python", or the TF.js runtime with its backend: "node wasm", "browser webgl no-store worker"."""
        if self.runtime == PYTHON:
            return PYTHON
        text = f"{self.runtime} {self.backend}"
        if self.runtime != "browser":
            return text
        return f"{text} {self.cache_policy}" + (" worker" if self.worker else "")
