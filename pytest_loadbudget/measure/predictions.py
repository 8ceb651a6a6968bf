"""Per-prediction growth of a model loaded in the test process.

The warm model is called ``count`` times on its warm-up input (the format's
inference, which reads the outputs back to host memory), each result dropped
at once, as a serving loop that keeps nothing does. Resident memory is read
after each call; live tensors, which cost a walk over every object of the
process, before the first and after the last only.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from pytest_loadbudget.measure.devices import placed
from pytest_loadbudget.measure.rss import current_rss, release_free_heap
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.predictions import PredictionGrowth

#: The tensor type of each framework whose tensors are counted, where that framework is imported already.
TENSOR_TYPES = {"tensorflow": "Tensor", "torch": "Tensor"}


def live_tensors() -> int | None:
    """TensorFlow and PyTorch tensors alive as Python objects; None where neither framework is imported.

    Frameworks are never imported here: a model that does not use one has none of its tensors.
    """
    types = tuple(
        getattr(module, name) for package, name in TENSOR_TYPES.items()
        if (module := sys.modules.get(package)) is not None and isinstance(getattr(module, name, None), type)
    )
    if not types:
        return None
    return sum(1 for item in gc.get_objects() if isinstance(item, types))


def _settled_rss() -> int | None:
    # A collection frees outputs caught in reference cycles, and malloc_trim
    # returns freed heap pages, so that only what is still held reads as growth.
    gc.collect()
    release_free_heap()
    return current_rss()


def measure_prediction_growth(request: LoadRequest, model: Any, count: int, where: str) -> PredictionGrowth:
    """``count`` predictions on ``model`` (warm, loaded from ``request``) and what each left behind.

    ``where``: the record's runtime label. The predictions use the request's
    warm-up input; without one, the growth says so in its ``note``.
    """
    growth = PredictionGrowth(count=count, where=where)
    with placed(request.format_name, request.device):
        predict = request.warm_up_call(model)
        if predict is None:
            growth.note = "no input to predict with: pass warmup=<an input batch> to load_model"
            return growth
        before = _settled_rss()
        tensors_before = live_tensors()
        rss = [before] if before is not None else []
        for index in range(count):
            predict()  # the outputs, read back, are dropped at once
            reading = _settled_rss() if index == count - 1 else current_rss()
            if reading is not None and rss:
                rss.append(reading)
        tensors_after = live_tensors()
    growth.rss_bytes = rss
    if tensors_before is not None and tensors_after is not None:
        growth.tensors = [tensors_before, tensors_after]
    return growth
