"""``loadbudget profile PATH``: a model's cold start and what to do about it, without a test.

    loadbudget profile models/classifier.keras [--runs 3] [--cold-disk] [--format keras]
    loadbudget profile models/detector.tflite [--interpreter litert|tensorflow|tflite-runtime]

Loads the model in ``--runs`` fresh interpreters and prints each phase
(median [min .. max]), the load as a multiple of this machine's read floor,
the peak memory, the frameworks the cold start imported, and the advice from
``diagnose``. A .tflite model names its interpreter (the first installed
unless ``--interpreter`` says which). Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from pytest_loadbudget.diagnose.advice import Advice
from pytest_loadbudget.diagnose.figures import Figures
from pytest_loadbudget.diagnose.rules import diagnose
from pytest_loadbudget.errors import LoadBudgetError
from pytest_loadbudget.formats import FORMATS
from pytest_loadbudget.formats.graph_stats import graph_stats
from pytest_loadbudget.formats.tfjs_quantization import estimate_quantization
from pytest_loadbudget.formats.tflite_interpreters import INTERPRETERS
from pytest_loadbudget.fresh.cold import DEFAULT_RUNS, measure_cold
from pytest_loadbudget.fresh.protocol import DEFAULT_TIMEOUT_S, NotReplayable
from pytest_loadbudget.measure.floor import Bandwidth, read_bandwidth
from pytest_loadbudget.model.request import AUTO
from pytest_loadbudget.results.cold_profile import ColdProfile, add_up_tolerance_ms
from pytest_loadbudget.results.phases import PHASE_LABELS, PHASES
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.session.resolve import make_request
from pytest_loadbudget.settings import positive_int, positive_seconds
from pytest_loadbudget.units import format_mib, format_ms

PROFILE_FORMATS = [name for name in FORMATS if name != "callable"]


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", help="the model: a .keras/.h5/.tflite file, a SavedModel directory or a TF.js model.json",
    )
    parser.add_argument("--runs", type=positive_int, default=DEFAULT_RUNS,
                        help="fresh processes to load it in (default %(default)s)")
    parser.add_argument("--cold-disk", action="store_true",
                        help="evict the model's files from the page cache before each run (best effort)")
    parser.add_argument("--format", choices=PROFILE_FORMATS, help="the format, where the path does not tell")
    parser.add_argument("--interpreter", choices=list(INTERPRETERS),
                        help="what runs a .tflite model (default: the first installed of %(choices)s)")
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
                        help="seconds each fresh process may take (default %(default)g)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures and the advice to FILE as JSON")


def _progress(text: str) -> None:
    print(f"loadbudget profile: {text}", file=sys.stderr, flush=True)


def run_profile(args: argparse.Namespace) -> int:
    """The ``profile`` subcommand; returns the exit code (2 when it could not measure)."""
    try:
        return _profile(args)
    except (LoadBudgetError, NotReplayable, OSError) as error:
        print(f"loadbudget profile: {error}", file=sys.stderr)
        return 2


def _profile(args: argparse.Namespace) -> int:
    request = make_request(
        args.path, format=args.format, name=None, warmup=AUTO, files=None, options={}, base_dir=Path.cwd(),
        interpreter=args.interpreter,
    )
    assert request.path is not None  # made from a path
    fmt = request.format
    files = fmt.artifact_files(request.path)
    size = sum(path.stat().st_size for path in files)
    figures = Figures(name=request.name, format=request.format_name, size_bytes=size, interpreter=request.interpreter)
    if request.format_name.startswith("tfjs"):
        figures.quantization = estimate_quantization(files[0])
    _progress(f"measuring this machine's read bandwidth ({format_mib(64 << 20)} temp file)...")
    figures.bandwidth = read_bandwidth()
    print(f"{request.name} [{request.format_name}]: {format_mib(size)} in {len(files)} file(s)")
    if request.interpreter:
        print(f"interpreter: {request.interpreter_label} (the import phase imports {fmt.framework})")
    if fmt.loadable:
        figures.cold = measure_cold(
            request, args.runs, evict=args.cold_disk, timeout=args.timeout, progress=_progress,
        )
        figures.graph = figures.cold.graph
        for line in breakdown_lines(figures.cold, figures.bandwidth):
            print(line)
    else:
        print("a TF.js graph model runs only in the TF.js runtime: there is no Python load to time")
        figures.graph = graph_stats(request.path, request.format_name)
    if figures.graph is not None:
        print(f"graph: {figures.graph.describe()}")
    advice = diagnose(figures)
    print()
    print("advice:" if advice else "advice: nothing stands out")
    for number, item in enumerate(advice, 1):
        first, *rest = item.lines()
        print(f"{number}. {first}")
        for line in rest:
            print(f"  {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(json_document(figures, advice), indent=2) + "\n")
    return 0


def _spread(samples: Samples, fmt: Any = format_ms) -> str:
    if samples.count < 2:
        return ""
    return f"[{fmt(samples.minimum)} .. {fmt(samples.maximum)}]"


def breakdown_lines(profile: ColdProfile, bandwidth: Bandwidth | None = None) -> list[str]:
    """The cold profile as printed: one row per phase, median [min .. max], then totals and memory."""
    cache = "evicted before each run" if profile.evict else "warm"
    lines = [f"cold start over {len(profile.runs)} fresh process(es) (page cache: {cache})"]
    rows: list[tuple[str, Samples, str]] = []
    for phase in PHASES:
        samples = profile.phase(phase)
        notes = []
        if phase == "load" and samples and bandwidth is not None and profile.size_bytes:
            floor = bandwidth.floor_ms(profile.size_bytes)
            notes.append(f"{samples.median / floor:,.0f}x floor ({format_ms(floor)} at {bandwidth.describe()})")
        collecting = profile.gc(phase)
        if collecting and collecting.median >= 1.0:  # under a millisecond says nothing
            notes.append(f"{format_ms(collecting.median)} of it garbage collection")
        if phase == "first_call" and not samples:
            notes.append("no warm-up input: nothing called")
        note = "; ".join(notes)
        rows.append((PHASE_LABELS[phase], samples, note))
    worst = max((abs(run.unaccounted_ms) for run in profile.runs), default=0.0)
    harness = max((run.harness_ms for run in profile.runs), default=0.0)
    wall = profile.wall
    tolerance = format_ms(add_up_tolerance_ms(wall.median))
    rows.append(("= cold total", profile.total,
                 f"wall {format_ms(wall.median)}: phases within {format_ms(worst)} of it, "
                 f"{format_ms(harness)} of that between phases (tolerance {tolerance})"))
    rows.append(("steady call", profile.steady_call, "median of the calls after the first"))
    if profile.reload:
        note = ""
        if bandwidth is not None and profile.size_bytes:
            note = f"{profile.reload.median / bandwidth.floor_ms(profile.size_bytes):,.0f}x floor; "
        rows.append(("reload", profile.reload, note + "the same load again in the same process"))
    for label, samples, note in rows:
        median = format_ms(samples.median) if samples else "-"
        lines.append(f"  {label:<13}{median:>10}  {_spread(samples):<22}{note}".rstrip())
    peaks = profile.peak_bytes
    if peaks:
        peak = Samples([float(value) for value in peaks])
        imported = Samples([float(run.import_rss_bytes) for run in profile.runs if run.import_rss_bytes is not None])
        base = f" above {format_mib(imported.median)} after the import" if imported else ""
        lines.append(
            f"peak memory of read + load + first call: {format_mib(peak.median)} {_spread(peak, format_mib)}{base}"
        )
    else:
        lines.append("peak memory: unavailable here (needs Linux's resettable VmHWM)")
    lines.extend(_page_cache_lines(profile))
    frameworks = sorted({name for run in profile.runs for name in run.frameworks})
    if frameworks:
        lines.append(f"frameworks the cold start imported: {', '.join(frameworks)}")
    return lines


def _page_cache_lines(profile: ColdProfile) -> list[str]:
    caches = [run.page_cache for run in profile.runs if run.page_cache is not None]
    if not caches:
        return []
    resident = [cache.resident_fraction for cache in caches]
    known = [value for value in resident if value is not None]
    low, high = (f"{100 * min(known):.0f}%", f"{100 * max(known):.0f}%") if known else ("unknown", "unknown")
    at_start = low if low == high else f"{low}-{high}"
    if not profile.evict:
        return [f"page cache: {at_start} of the artifact resident as each run started"]
    problems = sorted({cache.problem for cache in caches if cache.problem})
    line = f"page cache: {at_start} of the artifact resident as each run started, after eviction"
    return [line] + [f"  eviction: {problem}" for problem in problems]


def json_document(figures: Figures, advice: list[Advice]) -> dict[str, Any]:
    bandwidth = figures.bandwidth
    return {
        "name": figures.name,
        "format": figures.format,
        "size_bytes": figures.size_bytes,
        "read_bandwidth_bytes_per_s": bandwidth.bytes_per_s if bandwidth is not None else None,
        "cold": figures.cold.to_dict() if figures.cold is not None else None,
        "graph": figures.graph.to_dict() if figures.graph is not None else None,
        "quantization": dataclasses.asdict(figures.quantization) if figures.quantization is not None else None,
        "advice": [item.to_dict() for item in advice],
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadbudget profile", description=__doc__.splitlines()[0])
    add_profile_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_profile(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
