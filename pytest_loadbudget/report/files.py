"""The report in the forms CI needs: JSON, Markdown, pytest-benchmark's JSON and GitHub's (report/github.py)."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_loadbudget.atomic import write_atomically
from pytest_loadbudget.baseline.fingerprint import machine_facts
from pytest_loadbudget.diagnose.fleet import fleet_lines
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.report.github import append_step_summary, write_github_json
from pytest_loadbudget.report.browser_lines import browser_lines
from pytest_loadbudget.report.terminal import columns, contention_line, table_rows
from pytest_loadbudget.results.record import ModelRecord

if TYPE_CHECKING:
    from pytest_loadbudget.baseline.lookup import GateSummary
    from pytest_loadbudget.settings import Settings

SCHEMA_VERSION = 1


def json_document(records: list[ModelRecord], baseline: GateSummary | None = None) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "units": {"time": "ms", "size": "bytes", "budget_mb": "MiB (2**20 bytes)"},
        "machine": machine_facts(),
        "baseline": baseline.described if baseline is not None else None,
        # Whether the gate could fail the run, and the models with no counterpart on either side.
        "baseline_summary": baseline.to_dict() if baseline is not None else None,
        "models": [record.to_dict() for record in records],
    }


def write_json(path: Path, records: list[ModelRecord], baseline: GateSummary | None = None) -> None:
    write_atomically(path, json.dumps(json_document(records, baseline), indent=2) + "\n")


def markdown(records: list[ModelRecord], baseline: GateSummary | None = None, clock: str = "own") -> str:
    """A GitHub-flavoured table, fit for ``$GITHUB_STEP_SUMMARY`` or a PR comment."""
    lines = ["## Model load budgets", ""]
    if baseline is not None and baseline.not_enforced:
        lines += [f"> **{baseline.not_enforced}**", ""]  # first, where a reviewer cannot miss it
    if not records:
        return "\n".join(lines + ["No model was loaded through `load_model`.", ""])
    contention = contention_line(records, clock)
    if contention is not None:
        lines += [f"_{contention}_", ""]
    header = list(columns(records))
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    for row in table_rows(records, clock=clock):
        cells = [_escape(cell) for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    failures = [f"- `{use.nodeid}`: {miss}" for record in records for use in record.tests for miss in use.misses]
    if failures:
        lines += ["", "### Budget misses", "", *failures]
    growth = [f"- {record.name}: {record.predictions.describe()}" for record in records if record.predictions]
    if growth:
        lines += ["", "### Per-prediction growth", "", *growth]
    in_browser = browser_lines(records)
    if in_browser:
        lines += ["", "### In the browser: main thread and storage cache", "", *(f"- {line}" for line in in_browser)]
    fleets = ["- " + "<br>".join(line.strip() for line in fleet_lines(record.name, record.fleet))
              for record in records if record.fleet]
    if fleets:
        lines += ["", "### Fleet starts", "", *fleets]
    comparisons = [
        f"- {'**regression** ' if c.regression else ''}{c.line}" + (f" ({c.note})" if c.note else "")
        for record in records for c in record.comparisons
    ]
    if baseline is not None:
        lines += ["", "### Against the baseline", "", f"_{baseline.described}_", "", *comparisons,
                  *(f"- {line}" for line in baseline.lines())]
    elif any(c.rule.startswith("paired") for record in records for c in record.comparisons):
        lines += ["", "### Against the baseline artifacts, measured in this run", "", *comparisons]
    return "\n".join(lines) + "\n"


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def write_markdown(
    path: Path, records: list[ModelRecord], baseline: GateSummary | None = None, clock: str = "own",
) -> None:
    write_atomically(path, markdown(records, baseline, clock))


def benchmark_document(records: list[ModelRecord]) -> dict[str, Any]:
    """Load times in the schema pytest-benchmark saves, for the tools that chart it.

    The statistics come from pytest-benchmark's own ``Stats`` (times in seconds,
    as that schema has them); one entry per model, grouped as ``loadbudget``.
    """
    try:
        from pytest_benchmark import __version__ as benchmark_version
        from pytest_benchmark.stats import Stats
    except ImportError as error:
        raise ImportError(f"pytest-benchmark, whose format this is, cannot be imported ({error})") from error

    benchmarks = []
    for record in records:
        for figure, samples in ((FIGURES["ms"].label, record.load_ms), (FIGURES["warm_ms"].label, record.warm_ms)):
            if not samples:
                continue
            stats = Stats()  # type: ignore[no-untyped-call]
            for value in samples.values:
                stats.update(value / 1e3)  # type: ignore[no-untyped-call]
            benchmarks.append({
                "group": f"loadbudget {figure}",
                "name": f"{record.name} [{record.format}] {figure}",
                "fullname": f"{record.key}::{figure}",
                "params": None,
                "param": None,
                "extra_info": {"format": record.format, "size_bytes": record.size_bytes},
                "options": {"timer": "perf_counter", "disable_gc": False, "min_rounds": samples.count},
                "stats": {**stats.as_dict(), "data": [value / 1e3 for value in samples.values]},  # type: ignore[no-untyped-call]
            })
    return {
        "machine_info": machine_facts() | {"node": "", "processor": machine_facts()["cpu"]},
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "version": benchmark_version,
    }


def write_benchmark_json(path: Path, records: list[ModelRecord]) -> None:
    write_atomically(path, json.dumps(benchmark_document(records), indent=2) + "\n")


def write_report_files(
    settings: Settings, records: list[ModelRecord], baseline: GateSummary | None,
    more: list[tuple[str, str | None, Callable[[Path], None]]] | None = None,
) -> list[str]:
    """Write every report file the settings ask for; one problem line per file not written.

    ``more``: writers the caller builds, as (option, path or None, write): the
    HTML page reads the saved runs, which only the plugin's gate knows.

    Each writer is tried on its own: one that fails (a path that cannot be
    written, pytest-benchmark missing, a bug) costs neither the others nor the run.
    """
    writers: list[tuple[str, str | None, Callable[[Path], None]]] = [
        ("--loadbudget-json", settings.json, lambda path: write_json(path, records, baseline)),
        ("--loadbudget-markdown", settings.markdown, lambda path: write_markdown(path, records, baseline, settings.clock)),
        ("--loadbudget-benchmark-json", settings.benchmark_json, lambda path: write_benchmark_json(path, records)),
        ("--loadbudget-github-json", settings.github_json,
         lambda path: write_github_json(path, records, settings.clock)),
        # A run that measured nothing (the plugin merely installed, or disabled) adds nothing to the job's page.
        ("$GITHUB_STEP_SUMMARY", settings.step_summary_file if records and not settings.disable else None,
         lambda path: append_step_summary(path, markdown(records, baseline, settings.clock))),
    ]
    problems = []
    for option, target, write in writers + (more or []):
        if target is None:
            continue
        path = Path(target).absolute()
        try:
            write(path)
        except (OSError, ImportError) as error:
            problems.append(f"could not write {path} ({option}): {error}")
        except Exception as error:  # noqa: BLE001 - a bug in one writer: shown with its traceback, the others still run
            problems.append(f"could not write {path} ({option}): {type(error).__name__}: {error}\n"
                            + traceback.format_exc().rstrip())
    return problems
