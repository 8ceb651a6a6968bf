"""A machine's saved runs over time: ``loadbudget trend``, ``loadbudget prune`` and the HTML page.

Saved runs are built by hand (``BaselineStore.save``, and schema 1 documents
written as version 0.1 wrote them), so every figure a line or a chart shows
is known. The page is checked as a person sees it: opened in the Chromium
the plugin drives, its SVG counted, its console read, a screenshot taken.
"""

from __future__ import annotations

import concurrent.futures

import json
import re
import textwrap
from pathlib import Path
from xml.etree import ElementTree
from typing import Any

import pytest

from pytest_loadbudget.baseline.fingerprint import machine_id
from pytest_loadbudget.baseline.history import (
    THIS_RUN, History, RunInfo, current_entries, figure_value, read_history,
)
from pytest_loadbudget.baseline.storage import BaselineStore
from pytest_loadbudget.baseline.times import REMEASURED
from pytest_loadbudget.cli.main import main as cli_main
from pytest_loadbudget.figures import FIGURES
from pytest_loadbudget.model.identity import model_identity
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun
from pytest_loadbudget.results.memory import MemoryFigures
from pytest_loadbudget.results.predictions import PredictionGrowth
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples

HARDWARE = {"cpu": "Test CPU 9000", "cpus": 4, "system": "Linux", "machine": "x86_64"}
HERE = machine_id(HARDWARE)
OTHER = "other-runner"
LEGACY_FOLDER = "Linux-x86_64-4cpu-py3.11-0123456789"
COMMIT = "1a2b3c4d5e6f7a8b9c0d"
OLD_TF = {"frameworks": {"tensorflow": "2.18.0"}, "python": "CPython 3.11.7"}
NEW_TF = {"frameworks": {"tensorflow": "2.19.0"}, "python": "CPython 3.11.7"}
#: How schema 1 keyed the loader function tests.loaders.<name>.
LEGACY_KEY = "callable:tests.loaders.{name}:{name}:size=3;warmup=none@cpu"


def record(name: str, load_ms: float, *, size: int = 2 * 2**20, digest: str = "a", peak_mib: float | None = None,
           cold_import_ms: float | None = None, runtime: str = "python", path: str | None = None,
           **fields: Any) -> ModelRecord:
    """A model's figures: five load rounds around ``load_ms``, identity as the plugin makes it today."""
    where = "cpu" if runtime == "python" else runtime
    return ModelRecord(
        key=LEGACY_KEY.format(name=name), name=name, format="callable" if runtime == "python" else "tfjs-graph",
        identity=model_identity(where, format_name="callable", origin=f"tests.loaders.{name}",
                                options="size=3;warmup=none") if runtime == "python" else f"name:{name}@{runtime}",
        runtime=runtime, path=path, size_bytes=size, files=1, artifact_sha256=digest * 64,
        load_ms=Samples([load_ms * factor for factor in (0.98, 0.99, 1.0, 1.01, 1.02)]),
        memory=MemoryFigures(int(peak_mib * 2**20), "vmhwm", "fresh process", 5) if peak_mib is not None else None,
        cold=cold(cold_import_ms) if cold_import_ms is not None else None, **fields,
    )


def cold(import_ms: float) -> ColdProfile:
    runs = [ColdRun(startup_ms=20, import_ms=import_ms, read_ms=5, load_ms=40, first_call_ms=10, steady_ms=[],
                    reload_ms=[], wall_ms=import_ms + 80, harness_ms=1, read_bytes=10, peak_bytes=None,
                    import_rss_bytes=None) for _ in range(2)]
    return ColdProfile(name="m", format="callable", size_bytes=10, files=1, evict=False, runs=runs)


def save(store: BaselineStore, name: str, records: list[ModelRecord], software: dict[str, Any] = OLD_TF,
         machine: str = HERE, commit: str | None = COMMIT) -> Path:
    provenance = {"commit": commit, "branch": "main", "dirty": False} if commit else None
    return store.save(name, {**HARDWARE, **software}, records, provenance=provenance, machine=machine)


