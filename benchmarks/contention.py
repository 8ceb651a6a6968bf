"""What busy neighbours do to a load's wall time, and what own time keeps of it.

Loads a model round after round with 0, 2 and 4 CPU-bound neighbour processes
(``python -c "while True: pass"``, started before each block, killed after it
and at exit) and prints, per block, the medians of

- wall: ``time.perf_counter`` around the load, as the plugin times it;
- wait: the loading thread's run-queue wait (``/proc/thread-self/schedstat``);
- own: wall - wait, what budgets judge by default (``measure/clock.py``);
- all-threads wait: the same wait summed over every thread of the process:
  the figure *not* subtracted, because helper threads waiting side by side
  add up to more than the wall time of the load;
- CPU: ``time.process_time`` over the round (every thread of the process).

The loads: MobileNetV2 ``.h5`` (``keras.applications.MobileNetV2(weights=None)``,
saved to a temporary directory, loaded through the plugin's own format) and a
pure-Python loader doing fixed CPU work. Linux only (schedstat)::

    python benchmarks/contention.py                        # 7 rounds, 0 / 2 / 4 neighbours
    python benchmarks/contention.py --rounds 9 --hogs 0 2 4 8 --only python
"""

from __future__ import annotations

import argparse
import atexit
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pytest_loadbudget.measure import clock  # noqa: E402

#: Iterations of the pure-Python loader: about 0.3 s of one core here.
FIXED_WORK = 3_000_000
NEIGHBOURS: list[subprocess.Popen[bytes]] = []


def fixed_work() -> int:
    total = 0
    for index in range(FIXED_WORK):
        total += index * index % 7
    return total


def mobilenet_h5(directory: Path) -> Callable[[], Any]:
    import keras

    from pytest_loadbudget.model.request import AUTO
    from pytest_loadbudget.session.resolve import make_request

    path = directory / "mobilenetv2.h5"
    keras.applications.MobileNetV2(weights=None).save(path)
    request = make_request(path, format=None, name=None, warmup=AUTO, files=None, options={}, base_dir=directory)
    request.format.import_framework()
    return request.load


def start_neighbours(count: int) -> None:
    for _ in range(count):
        NEIGHBOURS.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    time.sleep(0.5)  # let them reach the loop: the block should see them from its first round


def stop_neighbours() -> None:
    while NEIGHBOURS:
        process = NEIGHBOURS.pop()
        process.kill()
        process.wait()


def block(load: Callable[[], Any], rounds: int) -> dict[str, list[float]]:
    """Rounds of ``load``; each figure's samples in ms."""
    figures: dict[str, list[float]] = {"wall": [], "wait": [], "own": [], "all_wait": [], "cpu": []}
    model: Any = None
    for _ in range(rounds):
        model = None  # as the plugin does: never two copies alive during a load
        start, all_start = clock.stamp(), clock.process_schedstat()
        model = load()
        all_end, end = clock.process_schedstat(), clock.end_stamp()
        span = clock.span(start, end)
        if span.wait_ms is None or span.own_ms is None or all_start is None or all_end is None:
            raise SystemExit("no /proc/thread-self/schedstat here: this benchmark needs Linux")
        figures["wall"].append(span.wall_ms)
        figures["wait"].append(span.wait_ms)
        figures["own"].append(span.own_ms)
        figures["all_wait"].append((all_end.wait_ns - all_start.wait_ns) / 1e6)
        figures["cpu"].append(span.cpu_ms)
    del model
    return figures


def ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hogs", type=int, nargs="+", default=[0, 2, 4], help="neighbour processes per block")
    parser.add_argument("--only", choices=("h5", "python"), help="one of the two loads")
    args = parser.parse_args(argv)
    if clock.thread_schedstat() is None:
        print("no /proc/thread-self/schedstat here: this benchmark needs Linux", file=sys.stderr)
        return 2
    atexit.register(stop_neighbours)
    header = ("load", "neighbours", "wall", "wait", "wall - wait (own)", "all-threads wait", "CPU")
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as directory:
        loads: dict[str, Callable[[], Any]] = {}
        if args.only in (None, "h5"):
            loads["MobileNetV2 .h5"] = mobilenet_h5(Path(directory))
        if args.only in (None, "python"):
            loads["pure-Python fixed work"] = fixed_work
        for name, load in loads.items():
            block(load, 1)  # the first load pays one-time costs: not part of any block
            for hogs in args.hogs:
                start_neighbours(hogs)
                try:
                    figures = block(load, args.rounds)
                finally:
                    stop_neighbours()
                medians = {key: statistics.median(values) for key, values in figures.items()}
                rows.append((name, str(hogs), *(f"{ms(medians[key])} ms" for key in
                                                  ("wall", "wait", "own", "all_wait", "cpu"))))
                print(f"{name}, {hogs} neighbours: done", file=sys.stderr)
    print(f"medians of {args.rounds} loads per block, {os.cpu_count()} CPUs")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
