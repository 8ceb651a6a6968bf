"""Can CI trust the regression gate? False alarms and detections, counted, next to pytest-benchmark's.

Baselines of four loads (MobileNetV2 ``.h5`` and ``.tflite``, the small CNN
``.keras``, a pure-Python loader doing fixed work) are saved on an idle
machine, after one unsaved run of each suite (``--warmup-runs``): the plugin
saves ``--baseline-runs`` runs (5, its default ``--loadbudget-baseline-runs``:
each model is judged against the run with the median load of the five);
pytest-benchmark, which compares with one saved run, saves the last of them.
Then each scenario reruns both suites N times against them (``trust_suite.py``):

- unchanged: idle; with busy processes = cores; with 2x cores; with one
  memory-bandwidth hog (``trust_load.py``). Every run flagged is a false
  alarm (goal 0/N).
- changed (``benchmarks/inject``, in every process): 1.2x CPU work; 1.5x by
  sleeping (I/O-like: only wall time grows); ``TF_NUM_INTRAOP_THREADS=1``
  plus 1.5x CPU work (an environment change, as an upgrade brings). Counted
  per model: runs where the load's regression was caught (goal N/N).
- optional (``--scenarios size-2x,leak``): 2x artifact size, a 20 MiB leak
  per cycle.

loadbudget runs ``pytest --loadbudget-compare`` with its defaults; a run is
flagged when a test failed. pytest-benchmark runs with
``--benchmark-compare-fail=median:10%``. The two alternate within each rerun,
so both see the same machine.

    python benchmarks/trustworthiness.py [--reruns 20] [--scenarios idle,cpu-1.2x] [--out table.md] [--keep]
                                         [--rounds auto] [--warmup-runs 1] [--baseline-runs 5]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from trust_load import neighbours
from trust_suite import MODELS, Mode, Verdicts, median_range, run_benchmark, run_loadbudget, write_suites

ROOT = Path(__file__).resolve().parent.parent
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Scenario:
    title: str
    env: dict[str, str] = field(default_factory=dict)
    #: The figure the injected change must trip; None for an unchanged scenario.
    expected: str | None = None
    #: Neighbours while it runs: (kind, how many).
    neighbours: tuple[str, int] | None = None
    #: Memory figures (a fresh process per model) only where the scenario moves them.
    memory: bool = False
    #: pytest-benchmark times loads only: it cannot see the change.
    benchmark: bool = True


SCENARIOS = {
    "idle": Scenario("unchanged, idle"),
    "busy": Scenario(f"unchanged, {CORES} busy processes (= cores)", neighbours=("cpu", CORES)),
    "busy-2x": Scenario(f"unchanged, {2 * CORES} busy processes (2x cores)", neighbours=("cpu", 2 * CORES)),
    "membw": Scenario("unchanged, one memory-bandwidth hog", neighbours=("membw", 1)),
    "cpu-1.2x": Scenario("1.2x CPU work", {"LOADBUDGET_INJECT_CPU": "1.2"}, "ms"),
    "sleep-1.5x": Scenario("1.5x by sleeping (I/O-like)", {"LOADBUDGET_INJECT_SLOWDOWN": "1.5"}, "ms"),
    "env-1.5x": Scenario("TF_NUM_INTRAOP_THREADS=1 + 1.5x CPU work",
                         {"TF_NUM_INTRAOP_THREADS": "1", "LOADBUDGET_INJECT_CPU": "1.5"}, "ms"),
    "size-2x": Scenario("2x artifact size", {"LOADBUDGET_INJECT_GROW": "2"}, "mb", benchmark=False),
    "leak": Scenario("20 MiB leak per cycle", {"LOADBUDGET_INJECT_LEAK_MB": "20"}, "leak_mb", memory=True,
                     benchmark=False),
}
DEFAULT_SCENARIOS = ["idle", "busy", "busy-2x", "membw", "cpu-1.2x", "sleep-1.5x", "env-1.5x"]
#: A bound on how long neighbours may run per rerun, should this script die without killing them.
SECONDS_PER_RERUN = 600


@dataclass
class Tally:
    """One tool's verdicts over the reruns of one scenario."""

    runs: int = 0
    flagged_runs: int = 0
    caught: dict[str, int] = field(default_factory=dict)
    #: Flags that were not the expected catch ("mobilenetv2.h5:warm_ms" -> runs).
    stray: dict[str, int] = field(default_factory=dict)
    changes: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lines: dict[str, str] = field(default_factory=dict)

    def add(self, verdicts: Verdicts, expected: str | None) -> None:
        if verdicts.error:
            self.errors.append(verdicts.error)
            return
        self.runs += 1
        self.flagged_runs += bool(verdicts.flagged)
        for label, figures in verdicts.flagged.items():
            if expected is not None and expected in figures:
                self.caught[label] = self.caught.get(label, 0) + 1
                figures = [f for f in figures if f != expected]
            for figure in figures:
                self.stray[f"{label}:{figure}"] = self.stray.get(f"{label}:{figure}", 0) + 1
        for label, change in verdicts.changes.items():
            self.changes.setdefault(label, []).append(change)
        self.lines.update(verdicts.lines)

    def cell(self, expected: str | None) -> str:
        """The table cell: runs flagged (unchanged) or caught per model (changed)."""
        if not self.runs:
            return f"error ({len(self.errors)} runs)" if self.errors else "-"
        if expected is None:
            text = f"{self.flagged_runs}/{self.runs}"
        else:
            text = ", ".join(f"{_short(label)} {self.caught.get(label, 0)}/{self.runs}" for label in MODELS)
        if self.stray:
            text += " (" + ("flagged: " if expected is None else "also: ")
            text += ", ".join(f"{_short(k)} x{v}" for k, v in sorted(self.stray.items())) + ")"
        if self.errors:
            text += f"; {len(self.errors)} runs failed to run"
        return text


