"""What the hooks and the ``load_model`` fixture keep on a test item.

Kept apart from the fixture so that the hooks can look at a test that uses
neither a budget nor a model without importing the measuring code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_loadbudget.budget.marker import Budget
    from pytest_loadbudget.model.entry import Entry

#: The test's validated ``load_budget``, set at set-up; None without a marker.
BUDGET_KEY: pytest.StashKey[Budget | None] = pytest.StashKey()
#: The session's entries of every model the test loaded through ``load_model``.
USED_KEY: pytest.StashKey[list[Entry]] = pytest.StashKey()
#: ``load_model(..., against=PATH)`` of the test: each model's baseline artifact, by the model's key.
AGAINST_KEY: pytest.StashKey[dict[str, Path]] = pytest.StashKey()
