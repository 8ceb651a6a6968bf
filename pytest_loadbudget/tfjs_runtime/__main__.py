"""``python -m pytest_loadbudget.tfjs_runtime``: the same as ``loadbudget setup-js``."""

from __future__ import annotations

import sys

from pytest_loadbudget.tfjs_runtime.jsenv import main

sys.exit(main())
