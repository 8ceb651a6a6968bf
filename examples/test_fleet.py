"""Fleet starts: 1, 2, 4 and 8 fresh processes loading MobileNetV2 at the same moment.

What a deployment that starts many workers at once pays (an autoscaler's
burst, a restart of every pod on a node): each process imports the
framework, reads the artifact, loads it and makes its first call while its
siblings do the same on the same cores and disk. ``fleet=N`` starts N
processes together (they wait at a barrier after their start-up) and sets
them against the single cold start of the same session; ``fleet_ms`` limits
the 95th percentile. With ``cold_disk=True`` the artifact is dropped from
the page cache first, so the processes race for the same cold bytes.

The .keras model pays for TensorFlow's import in every process; the .tflite
one needs only a TFLite interpreter. The table at the end of this module
shows each fleet against the single start, and the phase that grew the most:
import or load growing says the processes fought over the CPU, read
growing says storage.

Budgets: about 3x the p95 seen on a 2-core machine that other jobs kept busy
(load average 12 to 20: a single .keras cold start took 47 s there, a fleet of
8 of them 95 s), where a fleet of 8 waits for a CPU most of its time.
The .tflite file cannot be evicted while the test process holds it mapped
(TFLite maps its flatbuffer): its "evicted" fleets start from a warm cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from build_models import ExampleModels
from pytest_loadbudget import LoadModel
from pytest_loadbudget.diagnose.fleet import BOTTLENECK_WORDS, grown_words
from pytest_loadbudget.results.fleet_profile import FleetProfile

#: Rows of the table printed after the last fleet: (model, cache, fleet).
FLEETS: list[tuple[str, str, FleetProfile]] = []

#: The p95 budget of each fleet, ms, by format and size.
FLEET_BUDGET_MS = {
    "keras": {1: 180_000, 2: 240_000, 4: 300_000, 8: 360_000},
    "tflite": {1: 3_000, 2: 4_000, 4: 6_000, 8: 10_000},
}


def _cases() -> Iterator[pytest.ParameterSet]:
    # Each model's warm fleets, then its evicted ones: the single cold start is
    # measured once per model and page-cache state, and shared by its fleets.
    for fmt in ("keras", "tflite"):
        for evict in (False, True):
            for size in (1, 2, 4, 8):
                marks = pytest.mark.load_budget(fleet=size, fleet_ms=FLEET_BUDGET_MS[fmt][size], cold_runs=3,
                                                cold_disk=evict)
                cache = "evicted" if evict else "warm"
                yield pytest.param(fmt, size, marks=marks, id=f"{fmt}-{cache}-{size}")


@pytest.fixture(scope="module", autouse=True)
def fleet_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module's last fleet: one row per fleet, on the terminal (whatever -s says)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or not FLEETS:
        return
    if capture is not None:  # a fixture's teardown output is captured, and shown only on a failure
        with capture.global_and_fixture_disabled():
            _write_table(reporter)
    else:
        _write_table(reporter)


def _write_table(reporter: Any) -> None:
    reporter.write_sep("-", "fleet starts of MobileNetV2")
    header = ("model", "cache", "N", "median", "p95", "slowest", "single", "slowdown", "grew most", "bottleneck")
    rows = [header] + [
        (name, cache, str(fleet.size), f"{fleet.median_ms:.0f} ms", f"{fleet.p95_ms:.0f} ms",
         f"{fleet.slowest_ms:.0f} ms", f"{fleet.single_ms:.0f} ms", f"{fleet.slowdown:.2f}x",
         grown_words(fleet.grown_phase), BOTTLENECK_WORDS[fleet.bottleneck])
        for name, cache, fleet in FLEETS
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        reporter.write_line("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@pytest.mark.parametrize(("fmt", "size"), list(_cases()))
def test_mobilenet_fleet_start(load_model: LoadModel, models: ExampleModels, fmt: str, size: int) -> None:
    load_model(models.mobilenet[fmt])
    if not load_model.measuring:
        pytest.skip("no fleet is started under --loadbudget-disable")
    record = load_model.last
    assert record is not None and record.fleet is not None, "the fleet was not measured"
    fleet = record.fleet
    assert fleet.size == size
    cache = "evicted" if fleet.fleet.evict else "warm"
    FLEETS.append((f"mobilenetv2.{fmt}", cache, fleet))