def _flags(verdicts: Verdicts) -> str:
    """One run's verdicts in a few words, for the progress lines."""
    if verdicts.error:
        return "did not run"
    flags = " ".join(f"{_short(label)}:{','.join(figures)}" for label, figures in verdicts.flagged.items())
    return flags or "-"


def _short(label: str) -> str:
    return label.replace("mobilenetv2", "").replace("small_cnn.keras", "cnn").replace("python loader", "py")


@contextmanager
def _scenario_load(scenario: Scenario, reruns: int) -> Iterator[None]:
    if scenario.neighbours is None:
        yield
        return
    kind, count = scenario.neighbours
    with neighbours(kind, count, SECONDS_PER_RERUN * reruns):
        yield


def _environment(directory: Path) -> dict[str, str]:
    env = {**os.environ, "TMPDIR": str(directory), "TF_CPP_MIN_LOG_LEVEL": "3"}
    # The inject folder first: its sitecustomize and injected_work reach every process.
    paths = [str(ROOT / "benchmarks" / "inject"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    for name in ("LOADBUDGET_INJECT_CPU", "LOADBUDGET_INJECT_SLOWDOWN", "LOADBUDGET_INJECT_GROW",
                 "LOADBUDGET_INJECT_LEAK_MB", "TF_NUM_INTRAOP_THREADS"):
        env.pop(name, None)
    # The gate must run with its own defaults, whatever this shell has set.
    for name in [name for name in env if name.startswith("LOADBUDGET_") and not name.startswith("LOADBUDGET_INJECT")]:
        env.pop(name)
    return env


def _model_paths() -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "examples"))
    from build_models import ensure_models

    models = ensure_models()
    return {"h5": models.mobilenet["h5"], "tflite": models.mobilenet["tflite"], "keras": models.cnn["keras"]}


def _rounds(text: str) -> int | None:
    return None if text == "auto" else int(text)