def save_schema_1(store: BaselineStore, records: list[ModelRecord]) -> Path:
    """A run as pytest-loadbudget 0.1 saved it: every fact in "machine", no identities, software in its folder."""
    folder = store.directory / LEGACY_FOLDER
    folder.mkdir(parents=True)
    models = [{key: value for key, value in r.to_dict().items() if key != "identity"} for r in records]
    document = {"schema": "pytest-loadbudget/run", "version": 1, "name": "old", "created": "2001-01-01T00:00:00+0000",
                "machine_id": LEGACY_FOLDER, "machine": {**HARDWARE, **OLD_TF}, "models": models}
    path = folder / "0001_old.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def store(tmp_path: Path) -> BaselineStore:
    """Schema 1, then three runs of this machine (alpha's artifact and TensorFlow change in the last),
    two of another machine, and a file that is not a run."""
    store = BaselineStore(tmp_path / "runs")
    save_schema_1(store, [record("alpha", 100)])
    save(store, "r1", [record("alpha", 110), record("beta", 50)])
    save(store, "r2", [record("alpha", 120), record("beta", 50)], commit=None)
    save(store, "r3", [record("alpha", 200, digest="b"), record("beta", 50, size=3 * 2**20)], software=NEW_TF)
    save(store, "o1", [record("alpha", 5000)], machine=OTHER)
    save(store, "o2", [record("alpha", 6000)], machine=OTHER)
    (store.directory / HERE / "0009_broken.json").write_text("{ not json")
    return store


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = cli_main(list(args))
    return code, capsys.readouterr().out.splitlines()


# --- trend ----------------------------------------------------------------------------------


def test_trend_draws_each_model_over_this_machines_runs_schema_1_included(store, capsys):
    code, lines = cli(capsys, "trend", "--storage", str(store.directory), "--machine", HERE)
    broken = store.directory / HERE / "0009_broken.json"
    assert code == 0
    assert lines == [
        f"left out: {broken}: corrupt baseline, not valid JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 3 (char 2)); left untouched",
        f"load (ms) over 4 saved run(s) of {HERE}, oldest first (old .. 1a2b3c4d):",
        # 100, 110, 120, 200: the old run is schema 1, mapped to alpha by its key; the other machine is not here.
        "alpha [callable, cpu]  ▁▂▂█  200 ms (+67%)  artifact changed  env changed: tensorflow 2.18.0 → 2.19.0",
        # beta is not in the schema 1 run: a blank there.
        "beta [callable, cpu]    ▁▁▁  50 ms (+0%)  env changed: tensorflow 2.18.0 → 2.19.0",
    ]


def test_trend_of_the_last_runs_of_one_figure_and_chosen_models(store, capsys):
    code, lines = cli(capsys, "trend", "be*", "--figure", "mb", "--last", "2", "--storage", str(store.directory),
                      "--machine", HERE)
    assert code == 0
    assert lines[1:] == [
        f"size (MiB) over 2 saved run(s) of {HERE}, oldest first (r2 .. 1a2b3c4d):",
        "beta [callable, cpu]  ▁█  3 MiB (+50%)  env changed: tensorflow 2.18.0 → 2.19.0",
    ]


def test_trend_of_another_machine_and_a_model_that_is_not_there(store, capsys):
    code, lines = cli(capsys, "trend", "--storage", str(store.directory), "--machine", OTHER)
    assert (code, lines[1:]) == (0, ["alpha [callable, cpu]  ▁█  6000 ms (+20%)"])
    code, lines = cli(capsys, "trend", "gamma", "--storage", str(store.directory), "--machine", OTHER)
    assert code == 2
    assert lines == ["loadbudget: no saved model matches 'gamma' (names, as `loadbudget trend` lists them, "
                     "or shell patterns)"]


def test_trend_without_runs_of_this_machine_says_so(tmp_path, capsys):
    code, lines = cli(capsys, "trend", "--storage", str(tmp_path), "--machine", "nobody")
    assert (code, lines) == (0, [f"no saved runs of this machine (nobody) under {tmp_path}"])



def timed(load_ms: float, own_ms: float | None) -> ModelRecord:
    """alpha loaded in ``load_ms`` of wall time, ``own_ms`` of own time (None: the system could not tell)."""
    own = Samples([own_ms * factor for factor in (0.98, 0.99, 1.0, 1.01, 1.02)]) if own_ms is not None else Samples()
    return record("alpha", load_ms, load_own_ms=own)


