"""The ``--loadbudget-report`` table at the end of the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_loadbudget.budget.marker import LIMIT_KEYWORDS
from pytest_loadbudget.diagnose.fleet import fleet_lines
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.formats.tflite_interpreters import interpreter_label
from pytest_loadbudget.measure.clock import NOTABLE_WAIT, waited_share
from pytest_loadbudget.report.browser_lines import BLOCK_AFTER, BLOCK_COLUMN, block_cell, browser_lines, has_block
from pytest_loadbudget.results.phases import PHASE_LABELS, PHASES
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples
from pytest_loadbudget.units import MIB, compact_ms, format_mib, format_ms

if TYPE_CHECKING:
    from pytest_loadbudget.baseline.lookup import GateSummary
    from pytest_loadbudget.results.cold_profile import ColdProfile
    from pytest_loadbudget.measure.floor import Bandwidth

#: The table's columns: a figure's column is headed by its label.
COLUMNS = ("model", "format", "runtime", "device", *(FIGURES[key].label for key in ("mb", "ms")), "x floor",
           *(FIGURES[key].label for key in ("warm_ms", "peak_mb", "leak_mb", "gpu_mb")), "budget")
BASELINE_COLUMN = "baseline"


def tightest_limits(record: ModelRecord) -> dict[str, float]:
    """For each figure, the smallest limit any test that loaded the model set."""
    limits: dict[str, float] = {}
    for use in record.tests:
        for keyword in LIMIT_KEYWORDS:
            value = use.budget.get(keyword)
            if value is not None:
                limits[keyword] = min(value, limits.get(keyword, value))
    return limits


def _percent(value: float | None, limit: float | None) -> str:
    if value is None or limit is None:
        return ""
    return f" ({100 * value / limit:.0f}%)"


def _timing_cell(record: ModelRecord, figure: str, limit: float | None, clock: str) -> str:
    """Wall median, own median beside it where measured, the wall's range; (N%) of the budget on its clock."""
    wall, own, _ = record.rounds(figure)
    if not wall:
        return "-"
    judged, _ = record.timing(figure, clock)
    return (
        f"{format_ms(wall.median)}{f' (own {compact_ms(own.median)})' if own else ''} "
        f"[{compact_ms(wall.minimum)}..{compact_ms(wall.maximum)}] n={wall.count}" + _percent(judged.median, limit)
        + (" traced" if record.traced else "")  # by what: ``tracing_lines``
    )


def tracing_lines(records: list[ModelRecord]) -> list[tuple[str, bool]]:
    """What was paused around the timed loads, and each model whose figures were measured traced
    (``measure/tracing.py``); each line with whether it warns."""
    lines = []
    if any(record.paused for record in records):
        paused = sorted({what for record in records for what in record.paused})
        lines.append((f"{', '.join(paused)} paused around timed loads: the rounds ran untraced, "
                      "each model's first load under it", False))
    for record in records:
        if record.traced:
            lines.append((f"{record.name} load, warm-up traced by {', '.join(record.traced)}: slower than "
                          "untraced, and never judged against an untraced run", True))
        if record.fresh_traced:
            lines.append((f"{record.name} fresh processes traced by {', '.join(record.fresh_traced)}: "
                          "cold start and memory never judged against an untraced run", True))
    return lines


def contention_line(records: list[ModelRecord], clock: str) -> str | None:
    """How much of the run's timed work waited for a CPU, when that is worth saying; or that nobody could tell.

    Over every timed round and cold start with own time: the sum of their
    wall times less the sum of their own times, against the sum of wall times.
    """
    wall_ms = own_ms = 0.0
    wall_only = False
    for record in records:
        pairs = [(record.load_ms, record.load_own_ms), (record.warm_ms, record.warm_own_ms)]
        if record.cold is not None:
            pairs.append((record.cold.total, record.cold.own_total))
        for wall, own in pairs:
            if wall and own.count == wall.count:
                wall_ms, own_ms = wall_ms + sum(wall.values), own_ms + sum(own.values)
            elif wall and record.runtime.split()[0] != "browser":  # the browser is wall-only anyway: marked
                wall_only = True
    if not wall_ms:
        return "own time not measured on this system: judged on wall time" if wall_only and clock == "own" else None
    share = waited_share(wall_ms, own_ms)
    if share < NOTABLE_WAIT:
        return None
    judged = "budgets judge own time (wall less that wait)" if clock == "own" else \
        "budgets judge wall time (--loadbudget-clock=wall)"
    return f"timed loads waited {share:.0%} of their wall time for a CPU: other processes on this machine; {judged}"


def _bytes_cell(num_bytes: int | None, limit_mib: float | None, mark: str = "") -> str:
    if num_bytes is None:
        return "-"
    return format_mib(num_bytes) + mark + _percent(num_bytes / MIB, limit_mib)


