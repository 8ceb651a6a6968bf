"""Load budgets on MobileNetV2 and a small CNN, in every format the plugin loads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from build_models import CNN_CLASSES

IMAGENET_CLASSES = 1000


def predict(model: Any, image: np.ndarray) -> np.ndarray:
    """Class probabilities from any loaded format, as a NumPy array."""
    if hasattr(model, "serve"):  # a SavedModel exported by Keras
        return np.asarray(model.serve(image))
    if hasattr(model, "interpreter"):  # a TFLite interpreter wrapped by the plugin
        return np.asarray(model(image))
    return np.asarray(model(image, training=False))


def assert_probabilities(probabilities: np.ndarray, classes: int) -> None:
    assert probabilities.shape == (1, classes)
    # Softmax output: a wrong input layout or a broken conversion rarely sums to one.
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-2)


@pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999, peak_mb=9999, leak_mb=999)
def test_mobilenet_keras(load_model, models, image):
    model = load_model(models.mobilenet["keras"])
    assert_probabilities(predict(model, image), IMAGENET_CLASSES)


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param("keras", marks=pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999)),
        pytest.param("h5", marks=pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999)),
        pytest.param("savedmodel", marks=pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999)),
        pytest.param("tflite", marks=pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999, peak_mb=9999, leak_mb=999)),
        pytest.param("tflite-quantized", marks=pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999)),
    ],
)
def test_mobilenet_formats(load_model, models, image, fmt):
    model = load_model(models.mobilenet[fmt])
    assert_probabilities(predict(model, image), IMAGENET_CLASSES)


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param("tfjs-graph", marks=pytest.mark.load_budget(mb=999)),
        pytest.param("tfjs-graph-float16", marks=pytest.mark.load_budget(mb=999)),
        pytest.param("tfjs-graph-uint8", marks=pytest.mark.load_budget(mb=999)),
    ],
)
def test_mobilenet_tfjs_graph(load_model, models, fmt):
    artifact = load_model(models.mobilenet[fmt])
    manifest = artifact.manifest
    assert manifest.format == "graph-model"
    assert manifest.decoded_bytes > 13 * 2**20


@pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999, peak_mb=9999, leak_mb=999)
def test_small_cnn_keras(load_model, models, small_image):
    model = load_model(models.cnn["keras"])
    assert_probabilities(predict(model, small_image), CNN_CLASSES)


@pytest.mark.load_budget(ms=99999, mb=999, warm_ms=99999)
def test_small_cnn_tfjs_layers(load_model, models, small_image):
    model = load_model(models.cnn_tfjs_layers)
    assert_probabilities(predict(model, small_image), CNN_CLASSES)
