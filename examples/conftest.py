"""Fixtures of the example suite: the models, built on first use and then reused."""

from __future__ import annotations

import os

# Before anything imports TensorFlow: its C++ start-up logging would bury the report.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from build_models import CNN_SIDE, MOBILENET_SIDE, ExampleModels, ensure_models


def pytest_collectstart(collector: pytest.Collector) -> None:
    """config_only/ names these models by globs, matched when its pyproject.toml is collected: build them first."""
    if collector.path is not None and collector.path.name == "pyproject.toml" \
            and collector.path.parent.name == "config_only":
        ensure_models()


@pytest.fixture(scope="session")
def models() -> ExampleModels:
    """Every example artifact; the first worker to get here builds them (about 30 s)."""
    return ensure_models()


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    """One MobileNetV2 input, in the [-1, 1] range its preprocessing produces."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (1, MOBILENET_SIDE, MOBILENET_SIDE, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def small_image() -> np.ndarray:
    """One input of the small CNN classifier, pixels scaled to [0, 1]."""
    rng = np.random.default_rng(1)
    return rng.uniform(0, 1, (1, CNN_SIDE, CNN_SIDE, 3)).astype(np.float32)