def verdict(record: ModelRecord) -> str:
    if record.error is not None:
        return "ERROR"
    failing = [use for use in record.tests if use.misses]
    if failing:
        return f"MISS ({len(failing)} test{'s' if len(failing) != 1 else ''})"
    return "ok" if any(use.budget for use in record.tests) else "no budget"


def baseline_cell(record: ModelRecord) -> str:
    """The verdict against the baseline: regressed figures, else the load's change."""
    if not record.comparisons:
        return "-"
    regressed = [c for c in record.comparisons if c.regression]
    shown = regressed or [c for c in record.comparisons if c.figure == "ms"] or record.comparisons[:1]
    changes = ", ".join(f"{comparison.label} {comparison.change or '?'}" for comparison in shown)
    return f"{'REGRESSION' if regressed else 'ok'} {changes}"


def columns(records: list[ModelRecord]) -> tuple[str, ...]:
    """The table's columns; the baseline one only when the run was compared, the block one for a browser run."""
    shown: tuple[str, ...] = COLUMNS
    if has_block(records):
        at = COLUMNS.index(BLOCK_AFTER) + 1
        shown = COLUMNS[:at] + (BLOCK_COLUMN,) + COLUMNS[at:]
    return shown + ((BASELINE_COLUMN,) if any(record.comparisons for record in records) else ())


def _floor_cell(record: ModelRecord, bandwidth: Bandwidth | None) -> str:
    if bandwidth is None or not record.load_ms or not record.size_bytes or record.runtime != "python":
        return "-"
    return f"{record.load_ms.median / bandwidth.floor_ms(record.size_bytes):.0f}x"


def _runtime_cell(record: ModelRecord) -> str:
    """``python``, ``node wasm``; a .tflite model adds its interpreter: ``python (litert 2.3.0)``."""
    label = interpreter_label(record.interpreter, record.interpreter_version)
    return f"{record.runtime} ({label})" if label else record.runtime


def table_rows(
    records: list[ModelRecord], bandwidth: Bandwidth | None = None, clock: str = "own"
) -> list[tuple[str, ...]]:
    header = columns(records)
    with_baseline = BASELINE_COLUMN in header
    rows = []
    for record in records:
        limits = tightest_limits(record)
        memory = record.memory
        in_process_mark = "*" if memory is not None and memory.where != "fresh process" else ""
        gpu_source = record.gpu_source
        leak_cell = _bytes_cell(memory.leak_bytes if memory else None, limits.get("leak_mb"), in_process_mark)
        if record.leak_tensors is not None:
            leak_cell = f"{record.leak_tensors} {FIGURES['leak_tensors'].unit}"
        rows.append((
            record.name,
            record.format,
            _runtime_cell(record),
            record.device.split(" (driver")[0] if record.runtime == "python" else "-",
            _bytes_cell(record.size_bytes, limits.get("mb")),
            _timing_cell(record, "ms", limits.get("ms"), clock),
            _floor_cell(record, bandwidth),
            _timing_cell(record, "warm_ms", limits.get("warm_ms"), clock),
            _bytes_cell(memory.peak_bytes if memory else None, limits.get("peak_mb"), in_process_mark),
            leak_cell,
            (_bytes_cell(record.gpu_bytes, limits.get("gpu_mb")) + f" {gpu_source}") if record.gpu_bytes is not None else "-",
            verdict(record),
        ) + ((baseline_cell(record),) if with_baseline else ()))
        if BLOCK_COLUMN in header:
            at = COLUMNS.index(BLOCK_AFTER) + 1
            rows[-1] = rows[-1][:at] + (block_cell(record, limits.get("block_ms")),) + rows[-1][at:]
    return rows


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return lines


