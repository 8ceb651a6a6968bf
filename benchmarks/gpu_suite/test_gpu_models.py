"""A small suite with device="gpu" budgets, run by gpu_check.sh on a GPU machine.

PyTorch models go through the loader-function path (the GPU machines have
PyTorch but no TensorFlow); the TensorFlow path runs where TensorFlow is
installed. Budgets are generous: the point is the figures and their source.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def convnet(device: str = "cpu") -> object:
    """A ResNet-ish stack of convolutions, about 45 MiB of float32 weights."""
    torch.manual_seed(0)
    layers: list[object] = []
    channels = 3
    for width in (64, 128, 256, 512, 512):
        layers += [torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.BatchNorm2d(width), torch.nn.ReLU(),
                   torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels = width
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 1000)]
    return torch.nn.Sequential(*layers).eval().to(device)


def transformer(device: str = "cpu") -> object:
    """Six encoder layers of width 512: about 75 MiB of float32 weights."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, batch_first=True)
    return torch.nn.TransformerEncoder(layer, num_layers=6).eval().to(device)


def _on(model: object, x: np.ndarray) -> object:
    device = next(model.parameters()).device  # type: ignore[attr-defined]
    with torch.no_grad():
        return model(torch.as_tensor(x, device=device))  # type: ignore[operator]


def image_batch() -> np.ndarray:
    return np.zeros((8, 3, 224, 224), np.float32)


def token_batch() -> np.ndarray:
    return np.zeros((8, 128, 512), np.float32)


# Warm-ups as module-level functions, not lambdas: a request that pickles is
# replayed in a fresh process, where the GPU figures are the whole cost
# (CUDA context included); a lambda keeps the measurement in the test process.
def warm_images(model: object) -> object:
    return _on(model, image_batch()).cpu()


def warm_tokens(model: object) -> object:
    return _on(model, token_batch()).cpu()


@pytest.mark.load_budget(device="gpu", ms=20000, warm_ms=20000, gpu_mb=4000, peak_mb=8000)
def test_convnet_gpu(load_model):
    model = load_model(convnet, warmup=warm_images)
    assert tuple(_on(model, image_batch()).shape) == (8, 1000)


@pytest.mark.load_budget(device="gpu", ms=20000, warm_ms=20000, gpu_mb=4000, peak_mb=8000)
def test_transformer_gpu(load_model):
    model = load_model(transformer, warmup=warm_tokens)
    assert tuple(_on(model, token_batch()).shape) == (8, 128, 512)


@pytest.mark.load_budget(device="gpu", ms=20000, warm_ms=20000, gpu_mb=4000)
def test_convnet_gpu_in_process(load_model):
    # A lambda cannot travel to a fresh process: measured in the test process,
    # where the allocator's own peak is the figure (the driver sees its cache).
    model = load_model(convnet, name="convnet (in-process)", warmup=lambda m: _on(m, image_batch()).cpu())
    assert tuple(_on(model, image_batch()).shape) == (8, 1000)


@pytest.mark.load_budget(device="cpu", ms=20000, warm_ms=60000)
def test_convnet_cpu(load_model):
    model = load_model(convnet, warmup=lambda m: _on(m, image_batch()))
    assert tuple(_on(model, image_batch()).shape) == (8, 1000)


@pytest.mark.load_budget(device="gpu", gpu_mb=4000)
def test_tensorflow_gpu(load_model, tmp_path_factory):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("TensorFlow sees no GPU here")
    path = tmp_path_factory.mktemp("tf") / "mobilenet.keras"
    keras.applications.MobileNetV2(weights=None, input_shape=(160, 160, 3)).save(path)
    model = load_model(path)
    assert model(np.zeros((1, 160, 160, 3), np.float32)).shape == (1, 1000)