def test_trend_shows_own_time_by_default_and_wall_time_when_asked(tmp_path, capsys):
    store = BaselineStore(tmp_path / "runs")
    # Wall time doubled while own time fell: a machine that got busier, a load that got faster.
    save(store, "r1", [timed(100, 80)])
    save(store, "r2", [timed(200, 60)])
    where = ("--storage", str(store.directory), "--machine", HERE)
    code, lines = cli(capsys, "trend", *where)
    assert (code, lines[1:]) == (0, ["alpha [callable, cpu]  █▁  60 ms (-25%)"])
    code, lines = cli(capsys, "trend", "--clock", "wall", *where)
    assert (code, lines[1:]) == (0, ["alpha [callable, cpu]  ▁█  200 ms (+100%)"])


def test_trend_never_mixes_own_and_wall_time_in_one_line(tmp_path, capsys):
    store = BaselineStore(tmp_path / "runs")
    # The middle run has no own time: the line is wall time throughout (100, 140, 200), and says why.
    # Mixed, it would read 80, 140, 60: a step up and back where nothing changed.
    save(store, "r1", [timed(100, 80)])
    save(store, "r2", [timed(140, None)])
    save(store, "r3", [timed(200, 60)])
    code, lines = cli(capsys, "trend", "--storage", str(store.directory), "--machine", HERE)
    assert code == 0
    assert lines[1:] == ["alpha [callable, cpu]  ▁▄█  200 ms (+43%)  wall time: some runs have no own time"]


def predicting(name: str, tensors: list[int], rss_mib: list[float]) -> ModelRecord:
    """A model whose ``len(tensors) - 1`` predictions ran, with the live tensors and RSS read around them."""
    growth = PredictionGrowth(count=len(tensors) - 1, where="python", tensors=tensors,
                              rss_bytes=[int(mib * 2**20) for mib in rss_mib])
    return record(name, 10, predictions=growth)


def test_trend_follows_what_predictions_leave_in_their_own_units(tmp_path, capsys):
    store = BaselineStore(tmp_path / "runs")
    save(store, "r1", [predicting("alpha", [3, 3, 3], [100, 100, 100])])
    save(store, "r2", [predicting("alpha", [3, 5, 8], [100, 104, 108])])
    code, lines = cli(capsys, "trend", "--figure", "predict_leak_tensors", "--storage", str(store.directory),
                      "--machine", HERE)
    assert code == 0
    assert lines == [f"tensors left by predictions (tensors) over 2 saved run(s) of {HERE}, oldest first "
                     "(1a2b3c4d .. 1a2b3c4d):",
                     "alpha [callable, cpu]  ▁█  5 tensors (+5)"]
    code, lines = cli(capsys, "trend", "--figure", "predict_leak_mb", "--storage", str(store.directory),
                      "--machine", HERE)
    assert code == 0
    assert lines[1:] == ["alpha [callable, cpu]  ▁█  8 MiB (new)"]


def test_every_figure_a_history_follows_has_its_unit_and_a_reader():
    # Every figure of the registry: none may fall back to a time's reader.
    assert {figure for figure, described in FIGURES.items() if described.unit == "ms"} == set(REMEASURED)
    empty = ModelRecord(key="k", name="m", format="callable")
    assert {figure: figure_value(figure, empty, "wall") for figure in FIGURES} == dict.fromkeys(FIGURES)


# --- prune ----------------------------------------------------------------------------------


def test_prune_keeps_the_newest_runs_of_each_machine_and_never_an_unreadable_file(store, capsys):
    before = sorted(store.directory.rglob("*.json"))
    here, other, legacy = store.directory / HERE, store.directory / OTHER, store.directory / LEGACY_FOLDER
    removed = [legacy / "0001_old.json", here / "0001_r1.json", here / "0002_r2.json", other / "0001_o1.json"]
    code, lines = cli(capsys, "prune", "--keep", "1", "--dry-run", "--storage", str(store.directory))
    assert code == 0 and sorted(store.directory.rglob("*.json")) == before, "a dry run removes nothing"
    assert sorted(lines[:4]) == sorted(f"would remove {path}" for path in removed)
    assert lines[4:] == [
        f"left alone (not readable as a saved run): {here / '0009_broken.json'}: corrupt baseline, not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 3 (char 2)); left untouched",
        "would remove 4 saved run(s); kept the newest 1 of each of 2 machine(s)",
    ]
    code, lines = cli(capsys, "prune", "--keep", "1", "--storage", str(store.directory))
    assert code == 0 and lines[-1] == "removed 4 saved run(s); kept the newest 1 of each of 2 machine(s)"
    assert sorted(lines[:4]) == sorted(f"removed {path}" for path in removed)
    assert sorted(store.directory.rglob("*.json")) == [here / "0003_r3.json", here / "0009_broken.json",
                                                        other / "0002_o2.json"]


