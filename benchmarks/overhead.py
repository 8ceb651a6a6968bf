"""How far the plugin's load times are from the same loads timed bare, and what the harness costs.

For each example model this alternates blocks of bare loads (the framework call
alone, timed with ``time.perf_counter``) with blocks measured by the plugin
(``measure.time_loads`` on a ``LoadRequest`` from ``request.make_request``), in
one process, so machine noise falls on both. It prints the median bare load, the
median load the plugin reports, their ratio, and the harness's own time per
measured load: the wall time of ``time_loads`` minus its load and warm-up
samples, divided by its rounds (the young-generation collection, building the warm-up
input, bookkeeping).

The example models are built first if missing (about 30 s)::

    python benchmarks/overhead.py                    # every model
    python benchmarks/overhead.py --blocks 5 --rounds 5 mobilenetv2.keras
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Before TensorFlow is imported: its start-up logging would bury the table.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

import numpy as np

from pytest_loadbudget.measure.loads import time_loads
from pytest_loadbudget.model.identity import display_name
from pytest_loadbudget.model.request import AUTO
from pytest_loadbudget.session.resolve import make_request

# The example suite's builder, so that both measure the same files.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from build_models import ensure_models  # noqa: E402

#: Fast loads get more rounds per block: their medians need more samples to settle.
FAST_LOAD_MS = 50.0


# Bare loads: what a user would write, with nothing of the plugin in the way.
def _load_keras(path: Path) -> Any:
    import keras

    return keras.models.load_model(path)


def _load_savedmodel(path: Path) -> Any:
    import tensorflow as tf

    return tf.saved_model.load(str(path))


def _load_tflite(path: Path) -> Any:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def _load_tfjs_layers(path: Path) -> Any:
    from tensorflowjs.converters import load_keras_model

    return load_keras_model(str(path))


def _infer_keras(model: Any, batch: np.ndarray) -> Any:
    return np.asarray(model(batch, training=False))


def _infer_savedmodel(model: Any, batch: np.ndarray) -> Any:
    return np.asarray(model.serve(batch))


def _infer_tflite(interpreter: Any, batch: np.ndarray) -> Any:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


BARE: dict[str, tuple[Callable[[Path], Any], Callable[[Any, np.ndarray], Any]]] = {
    "keras": (_load_keras, _infer_keras),
    "h5": (_load_keras, _infer_keras),
    "savedmodel": (_load_savedmodel, _infer_savedmodel),
    "tflite": (_load_tflite, _infer_tflite),
    "tfjs-layers": (_load_tfjs_layers, _infer_keras),
}


@dataclass
class Result:
    name: str
    format: str
    bare_ms: list[float] = field(default_factory=list)
    plugin_ms: list[float] = field(default_factory=list)
    #: Harness time per measured load, one value per plugin block.
    harness_ms: list[float] = field(default_factory=list)


def targets(models: Any) -> list[tuple[Path, tuple[int, ...]]]:
    mobilenet_input = (1, 224, 224, 3)
    cnn_input = (1, 32, 32, 3)
    return [
        (models.mobilenet["keras"], mobilenet_input),
        (models.mobilenet["h5"], mobilenet_input),
        (models.mobilenet["savedmodel"], mobilenet_input),
        (models.mobilenet["tflite"], mobilenet_input),
        (models.mobilenet["tflite-quantized"], mobilenet_input),
        (models.cnn["keras"], cnn_input),
        (models.cnn_tfjs_layers, cnn_input),
    ]


def bare_block(path: Path, fmt: str, batch: np.ndarray, rounds: int) -> list[float]:
    load, infer = BARE[fmt]
    samples = []
    model: Any = None
    for _ in range(rounds):
        model = None  # as time_loads does: never two copies alive during a load
        start = time.perf_counter()
        model = load(path)
        samples.append((time.perf_counter() - start) * 1e3)
        # The warm-up is not timed but run, so that both sides do the same work between loads.
        infer(model, batch)
    return samples


def plugin_block(request: Any, rounds: int) -> tuple[list[float], float]:
    """Load samples of one time_loads call and its harness time per load, in ms."""
    start = time.perf_counter()
    model, timings = time_loads(request, rounds)
    wall_ms = (time.perf_counter() - start) * 1e3
    del model
    measured_ms = sum(timings.load_ms.values) + sum(timings.warm_ms.values)
    # The first load and warm-up run before the rounds, as in a bare loop's own warm-up: not harness time.
    measured_ms += (timings.first_load_ms or 0.0) + (timings.first_warm_ms or 0.0)
    return list(timings.load_ms.values), (wall_ms - measured_ms) / timings.load_ms.count


def benchmark(path: Path, input_shape: tuple[int, ...], blocks: int, rounds: int | None) -> Result:
    request = make_request(path, format=None, name=None, warmup=AUTO, files=None, options={}, base_dir=Path.cwd())
    fmt = request.format_name
    result = Result(request.name, fmt)
    batch = np.random.default_rng(0).uniform(-1, 1, input_shape).astype(np.float32)
    # One untimed load of each kind first: the first load in a process pays imports and
    # one-time registrations that neither side should be charged for.
    request.format.import_framework()
    bare_block(path, fmt, batch, 1)
    plugin_block(request, 1)
    if rounds is None:
        rounds = 10 if statistics.median(bare_block(path, fmt, batch, 3)) < FAST_LOAD_MS else 5
    for block in range(blocks):
        # Alternate which side goes first, so neither always follows the other's garbage.
        for side in ("bare", "plugin") if block % 2 == 0 else ("plugin", "bare"):
            if side == "bare":
                result.bare_ms.extend(bare_block(path, fmt, batch, rounds))
            else:
                samples, harness = plugin_block(request, rounds)
                result.plugin_ms.extend(samples)
                result.harness_ms.append(harness)
    return result


def gc_collect_ms() -> float:
    """Median time of a full collection with every framework of the run imported."""
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        gc.collect()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def format_ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def print_table(results: list[Result]) -> None:
    header = ("model", "format", "n", "bare ms", "plugin ms", "plugin/bare", "bare min", "plugin min",
              "harness ms/load")
    rows = []
    for r in results:
        bare, plugin = statistics.median(r.bare_ms), statistics.median(r.plugin_ms)
        rows.append((
            r.name, r.format, f"{len(r.bare_ms)}+{len(r.plugin_ms)}", format_ms(bare), format_ms(plugin),
            f"{plugin / bare:.3f}", format_ms(min(r.bare_ms)), format_ms(min(r.plugin_ms)),
            format_ms(statistics.median(r.harness_ms)),
        ))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    left = {0, 1}
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) if i in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model names to run (default: all), e.g. mobilenetv2.keras")
    parser.add_argument("--blocks", type=int, default=4, help="bare/plugin block pairs per model (default 4)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="loads per block (default 5, or 10 for loads under 50 ms)")
    args = parser.parse_args()

    warnings.simplefilter("ignore")  # TF warns on every tflite Interpreter; the plugin silences it too
    # Keras logs "no training configuration" on every .h5 load: stderr writes on both sides, and noise.
    logging.getLogger("absl").setLevel(logging.ERROR)
    models = ensure_models()
    chosen = [(p, s) for p, s in targets(models) if not args.models or display_name(p) in args.models]
    if not chosen:
        parser.error(f"no model named {args.models}; choose from {[display_name(p) for p, _ in targets(models)]}")

    results = []
    for path, shape in chosen:
        results.append(benchmark(path, shape, args.blocks, args.rounds))
        print(f"measured {results[-1].name}", file=sys.stderr, flush=True)
    collect_ms = gc_collect_ms()
    load1, load5, _ = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs, load average {load1:.2f} (1 min) {load5:.2f} (5 min); "
          "medians over every round; n = bare + plugin loads")
    print_table(results)
    print("plugin/bare: median load the plugin reports over the median bare load (1.0 = no distortion).")
    print("bare min, plugin min: the fastest load of each side, the figure least touched by other jobs.")
    print("harness ms/load: time_loads wall time minus every load and warm-up it timed (the first one included),")
    print("  per round (median of blocks): sample inputs, the young-generation collection, bookkeeping.")
    print(f"  (A full gc.collect() would cost {format_ms(collect_ms)} ms in this process now; the harness does not make one.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
