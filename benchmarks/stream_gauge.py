"""Which gauge sees a memory-bandwidth neighbour the way a model's load does?

Alternates phases without and with one neighbour copying 64 MiB arrays (the
trust benchmark's ``membw`` scenario) and, in each phase, repeats the plugin's
own load of the example small CNN (``.keras``) with each of the machine's
gauges as the plugin takes them: the speed workload's warmed reading and its
first run after each round (``speed.read()``: ``speed_ms``, ``refill_ms``), and
copies past the last-level cache before the phase's first load and after its
last (``speed.stream_readings()``: ``stream_ms``), all own time.
Prints each phase pair's medians and the neighbour's ratio for each: a gauge
that allows for the neighbour should move about as much as the load does,
and little when the host's speed changes (the speed workload's own ratio).

    python benchmarks/stream_gauge.py [--pairs 4] [--seconds 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from trust_load import neighbours  # noqa: E402

from pytest_loadbudget.measure import speed  # noqa: E402

FIGURES = ("load", "speed", "refill", "stream")


def phase(load, seconds: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Each figure's median over as many rounds as fit in ``seconds``."""
    readings: dict[str, list[float]] = {figure: [] for figure in FIGURES}
    # As the plugin takes them: the copies before the first load and after the last round (they flush the
    # cache), the speed workload after every round.
    readings["stream"].extend(speed.stream_readings())
    load()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readings["load"].append(speed.own_ms(load))
        reading = speed.read()
        readings["speed"].append(reading.speed_ms)
        readings["refill"].append(reading.refill_ms)
    readings["stream"].extend(speed.stream_readings())
    return {figure: statistics.median(values) for figure, values in readings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4, help="phase pairs, without then with the neighbour")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per phase")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "examples"))
    from build_models import ensure_models

    from pytest_loadbudget.formats import FORMATS

    path = ensure_models().cnn["keras"]
    loader = FORMATS["keras"]
    loader.import_framework()
    load = lambda: loader.load(path)  # noqa: E731
    load()  # the first load's one-time costs, untimed
    print(f"small CNN ({path.name}); copies of {speed._stream_bytes() >> 20} MiB; own time, medians in ms")
    print("| pair | " + " | ".join(f"{figure} alone | with neighbour | ratio" for figure in FIGURES) + " |")
    print("|---|" + "---|---|---|" * len(FIGURES))
    ratios: dict[str, list[float]] = {figure: [] for figure in FIGURES}
    for pair in range(1, args.pairs + 1):
        alone = phase(load, args.seconds)
        with neighbours("membw", 1, args.seconds + 30):
            crowded = phase(load, args.seconds)
        cells = []
        for figure in FIGURES:
            ratio = crowded[figure] / alone[figure]
            ratios[figure].append(ratio)
            cells.append(f"{alone[figure]:.2f} | {crowded[figure]:.2f} | {ratio:.2f}")
        print(f"| {pair} | " + " | ".join(cells) + " |", flush=True)
    print("neighbour's ratio, min-max: " + ", ".join(
        f"{figure} {min(values):.2f}-{max(values):.2f}" for figure, values in ratios.items()))


if __name__ == "__main__":
    main()