def test_prune_keeping_more_than_there_are_removes_nothing(store, capsys):
    code, lines = cli(capsys, "prune", "--keep", "5", "--storage", str(store.directory))
    assert (code, lines[-1]) == (0, "removed 0 saved run(s); kept the newest 5 of each of 2 machine(s)")
    assert len(list(store.directory.rglob("*.json"))) == 7


# --- the HTML page --------------------------------------------------------------------------


def tfjs(runtime: str, load_ms: float, **figures: Any) -> ModelRecord:
    return record("mobilenet", load_ms, runtime=runtime, path="web/model.json",
                  runtime_figures={"leak_tensors": 0, **figures})


def page_history(store: BaselineStore) -> tuple[list[ModelRecord], History]:
    """The store's runs of this machine (alpha: 4 points, beta: 3) and this run, where alpha has a
    cold start as r3 had, and mobilenet loads in Node and in the browser."""
    save(store, "r4", [record("alpha", 150, cold_import_ms=900)], software=NEW_TF)
    this_run = [record("alpha", 160, cold_import_ms=1200, peak_mib=80), record("beta", 40),
                tfjs("node wasm", 300), tfjs("browser webgl cache", 700, first_load_ms=700.0, cached_load_ms=90.0)]
    history = read_history(store, HERE)
    history.add_run(RunInfo(THIS_RUN, "now", NEW_TF), current_entries(this_run))
    return this_run, history


#: The dots each line series of a chart draws, by model, chart and series name (from page_history).
EXPECTED_DOTS = {
    "alpha [callable, cpu]": {"times": {"load": 6}, "memory": {"size": 6, "peak": 1}},
    "beta [callable, cpu]": {"times": {"load": 4}, "memory": {"size": 4}},
    "mobilenet [tfjs-graph, node wasm]": {"times": {"load": 1}, "memory": {"size": 1},
                                          "tensors": {"leaked tensors": 1}},
    "mobilenet [tfjs-graph, browser webgl cache]": {"times": {"load": 1, "first load": 1, "cached load": 1},
                                                    "memory": {"size": 1}, "tensors": {"leaked tensors": 1}},
}
#: Bars: alpha's cold start in r4 and this run, five phases each; mobilenet in two runtimes.
EXPECTED_BARS = {"cold": [2] * 5, "runtimes": {"load": 2, "first load": 1, "cached load": 1}}

#: Each series of a chart (pygal draws one <g class="series serie-N"> per layer): its dots and drawn bars.
COUNT_SCRIPT = """figure => {
    const counts = [];
    for (const group of figure.querySelectorAll('g.series')) {
        const serie = [...group.classList].find(name => /^serie-[0-9]+$/.test(name));
        const index = parseInt(serie.slice('serie-'.length));
        counts[index] = counts[index] || {dots: 0, bars: 0};
        counts[index].dots += group.querySelectorAll('circle.dot').length;
        // A stacked chart pads a missing value with a bar of no height: only drawn bars count.
        counts[index].bars += [...group.querySelectorAll('rect.rect')]
            .filter(bar => parseFloat(bar.getAttribute('height')) > 0).length;
    }
    return counts;
}"""


