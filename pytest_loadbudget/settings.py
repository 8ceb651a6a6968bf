"""Options, environment variables and ini keys, resolved once into frozen settings.

Precedence: command line, then environment (``LOADBUDGET_*``), then ini
(``loadbudget_*``), then the default. Each help text is written once and
serves the option and the ini key.

Every pytest run imports this module (pytest_addoption): it imports nothing
of the measuring, baseline or report code.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_loadbudget.budget.thresholds import DEFAULT_COMPARE_FAIL, Threshold, parse_compare_fail
from pytest_loadbudget.fresh.protocol import DEFAULT_TIMEOUT_S


MEMORY_CHOICES = ("budget", "all")
DEVICE_CHOICES = ("cpu", "gpu")
#: ``own``: wall time minus the time the working thread waited for a CPU (what
#: the load costs whoever else runs on the machine; wall time where the system
#: cannot tell); ``wall``: wall time as it is.
CLOCK_CHOICES = ("own", "wall")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def rounds_value(text: str) -> int | None:
    return None if text == "auto" else positive_int(text)


def cycles_value(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a leak needs at least 2 cycles (the first is the reference)")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def memory_value(text: str) -> str:
    if text not in MEMORY_CHOICES:
        raise argparse.ArgumentTypeError(f"{text!r}: choose one of {', '.join(MEMORY_CHOICES)}")
    return text


def device_value(text: str) -> str:
    if text not in DEVICE_CHOICES:
        raise argparse.ArgumentTypeError(f"{text!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    return text


def compare_fail_value(text: str) -> dict[str, Threshold | None]:
    """The thresholds --loadbudget-compare-fail changes (None: ``off``); ArgumentTypeError says what is wrong."""
    return parse_compare_fail(text)


def clock_value(text: str) -> str:
    if text not in CLOCK_CHOICES:
        raise argparse.ArgumentTypeError(f"{text!r}: choose one of {', '.join(CLOCK_CHOICES)}")
    return text


def machine_name(text: str) -> str:
    name = text.strip()
    # It names a folder of saved runs: no separators, nothing that climbs out.
    if not name or name in (".", "..") or any(char in name for char in "/\\\0"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable machine name (letters, digits, '-', '_', '.')")
    return name


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (use true or false)")


def suggest_value(text: str) -> str | None:
    """What --loadbudget-suggest prints: "markers", "config", a .toml path, or None (a false boolean)."""
    stripped = text.strip()
    if stripped.lower() in ("markers", "config"):
        return stripped.lower()
    if stripped.endswith(".toml"):
        return stripped
    try:  # true or false, as the ini key and the variable took before they took a kind
        return "markers" if boolean(stripped) else None
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: choose 'markers', 'config' or a path ending in .toml") from None


def against_value(text: str) -> str:
    """A SOURCE as given: resolved (a directory, else a git revision) when the session first needs it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty SOURCE: give a git revision (origin/main, HEAD~1, a SHA) or a "
                                         "directory")
    return text.strip()


@dataclass(frozen=True)
class Option:
    name: str  # the part after the prefix: --loadbudget-NAME, loadbudget_NAME, LOADBUDGET_NAME
    help: str
    parse: Callable[[str], Any]
    default: Any
    flag: bool = False
    metavar: str | None = None
    #: ``--loadbudget-save`` alone or ``--loadbudget-save=NAME``: the bare option gives ``bare``.
    optional_value: bool = False
    bare: str = ""
    #: A setting that is on by default: the command line has ``--loadbudget-no-NAME`` to turn it
    #: off (its help: "do not " and the help), the environment and the ini key take true or false.
    negated_flag: bool = False

    @property
    def dest(self) -> str:
        return "loadbudget_" + self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return self.dest.upper()