def write_terminal_report(
    terminal: Any, records: list[ModelRecord], verbose: bool, baseline: GateSummary | None = None,
    bandwidth: Bandwidth | None = None, diagnose: bool = False, clock: str = "own",
) -> None:
    terminal.write_sep("=", "loadbudget report")
    if not records:
        terminal.write_line("no model was loaded through the load_model fixture")
        return
    contention = contention_line(records, clock)
    if contention is not None:
        terminal.write_line(contention, yellow=True)
    for line, warns in tracing_lines(records):
        terminal.write_line(line, yellow=warns)
    for line in format_table(columns(records), table_rows(records, bandwidth, clock)):
        terminal.write_line(line)
    terminal.write_line("")
    terminal.write_line(
        "load, warm-up: median wall time (own: wall less the wait for a CPU) [min..max] over n rounds in the test "
        "process; size: every file the load reads; "
        "peak, leak: resident memory, MiB = 2**20 bytes; (N%) of the tightest budget"
        + (f"; x floor: load time / time to read the same bytes at {bandwidth.describe()}" if bandwidth else "")
    )
    for line in memory_and_cold_lines(records):
        terminal.write_line(line)
    if diagnose:
        _write_diagnosis(terminal, records, bandwidth)
    if any(r.memory is not None and r.memory.where != "fresh process" for r in records):
        terminal.write_line("* measured in the test process (a lower bound): the loader could not run in a fresh one")
    if baseline is not None:
        terminal.write_line(baseline.described)
        for record in records:
            for comparison in record.comparisons:
                terminal.write_line(f"  {comparison.verdict_line()}")
        for line in baseline.lines():
            terminal.write_line(line)
    elif any(comparison.rule.startswith("paired") for record in records for comparison in record.comparisons):
        terminal.write_line("against the baseline artifacts, measured in this run:")
        for record in records:
            for comparison in record.comparisons:
                terminal.write_line(f"  {comparison.verdict_line()}")
    for record in records:
        if record.error is not None:
            terminal.write_line(f"{record.name}: {record.error}")
        for use in record.tests:
            for miss in use.misses:
                terminal.write_line(f"{use.nodeid}: {miss}")
    if verbose:
        for record in records:
            terminal.write_line(f"{record.name} load samples (ms): {_samples_text(record.load_ms)}")
            if record.load_own_ms:
                terminal.write_line(f"{record.name} load own time (ms): {_samples_text(record.load_own_ms)}")
            if record.warm_ms:
                terminal.write_line(f"{record.name} warm-up samples (ms): {_samples_text(record.warm_ms)}")
            if record.memory is not None and record.memory.rss_after_cycles:
                rss = ", ".join(format_mib(value) for value in record.memory.rss_after_cycles)
                terminal.write_line(f"{record.name} RSS after each cycle: {rss}")
            growth = record.predictions
            if growth is not None and growth.tensors:
                # Before the first prediction, then after each (in Python after the last only).
                counts = ", ".join(map(str, growth.tensors))
                terminal.write_line(f"{record.name} live tensors over the predictions: {counts}")
    else:
        terminal.write_line("(use -v to see the raw samples)")


def _samples_text(samples: Samples) -> str:
    return ", ".join(f"{value:.1f}" for value in samples.values) or "-"


def memory_and_cold_lines(records: list[ModelRecord]) -> list[str]:
    """Each cold start measured, and why a memory or cold figure is missing where that is known."""
    lines = []
    for record in records:
        if record.cold is not None:
            lines.append(f"{record.name} cold start: {cold_summary(record.cold)}")
        elif record.cold_note:
            lines.append(f"{record.name} cold start not measured: {record.cold_note}")
        if record.fleet is not None:
            lines += fleet_lines(record.name, record.fleet)
        memory = record.memory
        if memory is not None and memory.peak_bytes is None and memory.note:
            lines.append(f"{record.name} memory: {memory.note}")
        clock_note = (record.runtime_figures or {}).get("clock_note")
        if clock_note:
            lines.append(f"{record.name} ({record.runtime}) load, warm-up: {clock_note}")
        if record.predictions is not None:
            lines.append(f"{record.name} per-prediction growth: {record.predictions.describe()}")
    return lines + browser_lines(records)


def cold_summary(cold: ColdProfile) -> str:
    """One line: each phase's median, their sum, over how many fresh processes."""
    parts = [f"{PHASE_LABELS[phase]} {compact_ms(cold.phase(phase).median)}"
             for phase in PHASES if cold.phase(phase)]
    return f"{' + '.join(parts)} = {format_ms(cold.total.median)} (median of {cold.total.count} fresh processes)"


def diagnosis_lines(
    records: list[ModelRecord], bandwidth: Bandwidth | None, say_when_nothing: bool = True
) -> list[str]:
    """Per model: the phase or figure that dominates, this model's numbers, the usual fix."""
    from pytest_loadbudget.diagnose.figures import figures_for
    from pytest_loadbudget.diagnose.rules import diagnose

    lines: list[str] = []
    for record in records:
        if record.error is not None:
            continue
        advice = diagnose(figures_for(record, record.cold, bandwidth))
        if not advice and say_when_nothing:
            lines.append(f"{record.name}: nothing stands out")
        for item in advice:
            lines += [f"{record.name}: {item.title}", f"    {item.numbers}", f"    fix: {item.fix}"]
    return lines


def _write_diagnosis(terminal: Any, records: list[ModelRecord], bandwidth: Bandwidth | None) -> None:
    terminal.write_sep("-", "loadbudget diagnosis")
    for line in diagnosis_lines(records, bandwidth):
        terminal.write_line(line)
