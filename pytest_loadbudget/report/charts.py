"""The charts of the HTML report: each model's figures over the saved runs, as series, drawn by pygal.

The series are built here from a ``History`` (``baseline/history.py``) and
drawn by pygal, the plotting library pytest-benchmark uses: pure Python, it
writes SVG that the page holds inline. Its tooltips need a script from the
network, so they are off (``js=[]``): the page shows the same in words
under each chart. pygal is imported only when a chart is drawn, and its
absence is an ImportError that names the extra to install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_loadbudget.baseline.history import ModelHistory, figure_value
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.results.phases import PHASE_LABELS, PHASES
from pytest_loadbudget.results.record import ModelRecord

PYGAL_MISSING = ("the HTML report draws its charts with pygal, which is not installed: "
                 "pip install 'pytest-loadbudget[html]' (or pip install pygal)")
#: After a run label: the artifact changed since the model's previous run; the software did.
ARTIFACT_MARK = "▲"
ENVIRONMENT_MARK = "◆"
#: The run-to-run charts: series (figure, clock), each named in the legend by the figure's label (own
#: time said so), one chart per unit (the cold start, ten times a load, has its own chart: beside the
#: loads it would flatten them).
TIME_SERIES = (("ms", "wall"), ("ms", "own"), ("warm_ms", "wall"), ("warm_ms", "own"), ("first_load_ms", "wall"),
               ("cached_load_ms", "wall"))
MEMORY_SERIES = (("mb", "wall"), ("peak_mb", "wall"), ("leak_mb", "wall"), ("gpu_mb", "wall"))
TENSOR_SERIES = (("leak_tensors", "wall"),)
#: The runtimes chart: one bar per runtime of an artifact, these figures side by side.
RUNTIME_FIGURES = ("ms", "warm_ms", "first_load_ms", "cached_load_ms")
CHART_WIDTH, CHART_HEIGHT = 640, 300
#: Labels longer than this are cut (a run name); commits are 8 characters and a mark.
LABEL_CHARACTERS = 14

Kind = Literal["line", "stacked", "bar"]


@dataclass
class Chart:
    """What one chart shows: ``series`` of values (None: nothing to draw there) over ``x_labels``.

    ``name``: what the chart is, for the page and its tests ("times",
    "memory", "tensors", "cold", "runtimes"); ``marks``: x positions with
    what changed there, said under the chart and drawn as larger points.
    """

    name: str
    kind: Kind
    title: str
    x_labels: list[str]
    series: list[tuple[str, list[float | None]]]
    marks: dict[int, list[str]] = field(default_factory=dict)


def model_charts(model: ModelHistory) -> list[Chart]:
    """The charts of one model over its runs, oldest first: those with anything to draw."""
    records = [point.record for point in model.points]
    marks = {index: point.changes for index, point in enumerate(model.points) if point.changes}
    labels = [_run_label(point.run.label, index in marks and point.artifact_changed,
                         index in marks and bool(point.environment_changes))
              for index, point in enumerate(model.points)]
    charts = [
        Chart("times", "line", "Times (ms, median)", labels, _series(records, TIME_SERIES), marks),
        Chart("memory", "line", "Size and memory (MiB)", labels, _series(records, MEMORY_SERIES), marks),
        Chart("tensors", "line", "TF.js tensors left after dispose", labels, _series(records, TENSOR_SERIES), marks),
        _cold_chart(records, labels, marks),
    ]
    return [chart for chart in charts if chart.series]


def _run_label(label: str, artifact: bool, environment: bool) -> str:
    short = label if len(label) <= LABEL_CHARACTERS else label[:LABEL_CHARACTERS - 1] + "…"
    return short + (ARTIFACT_MARK if artifact else "") + (ENVIRONMENT_MARK if environment else "")


def _series(records: list[ModelRecord], wanted: tuple[tuple[str, str], ...]) -> list[tuple[str, list[float | None]]]:
    """The series of ``wanted`` that any record has; own time only where a record measured it."""
    series = []
    for figure, clock in wanted:
        values = [_value(figure, record, clock) for record in records]
        if any(value is not None for value in values):
            series.append((_series_name(figure, clock), values))
    return series


def _series_name(figure: str, clock: str) -> str:
    """``load``, ``load (own time)``: the figure's label, and the clock where it is not the wall's."""
    label = FIGURES[figure].label
    return f"{label} (own time)" if clock == "own" else label


def _value(figure: str, record: ModelRecord, clock: str) -> float | None:
    if clock == "own":
        own, used = _own(figure, record)
        return own if used else None
    return figure_value(figure, record, "wall")


def _own(figure: str, record: ModelRecord) -> tuple[float | None, bool]:
    samples, used = record.timing(figure, "own")
    return (samples.median if samples else None), used == "own"


def _cold_chart(records: list[ModelRecord], labels: list[str], marks: dict[int, list[str]]) -> Chart:
    """The cold start of each run that measured it, its phases stacked (medians over the fresh processes)."""
    with_cold = [index for index, record in enumerate(records) if record.cold is not None and record.cold.runs]
    series = []
    for phase in PHASES:
        values = [_phase_median(records[index], phase) for index in with_cold]
        if any(value is not None for value in values):
            series.append((PHASE_LABELS[phase], values))
    kept_marks = {position: marks[index] for position, index in enumerate(with_cold) if index in marks}
    return Chart("cold", "stacked", "Cold start in a fresh process, by phase (ms, median)",
                 [labels[index] for index in with_cold], series, kept_marks)


def _phase_median(record: ModelRecord, phase: str) -> float | None:
    samples = record.cold.phase(phase) if record.cold is not None else None
    return samples.median if samples else None


def runtime_charts(models: list[ModelHistory]) -> list[tuple[str, Chart]]:
    """For each artifact loaded in more than one place (Python, Node, the browser, each backend), its
    newest figures side by side: one bar per runtime, the artifact's path with the chart."""
    by_artifact: dict[str, list[ModelRecord]] = {}
    for model in models:
        record = model.record
        if record.path:
            by_artifact.setdefault(record.path, []).append(record)
    charts = []
    for path, records in by_artifact.items():
        # A TF.js graph model in Python has a size and no time: no bar to show.
        records = [record for record in records
                   if any(figure_value(figure, record, "wall") is not None for figure in RUNTIME_FIGURES)]
        if len(records) < 2 or all(record.runtime == "python" for record in records):
            continue
        records = sorted(records, key=lambda record: record.runtime)
        labels = [record.runtime if record.runtime != "python" else f"python {record.device.split(' (')[0]}"
                  for record in records]
        series = [(FIGURES[figure].label, [figure_value(figure, record, "wall") for record in records])
                  for figure in RUNTIME_FIGURES]
        series = [(name, values) for name, values in series if any(value is not None for value in values)]
        if series:
            charts.append((path, Chart("runtimes", "bar", "Where it loads (ms, median wall time)", labels, series)))
    return charts


