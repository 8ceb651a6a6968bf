"""What a TF.js model would weigh quantized to uint8 or float16, from its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pytest_loadbudget.formats.tfjs_manifest import read_manifest

#: Stored bytes per float32 byte for each TF.js quantization dtype.
QUANTIZED_FRACTION = {"uint8": 0.25, "float16": 0.5}
#: Bytes model.json gains per quantized weight: the ``quantization`` entry
#: (dtype, min, scale, original_dtype) tensorflowjs 4.x writes beside it.
QUANTIZATION_ENTRY_BYTES = {"uint8": 64, "float16": 34}


@dataclass(frozen=True)
class QuantizationEstimate:
    """A TF.js model's size now and quantized, in bytes (model.json plus shards).

    The estimate keeps every byte that is not float32 weights as it is,
    stores float32 weights at 1/4 (uint8) or 1/2 (float16), and adds the
    quantization entry model.json gains per weight.
    """

    current_bytes: int
    float32_bytes: int
    float32_weights: int
    estimated_bytes: dict[str, int]


def estimate_quantization(model_json: Path) -> QuantizationEstimate:
    """Sizes of ``model_json``'s model quantized to uint8 and float16; raises ModelFileError."""
    manifest = read_manifest(model_json)
    current = sum(path.stat().st_size for path in manifest.files)
    document = json.loads(model_json.read_bytes())
    weights = sum(
        1
        for group in document.get("weightsManifest", [])
        for weight in group.get("weights", [])
        if weight.get("dtype") == "float32" and not weight.get("quantization")
    )
    estimated = {
        dtype: round(current - manifest.float32_bytes * (1 - fraction) + weights * QUANTIZATION_ENTRY_BYTES[dtype])
        for dtype, fraction in QUANTIZED_FRACTION.items()
    }
    return QuantizationEstimate(current, manifest.float32_bytes, weights, estimated)
