"""A size regression means weights, not metadata: real Keras models re-saved and grown.

Re-saving the same model with one layer renamed changes a few dozen bytes of
names; a model with one layer more is a model that grew. The default size
threshold (1% and 4 KiB) must tell them apart against saved runs of the
original.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import models

TEST_FILE = """
    def test_classifier(load_model):
        load_model("classifier.keras", warmup=None)
"""
#: Only the size is judged here: a time verdict between two runs on a shared machine is not this test's subject.
SIZE_ONLY = "--loadbudget-compare-fail=ms:off,warm_ms:off"


@pytest.fixture(scope="session")
def keras() -> Any:
    """Keras, imported once before any in-process run: TensorFlow cannot be imported twice in one process."""
    models.quiet_tf()
    return pytest.importorskip("keras")


def save_classifier(keras: Any, path: Path, *, head_name: str = "head", extra_dense: int = 0) -> int:
    """A small CNN with the same weights whatever its head's name; ``extra_dense`` Dense(64) layers before the head."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    for index in range(extra_dense):
        x = keras.layers.Dense(64, name=f"dense_{index}")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name=head_name)(x))
    model.save(path)
    return path.stat().st_size


@pytest.fixture
def classifier(pytester: pytest.Pytester, keras: Any) -> Path:
    pytester.makepyfile(test_classifier=TEST_FILE)
    path = pytester.path / "classifier.keras"
    save_classifier(keras, path)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-save=original")
    result.assert_outcomes(passed=1)
    return path


def test_a_model_re_saved_with_other_metadata_passes_the_size_gate(
    pytester: pytest.Pytester, classifier: Path, keras: Any,
) -> None:
    original = classifier.stat().st_size
    resaved = save_classifier(keras, classifier, head_name="classifier_head")
    assert 0 < resaved - original < 4096  # the same weights under a longer name: a few bytes more
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-compare", SIZE_ONLY, "--loadbudget-report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["  ok         classifier.keras size * MiB vs baseline * MiB (+0%, artifact changed)"])


def test_a_model_with_one_layer_more_fails_on_size(pytester: pytest.Pytester, classifier: Path, keras: Any) -> None:
    original = classifier.stat().st_size
    grown = save_classifier(keras, classifier, extra_dense=1)
    result = pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-compare", SIZE_ONLY)
    result.assert_outcomes(failed=1)
    change = f"{(grown - original) / original * 100:+.0f}%"
    result.stdout.fnmatch_lines([
        f"loadbudget: classifier.keras size * MiB vs baseline * MiB ({change}, artifact changed)",
    ])