def render(chart: Chart) -> str:
    """The chart as an ``<svg>`` element, to put inline in a page; ImportError without pygal."""
    try:
        import pygal
        from pygal.style import DefaultStyle
    except ImportError:
        raise ImportError(PYGAL_MISSING) from None
    options: dict[str, Any] = {
        "js": [],  # pygal's tooltip script comes from the network: the page must work offline
        "disable_xml_declaration": True,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "style": DefaultStyle(background="white", plot_background="white", title_font_size=14,
                              label_font_size=10, major_label_font_size=10, legend_font_size=11),
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "x_label_rotation": 30 if len(chart.x_labels) > 6 else 0,
        "truncate_label": -1,
        "truncate_legend": -1,
        "print_values": False,
        "include_x_axis": chart.kind != "line",
    }
    kinds = {"line": pygal.Line, "stacked": pygal.StackedBar, "bar": pygal.Bar}
    drawing = kinds[chart.kind](**options)
    drawing.title = chart.title
    drawing.x_labels = chart.x_labels
    for name, values in chart.series:
        drawing.add(name, [_marked(value, chart.marks.get(index)) for index, value in enumerate(values)]
                    if chart.kind == "line" else values)
    return str(drawing.render(is_unicode=True))


def _marked(value: float | None, changes: list[str] | None) -> float | None | dict[str, Any]:
    """A point where the artifact or the software changed: drawn larger, with what changed as its label."""
    if value is None or not changes:
        return value
    return {"value": value, "label": "; ".join(changes), "node": {"r": 6}}