OPTIONS = (
    Option("report", "print a table of every model's load figures against its budget", boolean, False, flag=True),
    Option("json", "write every model's figures, raw samples included, as JSON to this path", str, None,
           metavar="PATH"),
    Option("rounds", "timed load rounds per model: a number, or 'auto' (at least 5, more while under 2 s)",
           rounds_value, None, metavar="N"),
    Option("cycles", "load/release cycles for leak figures (default 5)", cycles_value, 5, metavar="N"),
    Option("memory", "measure peak and leak memory for 'budget' models only (those with peak_mb, leak_mb or "
           "cycles; default) or for 'all' models", memory_value, "budget", metavar="WHICH"),
    Option("timeout", f"seconds a measurement in a fresh process or a TF.js runtime may take "
           f"(default {DEFAULT_TIMEOUT_S:g})", positive_seconds, DEFAULT_TIMEOUT_S, metavar="SECONDS"),
    Option("disable", "load each model once without measuring or checking budgets", boolean, False, flag=True),
    Option("cold-runs", "fresh processes per model for cold-start figures (default 3)", positive_int, 3,
           metavar="N"),
    Option("cold-disk", "evict model files from the page cache before each cold run (best effort)", boolean, False,
           flag=True),
    Option("cold", "measure the cold start of 'budget' models only (cold_ms, import_ms; default) or of 'all'",
           memory_value, "budget", metavar="WHICH"),
    Option("diagnose", "add to the report, for every model, the phase that dominates and what usually fixes it",
           boolean, False, flag=True),
    Option("device", "place every model on 'cpu' or 'gpu' unless its marker says otherwise "
           "(default: where the framework puts it)", device_value, None, metavar="DEVICE"),
    Option("require-gpu", "fail, rather than skip, tests that ask for a GPU on a machine without one",
           boolean, False, flag=True),
    Option("node", "the node executable for runtime='node' (default: node on PATH)", str, None, metavar="PATH"),
    Option("chromium", "the Chromium or Chrome for runtime='browser' (default: /usr/bin/chromium)", str, None,
           metavar="PATH"),
    Option("storage", "directory of saved runs (default: .loadbudget under the rootdir)", str, None, metavar="DIR"),
    Option("save", "save this run's figures as a baseline, named NAME (default: date and time)", str, None,
           metavar="NAME", optional_value=True),
    Option("compare", "compare with a saved run: its NAME, number, commit or path (default: each model with its "
           "newest saved figures on this machine)",
           str, None, metavar="NAME", optional_value=True),
    Option("compare-fail", "what counts as a regression: the figures named change the default, e.g. "
           "ms:15%,peak_mb:5%,leak_mb:off (default "
           f"{DEFAULT_COMPARE_FAIL}; N% relative, N absolute in ms or MiB, off: shown, never failing)",
           compare_fail_value, None, metavar="EXPR"),
    Option("baseline-runs", "judge load and warm-up rounds against those of this many newest saved runs of the "
           "same artifact and software on this machine (default 5; 1: the newest run alone)", positive_int, 5,
           metavar="N"),
    Option("clock", "what time budgets and the regression gate judge: 'own' (wall time minus the time the "
           "loading thread waited for a CPU; default) or 'wall'", clock_value, "own", metavar="CLOCK"),
    Option("machine", "name this machine for its saved runs (self-hosted runners; default: an id of the hardware)",
           machine_name, None, metavar="NAME"),
    Option("autosave", "save this run under the short git commit id (or date and time outside git)", boolean,
           False, flag=True),
    Option("compare-any-machine", "fail on regressions against a baseline from another machine too",
           boolean, False, flag=True),
    Option("suggest", "print budgets set from this run's figures plus headroom, ready to paste: 'markers' "
           "(load_budget markers; the option alone), 'config' ([[tool.loadbudget.models]] entries), or a PATH "
           "ending in .toml to write the entries to (loadbudget.toml form)", suggest_value, None,
           metavar="WHAT", optional_value=True, bare="markers"),
    Option("markdown", "write the report as a Markdown table (for a CI step summary or a PR comment)", str, None,
           metavar="PATH"),
    Option("benchmark-json", "write load times in pytest-benchmark's JSON format", str, None, metavar="PATH"),
    Option("html", "write one self-contained HTML page: the report table and each model's figures charted over "
           "this machine's saved runs (needs pytest-loadbudget[html])", str, None, metavar="PATH"),
    Option("github-json", "write every figure for github-action-benchmark (its customSmallerIsBetter format)",
           str, None, metavar="PATH"),
    Option("against", "measure each model against its copy at SOURCE in this run, in balanced AB/BA pairs: a git "
           "revision of the tests' repository (origin/main, HEAD~1, a SHA) or a directory; the model is looked up "
           "at the same path relative to the repository root", against_value, None, metavar="SOURCE"),
    Option("against-seconds", "the time the pairs of one model may take before a figure still undecided is said "
           "undecided (default 60)", positive_seconds, 60.0, metavar="SECONDS"),
    Option("step-summary", "append the Markdown report to the file $GITHUB_STEP_SUMMARY names, where it is set "
           "(GitHub Actions; on by default)", boolean, True,
           negated_flag=True),
)