def markdown(command: str, reruns: int, rows: list[tuple[str, Scenario, Tally, Tally, float]]) -> str:
    lines = [f"`{command}` ({CORES} cores, {reruns} reruns per scenario against idle baselines)", "",
             "| scenario | loadbudget flagged/caught | pytest-benchmark flagged/caught |", "| --- | --- | --- |"]
    for _, scenario, ours, theirs, _ in rows:
        bench = theirs.cell(scenario.expected) if scenario.benchmark else "(not measured)"
        lines.append(f"| {scenario.title} | {ours.cell(scenario.expected)} | {bench} |")
    lines += ["", "Load time change per model against the baseline, median [range] over the reruns:", "",
              "| scenario | model | loadbudget | pytest-benchmark |", "| --- | --- | --- | --- |"]
    for _, scenario, ours, theirs, _ in rows:
        for label in MODELS:
            lines.append(f"| {scenario.title} | {label} | {median_range(ours.changes.get(label, []))} | "
                         f"{median_range(theirs.changes.get(label, []))} |")
    lines += ["", "Seconds per scenario: " + ", ".join(f"{key} {seconds:.0f}" for key, _, _, _, seconds in rows)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--rounds", type=_rounds, default=None,
                        help="timed rounds per load, both tools; default 'auto': each tool's own default (the "
                             "plugin: at least 5, more while under 2 s; pytest-benchmark: its calibration)")
    parser.add_argument("--warmup-runs", type=int, default=1,
                        help="unsaved idle runs of both suites before the baselines are saved (default 1)")
    parser.add_argument("--baseline-runs", type=int, default=5,
                        help="idle runs the plugin saves as its baseline (default 5; pytest-benchmark saves the last)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    parser.add_argument("--keep", action="store_true", help="keep the suites, saved runs and reports; say where")
    args = parser.parse_args()
    keys = [key.strip() for key in args.scenarios.split(",") if key.strip()]
    unknown = [key for key in keys if key not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    # A SIGTERM (CI cancelling, a timeout) must still run the finally blocks that kill the neighbours.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = "python benchmarks/trustworthiness.py " + shlex.join(sys.argv[1:])
    directory = Path(tempfile.mkdtemp(prefix="loadbudget-trust-"))
    try:
        folder = directory / "suite"
        write_suites(folder, _model_paths(), args.rounds)
        base_env = _environment(directory)
        started = time.perf_counter()
        memory = any(SCENARIOS[key].memory for key in keys)
        # Unsaved runs first: on this machine the first run after a pause read 10-25% slower than
        # the next ones (code pages, caches): a baseline saved from it hides a 1.2x change.
        discard: Mode = "discard"
        saves = max(1, args.baseline_runs)
        plan: list[Mode] = [discard] * args.warmup_runs + ["save"] * saves
        for index, mode in enumerate(plan):
            theirs: Mode = "save" if index == len(plan) - 1 else discard
            for verdicts in (run_loadbudget(folder, f"{mode}-{index}", args.rounds, base_env, mode, memory),
                             run_benchmark(folder, f"{mode}-{index}", base_env, theirs)):
                if verdicts.error:
                    raise SystemExit(f"an idle run before the scenarios failed: {verdicts.error}")
        print(f"baselines saved, idle ({saves} run(s) of the plugin), after {args.warmup_runs} unsaved run(s), "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        rows = []
        for key in keys:
            scenario = SCENARIOS[key]
            env = {**base_env, **scenario.env}
            ours, theirs = Tally(), Tally()
            begun = time.perf_counter()
            with _scenario_load(scenario, args.reruns):
                for index in range(args.reruns):
                    rerun = time.perf_counter()
                    mine = run_loadbudget(folder, f"{key}-{index}", args.rounds, env, "compare", scenario.memory)
                    ours.add(mine, scenario.expected)
                    other = Verdicts()
                    if scenario.benchmark:
                        # pytest-benchmark judges one figure, the median load time.
                        other = run_benchmark(folder, f"{key}-{index}", env, "compare")
                        theirs.add(other, "median" if scenario.expected else None)
                    print(f"  {key} {index + 1}/{args.reruns}: loadbudget {_flags(mine)}; pytest-benchmark "
                          f"{_flags(other)} ({time.perf_counter() - rerun:.0f} s)", flush=True)
            seconds = time.perf_counter() - begun
            rows.append((key, scenario, ours, theirs, seconds))
            print(f"{scenario.title}: loadbudget {ours.cell(scenario.expected)}; "
                  f"pytest-benchmark {theirs.cell(scenario.expected) if scenario.benchmark else '-'} "
                  f"({seconds:.0f} s)", flush=True)
            for label, line in ours.lines.items():
                print(f"    last loadbudget line, {label}: {line}", flush=True)
            for error in (ours.errors + theirs.errors)[:1]:
                print(f"    first failed run: {error}", flush=True)
            if args.out is not None:
                # After every scenario: a run cut short still leaves the scenarios it finished.
                args.out.write_text(markdown(command, args.reruns, rows))
        table = markdown(command, args.reruns, rows)
        print("\n" + table)
        print(f"total {time.perf_counter() - started:.0f} s")
    finally:
        if args.keep:
            print(f"kept: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
