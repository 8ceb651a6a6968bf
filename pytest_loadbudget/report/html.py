"""``--loadbudget-html``: one HTML page, the report table and each model's history as charts.

The page stands alone: styles and charts (SVG) inline, no script and
nothing fetched when it is opened, so it can be attached to a CI job,
mailed, or opened years later. Each model gets its figures over this
machine's saved runs (oldest left) and this run last; where the artifact or
the software changed, the run's label carries a mark and the chart says what
changed under it. Written after the run is saved: a page that cannot be
drawn (pygal missing) costs no baseline.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_loadbudget.atomic import write_atomically
from pytest_loadbudget.baseline.history import THIS_RUN, History, ModelHistory, RunInfo, current_entries, read_history
from pytest_loadbudget.report.charts import ARTIFACT_MARK, ENVIRONMENT_MARK, Chart, model_charts, render, runtime_charts
from pytest_loadbudget.report.terminal import columns, contention_line, table_rows
from pytest_loadbudget.results.record import ModelRecord

if TYPE_CHECKING:
    from pytest_loadbudget.baseline.gate import RegressionGate
    from pytest_loadbudget.baseline.lookup import GateSummary

TITLE = "Model load budgets"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; }
.about, .legend { color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
.warning { color: #a00; font-weight: bold; }
section.model { border-top: 1px solid #ddd; margin-top: 1.5em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure.chart { margin: 0; }
figure.chart svg { width: 640px; height: 300px; }
figure.chart figcaption { font-size: 0.8em; color: #555; max-width: 640px; }
ul.changes { font-size: 0.85em; }
"""


def history_for(gate: RegressionGate, records: list[ModelRecord]) -> History:
    """This machine's saved runs, then this run (left out of the saved ones where it was just saved)."""
    history = read_history(gate.store, gate.machine_id, leave_out=gate.saved_path)
    history.add_run(RunInfo(THIS_RUN, time.strftime("%Y-%m-%dT%H:%M:%S%z"), gate.software), current_entries(records))
    return history


def write_html(
    path: Path, records: list[ModelRecord], gate: RegressionGate, summary: GateSummary | None = None,
    clock: str = "own",
) -> None:
    """Write the page to ``path``; ImportError (naming the extra to install) without pygal."""
    write_atomically(path, html_page(records, history_for(gate, records), summary, clock))


def html_page(
    records: list[ModelRecord], history: History, summary: GateSummary | None = None, clock: str = "own",
) -> str:
    """The whole page: the table of this run, then every model's charts, then TF.js runtimes side by side."""
    measured = {id(record) for record in records}
    # This run's models first, in the table's order; then those only the saved runs hold.
    order = {id(record): index for index, record in enumerate(records)}
    models = sorted(history.models, key=lambda model: order.get(id(model.record), len(order)))
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{TITLE}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        f"<h1>{TITLE}</h1>", _about(history), *_summary(records, summary, clock), _table(records, clock),
        _legend(), *_problems(history),
    ]
    for model in models:
        parts.append(_model_section(model, in_this_run=id(model.record) in measured))
    side_by_side = runtime_charts(models)
    if side_by_side:
        parts += ['<section class="runtimes">', "<h2>Where each TF.js model loads, side by side</h2>"]
        parts += [f'<h3>{_escape(path)}</h3><div class="charts">{_figure(chart)}</div>' for path, chart in side_by_side]
        parts.append("</section>")
    return "\n".join(parts + ["</body>", "</html>"]) + "\n"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _about(history: History) -> str:
    saved = sum(run.path is not None for run in history.runs)
    span = f", {history.runs[0].created} to {history.runs[-1].created}" if history.runs else ""
    return (f'<p class="about">machine {_escape(history.machine)}: {saved} saved run(s) and this one{_escape(span)}; '
            f"written {_escape(time.strftime('%Y-%m-%d %H:%M:%S'))}</p>")


def _summary(records: list[ModelRecord], summary: GateSummary | None, clock: str) -> list[str]:
    lines = []
    if summary is not None and summary.not_enforced:
        lines.append(f'<p class="warning">{_escape(summary.not_enforced)}</p>')
    contention = contention_line(records, clock)
    if contention is not None:
        lines.append(f'<p class="warning">{_escape(contention)}</p>')
    if summary is not None:
        lines.append(f"<p>{_escape(summary.described)}</p>")
        lines += [f"<p>{_escape(line)}</p>" for line in summary.lines()]
    paired = [comparison for record in records for comparison in record.comparisons
              if comparison.rule.startswith("paired")]
    if paired:
        # Each ratio with its interval, as the terminal says it: the pairs measured both sides in this run.
        lines.append("<p>Against the baseline artifacts, measured in this run:</p>")
        lines.append("<ul>" + "".join(f'<li class="{"warning" if c.regression else ""}">{_escape(c.verdict_line())}</li>'
                                      for c in paired) + "</ul>")
    return lines


def _table(records: list[ModelRecord], clock: str) -> str:
    if not records:
        return "<p>No model was loaded through <code>load_model</code> in this run.</p>"
    header = "".join(f"<th>{_escape(name)}</th>" for name in columns(records))
    rows = ["<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>"
            for row in table_rows(records, clock=clock)]
    return f'<table class="report"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _legend() -> str:
    return (f'<p class="legend">Each chart: one point per run of the model, oldest left, labelled with the commit '
            f"it was saved at (* uncommitted changes) or the run's name; this run last. "
            f"{ARTIFACT_MARK} the artifact changed (its files' SHA-256), {ENVIRONMENT_MARK} the software changed "
            f"(Python, frameworks, kernel, environment variables, device): what changed is listed under the "
            f"model. Own time: wall time less the wait for a CPU.</p>")


def _problems(history: History) -> list[str]:
    if not history.problems:
        return []
    items = "".join(f"<li>{_escape(problem)}</li>" for problem in history.problems)
    return [f'<p class="warning">Saved runs not shown:</p><ul class="problems">{items}</ul>']


def _model_section(model: ModelHistory, in_this_run: bool) -> str:
    runs = len(model.points)
    where = "" if in_this_run else "; not loaded in this run"
    charts = "".join(_figure(chart) for chart in model_charts(model))
    changes = [f"<li>{_escape(point.run.label)}: {_escape('; '.join(point.changes))}</li>"
               for point in model.points if point.changes]
    return (f'<section class="model" data-model="{_escape(model.identity)}">'
            f"<h2>{_escape(model.label)}</h2>"
            f'<p class="about">{runs} run(s){where}; identity <code>{_escape(model.identity)}</code></p>'
            f'<div class="charts">{charts}</div>'
            + (f'<ul class="changes">{"".join(changes)}</ul>' if changes else "")
            + "</section>")


def _figure(chart: Chart) -> str:
    """One chart in its ``<figure>``, named by what it shows (``data-chart``)."""
    series = ", ".join(name for name, _ in chart.series)
    return (f'<figure class="chart" data-chart="{chart.name}">{render(chart)}'
            f"<figcaption>{_escape(series)}</figcaption></figure>")
