"""How the paired gate judges unchanged and regressed models, rerun by rerun, idle and beside busy processes.

For each model it builds four artifacts: the baseline, an equivalent re-save
(the same weights, one layer renamed: other bytes, the same work), and the
same architecture with more Dense(64) layers (about 1.1x and 1.2x the load,
measured here). Each rerun judges one candidate against the baseline the way
``--loadbudget-against`` does (``paired/pairs.py``, ``paired/verdict.py``):
balanced AB/BA pairs in blocks of 11, 21, 41, ... until every figure is
decided or the time budget runs out. It prints per scenario and candidate how
often the load was called a regression, left undecided or passed, the
median ratio, and the pairs and seconds it took::

    python benchmarks/paired_gate.py --reruns 5 --scenarios idle,busy2 --models keras,tflite

Scenarios: ``idle``; ``busy2``: two processes spinning on the two cores for
the whole scenario (4 runnable threads on this 2-core machine); ``membw``: one
process copying 256 MiB buffers (the memory bus). Goals: no unchanged
candidate ever called a regression; 1.2x caught every time; 1.1x caught idle
and beside two busy processes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_loadbudget.paired.pairs import measure_pairs  # noqa: E402
from pytest_loadbudget.paired.verdict import DEFAULT_PAIRED_FACTOR, decide  # noqa: E402
from pytest_loadbudget.session.resolve import make_request  # noqa: E402

#: Dense(64) layers added for each candidate: measured here as about 1.1x and 1.2x the load.
CANDIDATES = {"keras": {"1.1x": 10, "1.2x": 25}, "tflite": {"1.1x": 40, "1.2x": 80}}


def build(directory: Path, kind: str) -> dict[str, Path]:
    import keras

    def model(extra: int, head: str) -> Any:
        keras.utils.set_random_seed(0)
        base = keras.applications.MobileNetV2(weights=None, include_top=False, pooling="avg",
                                              input_shape=(224, 224, 3))
        x = base.output
        for index in range(extra):
            x = keras.layers.Dense(64, name=f"extra_{index}")(x)
        return keras.Model(base.input, keras.layers.Dense(10, name=head)(x))

    paths = {}
    variants = {"baseline": (0, "head"), "re-saved": (0, "renamed_head"),
                **{label: (extra, "head") for label, extra in CANDIDATES[kind].items()}}
    for label, (extra, head) in variants.items():
        path = directory / f"{kind}-{label}.{kind}"
        if not path.exists():
            built = model(extra, head)
            if label == "re-saved":
                built.set_weights(model(0, "head").get_weights())
            if kind == "keras":
                built.save(path)
            else:
                import tensorflow as tf

                path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(built).convert())
        paths[label] = path
    return paths


def spin() -> None:
    while True:
        pass


def copy_memory() -> None:
    import numpy as np

    source = np.ones(256 * 2**20 // 8)
    target = np.empty_like(source)
    while True:
        np.copyto(target, source)


def start_scenario(name: str) -> list[multiprocessing.Process]:
    workers = {"idle": [], "busy2": [spin, spin], "membw": [copy_memory]}[name]
    processes = [multiprocessing.Process(target=target, daemon=True) for target in workers]
    for process in processes:
        process.start()
    time.sleep(1.0 if processes else 0.0)
    return processes


def judge_once(baseline: Path, candidate: Path, seconds: float) -> tuple[str, float, int, float]:
    kwargs: dict[str, Any] = {"format": None, "name": None, "warmup": None, "files": None, "options": {},
                              "base_dir": ROOT}
    a, b = make_request(str(baseline), **kwargs), make_request(str(candidate), **kwargs)

    def decided(pairs: Any) -> bool:
        found = pairs.estimate("ms")
        return found is not None and decide(found, DEFAULT_PAIRED_FACTOR) != "undecided"

    pairs = measure_pairs(a, b, wall_clock=False, seconds=seconds, decided=decided)
    found = pairs.estimate("ms")
    assert found is not None
    return decide(found, DEFAULT_PAIRED_FACTOR), found.ratio, found.n, pairs.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--scenarios", default="idle,busy2")
    parser.add_argument("--models", default="keras,tflite")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget of one model's pairs")
    parser.add_argument("--models-dir", default=str(Path(tempfile.gettempdir()) / "loadbudget-paired-models"))
    args = parser.parse_args(argv)
    directory = Path(args.models_dir)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in args.models.split(","):
        paths = build(directory, kind)
        for scenario in args.scenarios.split(","):
            processes = start_scenario(scenario)
            try:
                for label in ("re-saved", *CANDIDATES[kind]):
                    outcomes: Counter[str] = Counter()
                    ratios, counts, seconds = [], [], []
                    for _ in range(args.reruns):
                        outcome, ratio, n, spent = judge_once(paths["baseline"], paths[label], args.seconds)
                        outcomes[outcome] += 1
                        ratios.append(ratio)
                        counts.append(n)
                        seconds.append(spent)
                    rows.append((kind, scenario, label, outcomes, ratios, counts, seconds))
                    print(f"{kind} {scenario} {label}: {dict(outcomes)} ratios "
                          f"{min(ratios):.3f}..{max(ratios):.3f}", file=sys.stderr, flush=True)
            finally:
                for process in processes:
                    process.terminate()
    print(f"| model | scenario | candidate | regression / undecided / ok of {args.reruns} | ratio (min..max) "
          "| pairs (median, max) | seconds (median, max) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind, scenario, label, outcomes, ratios, counts, seconds in rows:
        print(f"| MobileNetV2 .{kind} | {scenario} | {label} | {outcomes['regression']} / {outcomes['undecided']} / "
              f"{outcomes['ok']} | {min(ratios):.3f}..{max(ratios):.3f} | {statistics.median(counts):.0f}, "
              f"{max(counts)} | {statistics.median(seconds):.1f}, {max(seconds):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