def open_page(path: Path, screenshot: Path) -> dict[str, Any]:
    """Open ``path`` in the plugin's Chromium: every chart's drawn points, the console, the requests."""
    from pytest_loadbudget.tfjs_runtime.browser import CHROMIUM_ARGS, find_chromium
    from pytest_loadbudget.tfjs_runtime.errors import RuntimeUnavailable

    try:
        chromium = find_chromium()
        from playwright.sync_api import sync_playwright
    except (RuntimeUnavailable, ImportError) as error:
        pytest.skip(f"the HTML page is checked in Chromium through Playwright: {error}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, chromium_sandbox=False,
                                             args=list(CHROMIUM_ARGS), timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            console: list[str] = []
            requests: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri(), wait_until="load", timeout=30_000)
            charts: dict[str, dict[str, Any]] = {}
            for section in page.query_selector_all("section.model, section.runtimes"):
                heading = section.query_selector("h2").inner_text()
                for figure in section.query_selector_all("figure.chart"):
                    names = figure.query_selector("figcaption").inner_text().split(", ")
                    counts = figure.evaluate(COUNT_SCRIPT)
                    charts.setdefault(heading, {})[figure.get_attribute("data-chart")] = dict(zip(names, counts))
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return {"charts": charts, "console": console, "requests": requests}


def test_the_page_in_chromium_draws_every_models_runs_offline_without_a_console_error(store, tmp_path):
    pytest.importorskip("pygal", reason="the charts are drawn by pygal: pip install 'pytest-loadbudget[html]'")
    from pytest_loadbudget.report.html import html_page

    records, history = page_history(store)
    page = tmp_path / "report.html"
    page.write_text(html_page(records, history), encoding="utf-8")
    # In a thread of its own: Playwright's sync API refuses a thread whose event loop
    # runs, and a session-scoped browser of another test module may hold this one's.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(open_page, page, tmp_path / "report.png").result()
    print(f"screenshot: {tmp_path / 'report.png'}")
    assert seen["console"] == []
    assert seen["requests"] == [page.as_uri()], "the page fetches nothing: it works offline"
    assert (tmp_path / "report.png").stat().st_size > 10_000
    charts = seen["charts"]
    for heading, expected in EXPECTED_DOTS.items():
        drawn = {chart: {serie: counts["dots"] for serie, counts in series.items()}
                 for chart, series in charts[heading].items() if chart in ("times", "memory", "tensors")}
        assert drawn == expected, heading
    assert [counts["bars"] for counts in charts["alpha [callable, cpu]"]["cold"].values()] == EXPECTED_BARS["cold"]
    side_by_side = charts["Where each TF.js model loads, side by side"]["runtimes"]
    assert {serie: counts["bars"] for serie, counts in side_by_side.items()} == EXPECTED_BARS["runtimes"]


def test_the_page_marks_where_the_artifact_and_the_software_changed(store):
    pytest.importorskip("pygal", reason="the charts are drawn by pygal: pip install 'pytest-loadbudget[html]'")
    from pytest_loadbudget.report.html import html_page

    records, history = page_history(store)
    text = html_page(records, history)
    assert "<li>1a2b3c4d: artifact changed; env changed: tensorflow 2.18.0 → 2.19.0</li>" in text
    # The run label on the x axis carries both marks; r2 was saved outside git: its name.
    assert ">1a2b3c4d▲◆</text>" in text and ">r2</text>" in text
    assert "<script" not in text.split("<svg", 1)[0], "no script of the page's own"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "nothing to fetch"


def test_the_page_lists_the_saved_runs_it_could_not_show(store):
    pytest.importorskip("pygal", reason="the charts are drawn by pygal: pip install 'pytest-loadbudget[html]'")
    from pytest_loadbudget.report.html import html_page

    records, history = page_history(store)
    text = html_page(records, history)
    broken = store.directory / HERE / "0009_broken.json"
    assert (f'<p class="warning">Saved runs not shown:</p><ul class="problems"><li>left out: {broken}: corrupt '
            "baseline, not valid JSON (Expecting property name enclosed in double quotes: line 1 column 3 "
            "(char 2)); left untouched</li></ul>") in text


