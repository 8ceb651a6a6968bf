"""Any loader function: ``load_model(my_loader, name="tokenizer")``.

This keeps PyTorch, ONNX Runtime or JAX models, tokenizers and anything else
with a load step under the same budgets.
"""

from __future__ import annotations

from pathlib import Path

from pytest_loadbudget.formats.base import ModelFormat


class CallableFormat(ModelFormat):
    name = "callable"
    framework = "the loader's module"

    def matches(self, path: Path) -> bool:
        return False  # chosen by passing a callable, never detected from a path
