"""Do full garbage collections land in the timed rounds, and does freezing the session's objects stop them?

The harness times each round with the collector on, as in production. With
TensorFlow imported a full (generation 2) collection walks the framework's
objects and every object the test session holds, and lands in whichever
round's allocations tip it over. ``measure/loads.py`` freezes the objects
held before the rounds (``gc.freeze()``), so collections in a round cover
what the rounds create. This script loads the example MobileNetV2 ``.h5``
in fresh processes, alternating the two ways (after one untimed load, like
the harness), and prints each round's process CPU time and the time spent in
full collections during it, then each way's median and max/min ratio.

    python benchmarks/gc_rounds.py [--processes 2] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYS = ("collected", "frozen")


def child(model: str, rounds: int, way: str) -> None:
    import gc
    import time

    import keras

    keras.models.load_model(model, compile=False)  # the untimed first load
    in_full_collections = [0.0]
    started: list[float] = []

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started.append(time.process_time())
        elif started:
            in_full_collections[0] += time.process_time() - started.pop()

    gc.callbacks.append(on_collection)
    gc.collect(1)
    if way == "frozen":
        gc.freeze()
    cpu_ms, collection_ms = [], []
    for _ in range(rounds):
        in_full_collections[0] = 0.0
        start = time.process_time()
        model_object = keras.models.load_model(model, compile=False)
        cpu_ms.append(round((time.process_time() - start) * 1e3))
        collection_ms.append(round(in_full_collections[0] * 1e3))
        del model_object
    print(json.dumps({"way": way, "cpu_ms": cpu_ms, "collection_ms": collection_ms}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="fresh processes per way (default 2)")
    parser.add_argument("--rounds", type=int, default=10, help="timed loads per process (default 10)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "examples"))
    from build_models import ensure_models

    model = str(ensure_models().mobilenet["h5"])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    results: dict[str, list[tuple[list[int], list[int]]]] = {way: [] for way in WAYS}
    for _ in range(args.processes):
        for way in WAYS:
            output = subprocess.run([sys.executable, __file__, "--child", model, str(args.rounds), way],
                                    capture_output=True, text=True, check=True, env=env).stdout
            figures = json.loads(output.strip().splitlines()[-1])
            results[way].append((figures["cpu_ms"], figures["collection_ms"]))
            print(f"{way:9}  cpu ms per round {figures['cpu_ms']}  in full collections {figures['collection_ms']}")
    print()
    print(f"{'way':9}  {'median cpu ms':>13}  {'max/min':>7}  rounds with a full collection")
    for way in WAYS:
        cpu = [value for values, _ in results[way] for value in values]
        hit = sum(1 for _, collections in results[way] for value in collections if value > 0)
        print(f"{way:9}  {statistics.median(cpu):13.0f}  {max(cpu) / min(cpu):7.2f}  {hit} of {len(cpu)}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
