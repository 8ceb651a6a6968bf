"""Do full garbage collections land in the timed rounds, and what keeps them out?

The harness times each round with the collector on, as in production. With
TensorFlow imported a full (generation 2) collection walks the framework's
objects and every object the test session holds, and lands in whichever
round's allocations tip it over. ``measure/loads.py`` freezes the objects
held before the rounds (``gc.freeze()``), so collections in a round cover
what the rounds create. What they create is a dropped model each round: a
Keras model's graph holds reference cycles, so only a collection frees it,
and a full collection over the last rounds' models still lands in one round
of several (80 ms in a 500 ms load). The harness also collects between the
rounds, outside their times ("collected between"), which leaves each round
only the collections its own allocations trigger, as a model loaded once in
a server pays. This script loads the example MobileNetV2 ``.h5`` in fresh
processes, alternating the three ways (after one untimed load, like the
harness), and prints each round's process CPU time and the time spent in
full collections during it, then each way's median, max/min ratio and
spread between rounds (the interquartile range over the median).

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
#: "collected": the collector as it comes; "frozen": the objects held before the rounds frozen; "between":
#: frozen, and a collection before each round, outside its time (``measure/loads.py``).
WAYS = ("collected", "frozen", "between")


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
    if way in ("frozen", "between"):
        gc.freeze()
    cpu_ms, collection_ms = [], []
    for _ in range(rounds):
        if way == "between":
            gc.collect()
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
    print(f"{'way':9}  {'median cpu ms':>13}  {'max/min':>7}  {'IQR/median':>10}  rounds with a full collection")
    for way in WAYS:
        cpu = [value for values, _ in results[way] for value in values]
        hit = sum(1 for _, collections in results[way] for value in collections if value > 0)
        quartiles = statistics.quantiles(cpu, n=4)
        spread = (quartiles[2] - quartiles[0]) / statistics.median(cpu)
        print(f"{way:9}  {statistics.median(cpu):13.0f}  {max(cpu) / min(cpu):7.2f}  {spread:10.1%}  "
              f"{hit} of {len(cpu)}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
