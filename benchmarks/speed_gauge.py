"""Does the speed gauge read the machine, or what the round before it did?

The harness runs a fixed workload after every timed round (``measure/speed.py``)
and reads a slower workload as a slower machine, allowing the load that much
more. A gauge that slows with the round's own work would read a regression
as a slower machine. This script times a pure-Python load (fixed work), then
one of three endings before the gauge, in rotation within each block so that
the machine's own slow and fast spells hit all of them alike:

- ``plain``: nothing; the gauge follows the load;
- ``clock loop``: 20% more work, spent in a loop reading the thread's CPU clock
  (how an injected CPU regression spins: a system call per iteration);
- ``pause``: 30 ms asleep, as a load waiting on I/O ends.

For each ending, the median reading of each gauge design: one cold run (the
old reading), warmed with one run then the faster of two, warmed with two
then the fastest of three (the harness's). Printed per block, then the ratio
of each ending's reading to ``plain``'s: a gauge that reads the machine
stays near 1.00.

    python benchmarks/speed_gauge.py [--blocks 4] [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_loadbudget.measure.speed import read, run_ms, workload  # noqa: E402


def fixed_load() -> None:
    """The trust benchmark's pure-Python loader: fixed CPU work, about 0.1 s."""
    table = {}
    for i in range(800_000):
        table[i & 4095] = (i * 2654435761) & 0xFFFFFFFF


def clock_loop(seconds: float) -> None:
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def warm_one_best_of_two() -> float:
    workload()
    return min(run_ms(), run_ms())


def speed_ms() -> float:
    return read().speed_ms


GAUGES = {"cold run": run_ms, "warm 1, best of 2": warm_one_best_of_two, "warm 2, best of 3": speed_ms}
ENDINGS = ("plain", "clock loop", "pause")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each ending per block")
    args = parser.parse_args()
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    print("block | ending | " + " | ".join(GAUGES) + " (median ms)")
    for block in range(args.blocks):
        readings: dict[tuple[str, str], list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for ending in ENDINGS:
                for gauge_name, gauge in GAUGES.items():
                    start = time.thread_time()
                    fixed_load()
                    if ending == "clock loop":
                        clock_loop(0.2 * (time.thread_time() - start))
                    elif ending == "pause":
                        time.sleep(0.03)
                    readings[ending, gauge_name].append(gauge())
        for ending in ENDINGS:
            medians = [statistics.median(readings[ending, name]) for name in GAUGES]
            print(f"{block} | {ending} | " + " | ".join(f"{value:.2f}" for value in medians))
            for name in GAUGES:
                ratios[ending, name].append(statistics.median(readings[ending, name])
                                            / statistics.median(readings["plain", name]))
    print("\nreading after each ending / after plain, median [range] over blocks:")
    for ending in ENDINGS[1:]:
        cells = []
        for name in GAUGES:
            values = ratios[ending, name]
            cells.append(f"{name} {statistics.median(values):.2f} [{min(values):.2f}..{max(values):.2f}]")
        print(f"{ending}: " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
