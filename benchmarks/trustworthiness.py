"""Is the regression gate trustworthy? False alarms and detections, counted.

Saves one baseline of (a part of) the example suite, then runs the suite
again and again against it:

- unchanged: N reruns; every regression flagged is a false alarm (goal 0);
- 1.5x slower loads, 2x larger artifacts, a 20 MiB-per-cycle leak, each
  injected in N runs (benchmarks/inject/sitecustomize.py, in the pytest
  process and the fresh processes alike): runs where the gate caught it
  (goal N/N).

Each run is a fresh ``pytest examples`` process with its own --loadbudget-json;
a run counts as flagged when any model has a regression in the JSON.

    python benchmarks/trustworthiness.py [--reruns 20] [-k EXPR] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Small enough for 80 runs in reasonable time, and one model of each speed
#: class: a 300 ms HDF5 load, a 3 ms TFLite load, a 40 ms Keras load with memory figures.
DEFAULT_SELECTION = "test_mobilenet_formats and (h5 or tflite) and not quantized or test_small_cnn_keras"
SCENARIOS = {
    "unchanged": {},
    "1.5x slower load": {"LOADBUDGET_INJECT_SLOWDOWN": "1.5"},
    "2x size": {"LOADBUDGET_INJECT_GROW": "2"},
    "20 MiB leak per cycle": {"LOADBUDGET_INJECT_LEAK_MB": "20"},
}
#: The figure each injection must trip.
EXPECTED = {"1.5x slower load": "ms", "2x size": "mb", "20 MiB leak per cycle": "leak_mb"}


def run_suite(storage: Path, selection: str, rounds: str, extra: list[str], env: dict[str, str],
              report: Path, memory: bool = True) -> dict:
    command = [
        sys.executable, "-m", "pytest", "examples", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        "-k", selection, f"--loadbudget-rounds={rounds}", f"--loadbudget-storage={storage}",
        f"--loadbudget-memory={'all' if memory else 'budget'}", f"--loadbudget-json={report}", *extra,
    ]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if not report.exists():
        raise SystemExit(f"the run wrote no report:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return json.loads(report.read_text())


def regressions(document: dict) -> dict[str, list[str]]:
    """Figures flagged as regressions, by model name."""
    flagged: dict[str, list[str]] = {}
    for model in document["models"]:
        figures = [c["figure"] for c in model.get("comparisons", []) if c["regression"]]
        if figures:
            flagged[model["name"]] = figures
    return flagged


def _load_change(model: dict) -> str:
    """The load's change against the baseline as the comparison line gives it (+12%)."""
    for comparison in model.get("comparisons", []):
        if comparison["figure"] == "ms":
            change = comparison["line"].split("(", 1)[1].split(",", 1)[0]
            return change + ("!" if comparison["regression"] else "")
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("-k", dest="selection", default=DEFAULT_SELECTION)
    parser.add_argument("--rounds", default="auto", help="timed rounds per model (default: the plugin's adaptive rounds)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="run only these")
    args = parser.parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        storage = folder / "runs"
        base_env = {**os.environ, "TMPDIR": directory, "TF_CPP_MIN_LOG_LEVEL": "3"}
        base_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "benchmarks" / "inject"),
                                                              os.environ.get("PYTHONPATH")]))
        started = time.perf_counter()
        baseline = run_suite(storage, args.selection, args.rounds, ["--loadbudget-save=baseline"], base_env,
                             folder / "baseline.json")
        names = [model["name"] for model in baseline["models"]]
        print(f"baseline: {len(names)} models ({', '.join(names)}), rounds {args.rounds}, "
              f"{time.perf_counter() - started:.0f} s")
        print(f"{'scenario':<24} {'runs flagged':>13}  per model (runs where the expected figure regressed)")
        for scenario in scenarios:
            env = {**base_env, **SCENARIOS[scenario]}
            flagged_runs = 0
            caught: dict[str, int] = {name: 0 for name in names}
            false_figures: dict[str, int] = {}
            changes: list[dict[str, str]] = []
            for index in range(args.reruns):
                # Memory figures cost a fresh process per model: taken where a scenario can move them.
                memory = scenario in ("unchanged", "20 MiB leak per cycle")
                document = run_suite(storage, args.selection, args.rounds, ["--loadbudget-compare=baseline"], env,
                                     folder / f"{scenario.split()[0]}-{index}.json", memory=memory)
                changes.append({m["name"]: _load_change(m) for m in document["models"]})
                found = regressions(document)
                flagged_runs += bool(found)
                for name, figures in found.items():
                    if scenario in EXPECTED and EXPECTED[scenario] in figures:
                        caught[name] += 1
                    for figure in figures:
                        if scenario == "unchanged" or figure != EXPECTED.get(scenario):
                            false_figures[f"{name}:{figure}"] = false_figures.get(f"{name}:{figure}", 0) + 1
            if scenario == "unchanged":
                detail = "false alarms: " + (", ".join(f"{k} x{v}" for k, v in false_figures.items()) or "none")
            else:
                detail = ", ".join(f"{name} {count}/{args.reruns}" for name, count in caught.items())
                if false_figures:
                    detail += "; also flagged: " + ", ".join(f"{k} x{v}" for k, v in false_figures.items())
            print(f"{scenario:<24} {flagged_runs:>6}/{args.reruns:<6}  {detail}", flush=True)
            for name in names:
                seen = [run[name] for run in changes if run.get(name)]
                print(f"{'':<24} {'':>13}  {name} load change per run: {' '.join(seen)}", flush=True)
        print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