@dataclass(frozen=True)
class Settings:
    report: bool
    json: str | None
    rounds: int | None
    cycles: int
    memory: str
    timeout: float
    disable: bool
    cold_runs: int
    cold_disk: bool
    cold: str
    diagnose: bool
    device: str | None
    require_gpu: bool
    node: str | None
    chromium: str | None
    storage: str | None
    save: str | None
    compare: str | None
    compare_fail: dict[str, Threshold | None] | None
    baseline_runs: int
    clock: str
    machine: str | None
    autosave: bool
    compare_any_machine: bool
    #: None (off), "markers", "config" (print entries) or the path of a .toml file to write entries to.
    suggest: str | None
    markdown: str | None
    benchmark_json: str | None
    html: str | None
    github_json: str | None
    #: The paired gate's SOURCE (a git revision or a directory), None without one.
    against: str | None
    against_seconds: float
    step_summary: bool

    @property
    def step_summary_file(self) -> str | None:
        """The job summary GitHub Actions collects, unless turned off; None outside GitHub Actions."""
        return (os.environ.get("GITHUB_STEP_SUMMARY") or None) if self.step_summary else None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("loadbudget", "budgets on how ML models load (pytest-loadbudget)")
    for option in OPTIONS:
        if option.negated_flag:
            group.addoption(f"--loadbudget-no-{option.name}", action="store_const", const=False, default=None,
                            dest=option.dest, help="do not " + option.help.replace("%", "%%"))
        elif option.flag:
            group.addoption(f"--loadbudget-{option.name}", action="store_const", const=True, default=None,
                            dest=option.dest, help=option.help.replace("%", "%%"))
        elif option.optional_value:
            group.addoption(f"--loadbudget-{option.name}", nargs="?", const=option.bare, default=None,
                            type=option.parse, dest=option.dest, metavar=option.metavar,
                            help=option.help.replace("%", "%%"))
        else:
            group.addoption(f"--loadbudget-{option.name}", type=option.parse, default=None, dest=option.dest,
                            metavar=option.metavar, help=option.help.replace("%", "%%"))
        parser.addini(option.dest, help=option.help, default=None)


def resolve(config: pytest.Config) -> Settings:
    """Settings from the command line, the environment, the ini file and defaults.

    Raises pytest.UsageError naming the bad value and where it came from.
    """
    values: dict[str, Any] = {}
    for option in OPTIONS:
        values[option.name.replace("-", "_")] = _resolve_one(config, option)
    return Settings(**values)


def _resolve_one(config: pytest.Config, option: Option) -> Any:
    from_command_line = config.getoption(option.dest)
    if from_command_line is not None:
        return from_command_line
    for source, raw in (
        (f"environment variable {option.env}", os.environ.get(option.env)),
        (f"ini key {option.dest}", config.getini(option.dest)),
    ):
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and source.startswith("ini")):
            continue
        try:
            return option.parse(str(raw).strip())
        except argparse.ArgumentTypeError as error:
            raise pytest.UsageError(f"invalid value for {source}: {error}") from None
    return option.default