def test_the_page_marks_a_device_change_between_saved_runs(tmp_path):
    pytest.importorskip("pygal", reason="the charts are drawn by pygal: pip install 'pytest-loadbudget[html]'")
    from pytest_loadbudget.report.html import html_page

    store = BaselineStore(tmp_path / "runs")
    # The same GPU after a driver upgrade: one model (the identity leaves the driver out), the same software.
    before, after = "gpu: A100 (driver 535.1)", "gpu: A100 (driver 550.2)"
    identity = model_identity(before, name="encoder")

    def on(device: str) -> ModelRecord:
        return ModelRecord(key="k", name="encoder", format="callable", identity=identity, device=device,
                           load_ms=Samples([100.0, 101.0, 102.0]))

    save(store, "r1", [on(before)], commit=None)
    save(store, "r2", [on(after)], commit=None)
    model = on(after)
    history = read_history(store, HERE)
    history.add_run(RunInfo(THIS_RUN, "now", OLD_TF), current_entries([model]))
    text = html_page([model], history)
    section = text.split(f'<section class="model" data-model="{identity}">', 1)[1].split("</section>", 1)[0]
    # r2 alone is marked: the saved run before it ran on the old driver, this run on the same as r2.
    assert f'<ul class="changes"><li>r2: env changed: device {before} → {after}</li></ul>' in section
    assert ">r2◆</text>" in section and ">r1</text>" in section and ">this run</text>" in section


SUITE = textwrap.dedent(
    """
    def tokenizer():
        return dict()

    def test_tokenizer(load_model):
        load_model(tokenizer, warmup=None)
    """
)


def times_dots(page: Path) -> list[int]:
    """The dots of each series of the page's first times chart, read from its SVG."""
    figure = page.read_text(encoding="utf-8").split('data-chart="times">', 1)[1]
    svg = ElementTree.fromstring(figure[:figure.index("</svg>") + len("</svg>")])
    dots: dict[int, int] = {}
    for group in svg.iter("{http://www.w3.org/2000/svg}g"):
        serie = re.search(r"\bserie-(\d+)\b", group.get("class", ""))
        if serie:
            circles = [c for c in group.iter("{http://www.w3.org/2000/svg}circle") if "dot" in c.get("class", "")]
            dots[int(serie.group(1))] = dots.get(int(serie.group(1)), 0) + len(circles)
    return [dots[index] for index in sorted(dots)]


def test_the_plugin_writes_the_page_after_saving_and_shows_the_saved_run_once(pytester):
    pytest.importorskip("pygal", reason="the charts are drawn by pygal: pip install 'pytest-loadbudget[html]'")
    pytester.makepyfile(test_suite=SUITE)
    args = ("--loadbudget-rounds=5", "--loadbudget-save", "--loadbudget-html=page.html")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert times_dots(pytester.path / "page.html") == [1, 1]  # this run alone: wall and own time
    pytester.runpytest(*args).assert_outcomes(passed=1)
    page = pytester.path / "page.html"
    assert "1 saved run(s) and this one" in page.read_text(encoding="utf-8")
    assert times_dots(page) == [2, 2], "the run just saved is this run, not a saved one as well"


def test_without_pygal_the_page_is_a_problem_line_naming_the_extra_and_the_run_is_still_saved(pytester):
    # In a process of its own: what this one's earlier tests imported stays out of it.
    pytester.makeconftest('import sys\nsys.modules["pygal"] = None  # import pygal raises ImportError\n')
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("--loadbudget-rounds=1", "--loadbudget-save=kept",
                                           "--loadbudget-html=page.html")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"loadbudget: could not write {pytester.path / 'page.html'} (--loadbudget-html): the HTML report draws its "
        "charts with pygal, which is not installed: pip install 'pytest-loadbudget[html]' (or pip install pygal)",
    ])
    assert not (pytester.path / "page.html").exists()
    assert [path.name for path in (pytester.path / ".loadbudget").glob("*/*.json")] == ["0001_kept.json"]


def test_the_ini_key_asks_for_the_page(pytester):
    pytest.importorskip("pygal", reason="the charts are drawn by pygal: pip install 'pytest-loadbudget[html]'")
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\nloadbudget_html = from-ini.html\n")
    pytester.runpytest("--loadbudget-rounds=1", "--loadbudget-json=out.json").assert_outcomes(passed=1)
    text = (pytester.path / "from-ini.html").read_text(encoding="utf-8")
    (model,) = json.loads((pytester.path / "out.json").read_text())["models"]
    identity = model["identity"]
    assert (f'<section class="model" data-model="{identity}"><h2>tokenizer [callable, cpu]</h2>'
            f'<p class="about">1 run(s); identity <code>{identity}</code></p>') in text
