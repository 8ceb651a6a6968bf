"""What the cold-start harness adds to a cold load, against the same load written bare.

For each model this alternates two kinds of fresh process, so that machine
noise falls on both alike:

- bare: ``python -c "import keras; ...; m = keras.models.load_model(p); m(x)"``,
  the load a user would write, stamping ``time.monotonic_ns`` after the import,
  the load and the first call;
- harness: ``cold.measure_cold(request, runs=1)``, a
  ``python -m pytest_loadbudget.fresh.cold_child`` process.

Both start from the parent's clock at spawn, so the phases compare one to one.
It prints each phase's median for both and the difference: start-up carries
the harness's own imports, read is a phase the bare load does inside its load,
and the cold total shows what the harness costs in all.

MobileNetV2 (``weights=None``: nothing is downloaded) is exported to a
temporary directory first, unless model paths are given::

    python benchmarks/cold_overhead.py                    # .keras, .h5, SavedModel, .tflite
    python benchmarks/cold_overhead.py --runs 3 model.keras
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Before TensorFlow is imported anywhere: its start-up logging would bury the table.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pytest_loadbudget.fresh.cold import measure_cold  # noqa: E402
from pytest_loadbudget.model.request import AUTO  # noqa: E402
from pytest_loadbudget.session.resolve import make_request  # noqa: E402

_KERAS = """
import keras, numpy as np
t1 = time.monotonic_ns()
m = keras.models.load_model(P)
t2 = time.monotonic_ns()
x = np.zeros((1,) + tuple(m.inputs[0].shape[1:]), "float32")
t3 = time.monotonic_ns()
np.asarray(m(x, training=False))
"""
_SAVEDMODEL = """
import tensorflow as tf, numpy as np
t1 = time.monotonic_ns()
m = tf.saved_model.load(P)
t2 = time.monotonic_ns()
f = m.signatures["serving_default"]
_, specs = f.structured_input_signature
x = {k: np.zeros([1 if d is None else d for d in s.shape.as_list()], s.dtype.as_numpy_dtype) for k, s in specs.items()}
t3 = time.monotonic_ns()
{k: v.numpy() for k, v in f(**x).items()}
"""
_TFLITE = """
import tensorflow as tf, numpy as np
t1 = time.monotonic_ns()
m = tf.lite.Interpreter(model_path=P)
m.allocate_tensors()
t2 = time.monotonic_ns()
d = m.get_input_details()[0]
x = np.zeros(d["shape"], d["dtype"])
t3 = time.monotonic_ns()
m.set_tensor(d["index"], x); m.invoke(); m.get_tensor(m.get_output_details()[0]["index"])
"""
BARE = {"keras": _KERAS, "h5": _KERAS, "savedmodel": _SAVEDMODEL, "tflite": _TFLITE}
ROWS = ("startup", "import", "read", "load", "first_call", "total")


def bare_run(path: Path, fmt: str) -> dict[str, float]:
    """Phases of one bare fresh process, in ms, from the parent's clock at spawn."""
    code = (
        "import time\nt0 = time.monotonic_ns()\n"
        f"P = {str(path)!r}\n" + BARE[fmt] + "t4 = time.monotonic_ns()\nprint(t0, t1, t2, t3, t4, flush=True)\n"
    )
    spawn = time.monotonic_ns()
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"bare load of {path} failed:\n{completed.stderr[-2000:]}")
    t0, t1, t2, t3, t4 = (int(value) for value in completed.stdout.split()[-5:])
    return {
        "startup": (t0 - spawn) / 1e6,
        "import": (t1 - t0) / 1e6,
        "read": 0.0,
        "load": (t2 - t1) / 1e6,
        "first_call": (t4 - t3) / 1e6,
        "total": (t2 - spawn + t4 - t3) / 1e6,
    }


def harness_run(path: Path) -> dict[str, float]:
    request = make_request(path, format=None, name=None, warmup=AUTO, files=None, options={}, base_dir=Path.cwd())
    run = measure_cold(request, runs=1, steady_calls=0, reloads=0, graph=False).runs[0]
    return {
        "startup": run.startup_ms,
        "import": run.import_ms,
        "read": run.read_ms,
        "load": run.load_ms,
        "first_call": run.first_call_ms or 0.0,
        "total": run.total_ms,
    }


def build_mobilenet(directory: Path) -> list[Path]:
    import keras

    from pytest_loadbudget.export import export_formats

    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    paths = export_formats(model, directory, stem="mobilenetv2", formats=("keras", "h5", "savedmodel", "tflite"))
    return [paths[name] for name in ("keras", "h5", "savedmodel", "tflite")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="model paths (default: MobileNetV2 in four formats)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes of each kind per model (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cold-overhead-") as scratch:
        models = args.models
        if not models:
            print("exporting MobileNetV2 (weights=None) to a temporary directory...", file=sys.stderr, flush=True)
            # In a child process: the TensorFlow it imports would otherwise stay in this one for nothing.
            build = (
                f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from pathlib import Path; "
                f"from cold_overhead import build_mobilenet; build_mobilenet(Path({scratch!r}))"
            )
            subprocess.run([sys.executable, "-c", build], check=True)
            models = [Path(scratch) / name for name in
                      ("mobilenetv2.keras", "mobilenetv2.h5", "mobilenetv2_savedmodel", "mobilenetv2.tflite")]
        for path in models:
            fmt = make_request(path, format=None, name=None, warmup=AUTO, files=None, options={}, base_dir=Path.cwd())
            bare: list[dict[str, float]] = []
            harness: list[dict[str, float]] = []
            for index in range(args.runs):
                print(f"{path.name}: run {index + 1}/{args.runs}", file=sys.stderr, flush=True)
                # Alternate which goes first, so that neither always follows the other's page-cache and CPU state.
                for kind in ("bare", "harness") if index % 2 == 0 else ("harness", "bare"):
                    if kind == "bare":
                        bare.append(bare_run(path, fmt.format_name))
                    else:
                        harness.append(harness_run(path))
            report(path, fmt.format_name, bare, harness)
    return 0


def report(path: Path, fmt: str, bare: list[dict[str, float]], harness: list[dict[str, float]]) -> None:
    print(f"\n{path.name} [{fmt}], {len(bare)} fresh processes each, medians in ms")
    print(f"  {'phase':<11}{'bare':>9}{'harness':>9}{'diff':>9}")
    for row in ROWS:
        b = statistics.median(run[row] for run in bare)
        h = statistics.median(run[row] for run in harness)
        print(f"  {row:<11}{b:>9.1f}{h:>9.1f}{h - b:>+9.1f}")
    bare_total = statistics.median(run["total"] for run in bare)
    overhead = [h["total"] - statistics.median(run["total"] for run in bare) for h in harness]
    print(f"  harness overhead on the cold total: {statistics.median(overhead):+.0f} ms "
          f"({100 * statistics.median(overhead) / bare_total:+.1f}%), "
          f"range {min(overhead):+.0f} .. {max(overhead):+.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
