"""Amortization: N tests on one model load it once per session.

Runs a generated suite of N = 1, 10, 100 tests that all ask for the same
model, each in a fresh pytest process, and prints the suite's wall time, the
number of real loads the loader counted, and the time per test. With the
session cache the wall time grows with the tests (a few ms each), not with N
loads.

    python benchmarks/amortization.py [--load-seconds 0.5] [--rounds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SUITE = textwrap.dedent(
    """
    import time
    from pathlib import Path
    import pytest

    COUNTER = Path(__file__).with_name("loads.txt")

    def model():
        # Stands for a real load of LOAD_SECONDS; counts every real call.
        with COUNTER.open("a") as stream:
            stream.write("1")
        time.sleep(LOAD_SECONDS)
        return lambda x: x

    @pytest.mark.parametrize("n", range(N))
    @pytest.mark.load_budget(ms=60000)
    def test_uses_the_model(load_model, n):
        assert load_model(model)(n) == n
    """
)


def run_suite(n: int, load_seconds: float, rounds: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / "test_amortized.py").write_text(
            SUITE.replace("LOAD_SECONDS", repr(load_seconds)).replace("range(N)", f"range({n})")
        )
        start = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
             f"--loadbudget-rounds={rounds}", str(folder)],
            capture_output=True, text=True, cwd=folder,
        )
        wall = time.perf_counter() - start
        if completed.returncode != 0:
            raise SystemExit(completed.stdout + completed.stderr)
        loads = len((folder / "loads.txt").read_text())
    return wall, loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"one model, load {args.load_seconds:g} s, {args.rounds} timed rounds per session")
    print(f"{'tests':>6} {'wall s':>8} {'real loads':>11} {'without cache s':>16} {'ms/test beyond N=1':>19}")
    base = None
    for n in (1, 10, 100):
        wall, loads = run_suite(n, args.load_seconds, args.rounds)
        base = base if base is not None else wall
        uncached = wall + (n - 1) * args.rounds * args.load_seconds
        per_test = (wall - base) / (n - 1) * 1e3 if n > 1 else 0.0
        print(f"{n:>6} {wall:>8.2f} {loads:>11} {uncached:>16.1f} {per_test:>19.1f}")


if __name__ == "__main__":
    main()
