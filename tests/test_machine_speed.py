"""Rounds timed on a faster machine are judged at the baseline's speed, by as much as the load follows it.

Hand-built records: each round's time paired with the speed workload's
reading after it, as ``measure/loads.py`` records them.
"""

from __future__ import annotations

import pytest

from pytest_loadbudget.baseline.compare import compare
from pytest_loadbudget.baseline.machine_speed import LEARN_ROUNDS, SpeedFollowing, learn
from pytest_loadbudget.budget.thresholds import DEFAULT_COMPARE_FAIL, parse_compare_fail
from pytest_loadbudget.measure import speed
from pytest_loadbudget.results.comparison import Comparison
from pytest_loadbudget.results.record import ModelRecord
from pytest_loadbudget.results.samples import Samples

DEFAULTS = parse_compare_fail(DEFAULT_COMPARE_FAIL)
#: The speed workload's readings of a run in a slow spell: 2.0-3.0 ms, median 2.5 ms.
SLOW_SPELL = [2.0, 2.1, 2.2, 2.3, 2.4, 2.6, 2.7, 2.8, 2.9, 3.0]


def timed(probes: list[float], follows: float, work: float = 100.0, offset: float = 0.0) -> ModelRecord:
    """A run whose every round took ``work`` ms at a 2.5 ms workload reading, following the machine's
    speed by ``follows`` (0: not at all, 1: in step with the workload)."""
    values = [work * (probe / 2.5) ** follows + offset + 0.01 * index for index, probe in enumerate(probes)]
    return ModelRecord(key="callable:m", name="m", format="callable", runtime="python",
                       load_ms=Samples(values), load_own_ms=Samples(list(values)), speed_ms=Samples(list(probes)))


def load_of(history: tuple[ModelRecord, ...], new: ModelRecord) -> Comparison:
    (load,) = [c for c in compare(history[1], new, DEFAULTS, history=history) if c.figure == "ms"]
    return load


def test_how_much_a_load_follows_the_machine_is_learned_from_its_saved_rounds() -> None:
    for follows in (0.0, 0.3, 0.8):
        runs = [timed(SLOW_SPELL, follows) for _ in range(3)]
        learned = learn(((run.load_own_ms, run.speed_ms) for run in runs), runs[0].speed_ms)
        assert learned is not None and learned.follows == pytest.approx(follows, abs=0.02)
        assert learned.rounds == 30 and learned.reference_ms == pytest.approx(2.5)
    # Never beyond the machine itself, never below standing still.
    steep = timed(SLOW_SPELL, 2.0)
    learned = learn([(steep.load_own_ms, steep.speed_ms)], steep.speed_ms)
    assert learned is not None and learned.follows == 1.0


def test_nothing_is_learned_from_a_machine_whose_speed_did_not_vary_or_from_too_few_rounds() -> None:
    steady = timed([2.45, 2.5, 2.55] * 4, 1.0)
    assert learn([(steady.load_own_ms, steady.speed_ms)], steady.speed_ms) is None
    few = timed(SLOW_SPELL[:LEARN_ROUNDS - 1], 1.0)
    assert learn([(few.load_own_ms, few.speed_ms)], few.speed_ms) is None
    # Rounds without a workload reading each (an older saved run) teach nothing.
    unpaired = timed(SLOW_SPELL, 1.0)
    unpaired.speed_ms = Samples(SLOW_SPELL[:5])
    assert learn([(unpaired.load_own_ms, unpaired.speed_ms)], unpaired.speed_ms) is None


def test_only_rounds_on_a_faster_machine_are_scaled() -> None:
    following = SpeedFollowing(follows=0.5, rounds=30, reference_ms=2.5)
    scaled = following.at_reference(Samples([90.0, 100.0, 110.0]), Samples([1.6, 2.5, 3.6]))
    assert scaled.values == pytest.approx([90.0 * 1.25, 100.0, 110.0])
    # Without a reading per round the rounds stay as measured.
    assert following.at_reference(Samples([90.0, 100.0]), Samples([1.6])).values == [90.0, 100.0]


def test_a_regression_measured_on_a_faster_machine_fails_at_the_baseline_speed() -> None:
    # Three saved runs in a slow spell, the load following 0.4 of the machine's speed: too little to be judged
    # against saved rounds at each round's speed (MATCH_FOLLOWS), scaled by the learned exponent instead.
    history = tuple(timed(SLOW_SPELL, 0.4, offset=offset) for offset in (-1.0, 0.0, 1.0))
    fast = [1.5, 1.52, 1.54, 1.56, 1.58, 1.6]
    # The same model on a machine 40% faster: 83 ms against 100, at the baseline's speed 100.
    unchanged = load_of(history, timed(fast, 0.4))
    assert not unchanged.grown and not unchanged.regression
    # 1.2x the work on that machine reads 99 ms, within the saved rounds; at the baseline's speed 120.
    regressed = load_of(history, timed(fast, 0.4, work=120.0))
    assert regressed.regression, regressed.note
    assert regressed.measured == "119 ms" and regressed.change == "+18%"
    assert regressed.note.startswith("at the baseline's machine speed: rounds timed while the machine ran faster "
                                     "than in the baseline's run (a fixed workload after each round: 1.55 ms now, "
                                     "2.50 ms then) are scaled to its speed by the ")
    assert regressed.note.endswith("of the machine's speed this load followed over 30 saved rounds; measured 99.1 ms")
    # Saved runs that never saw the machine's speed vary cannot say how much the load follows it:
    # the same rounds are judged as measured, faster than the baseline.
    steady = tuple(timed([2.5] * 10, 0.5, offset=offset) for offset in (-1.0, 0.0, 1.0))
    assert not load_of(steady, timed(fast, 0.5, work=120.0)).grown
    # Warm-ups are judged as measured: they followed the machine's speed less predictably.
    for run in (*history, new := timed(fast, 0.5, work=120.0)):
        run.warm_ms, run.warm_own_ms = run.load_ms, run.load_own_ms
    (warm,) = [c for c in compare(history[1], new, DEFAULTS, history=history) if c.figure == "warm_ms"]
    assert not warm.grown and warm.measured == "94.5 ms"


def test_a_load_the_machine_speed_does_not_reach_is_judged_as_measured() -> None:
    # An I/O-bound load: its saved rounds took 100 ms whatever the workload read.
    history = tuple(timed(SLOW_SPELL, 0.0, offset=offset) for offset in (-1.0, 0.0, 1.0))
    fast = [1.5, 1.52, 1.54, 1.56, 1.58, 1.6]
    load = load_of(history, timed(fast, 0.0, work=105.0))
    assert not load.grown and load.line.startswith("m load 105 ms vs baseline 100 ms (+5%")
    # On the wall clock nothing is scaled: its waits are not the machine's speed.
    (wall,) = [c for c in compare(history[1], timed(fast, 0.5, work=120.0), DEFAULTS, clock="wall",
                                  history=history) if c.figure == "ms"]
    assert not wall.grown


#: A machine that flips between two speeds within a run: the workload reads 1.5 or 2.8 ms, rarely between.
TWO_SPEEDS = [1.5, 2.8] * 6


def test_rounds_are_judged_against_saved_rounds_timed_at_their_speed() -> None:
    # A load in step with the machine: 60 ms at 1.5 ms, 112 ms at 2.8 ms.
    history = tuple(timed(TWO_SPEEDS, 1.0, offset=offset) for offset in (-1.0, 0.0, 1.0))
    following = learn(((run.load_own_ms, run.speed_ms) for run in history), history[1].speed_ms)
    assert following is not None
    # The run's median reading (2.15 ms) falls between the speeds: the nearest one it ran at instead.
    assert following.reference_ms in (1.5, 2.8)
    other = 2.8 if following.reference_ms == 1.5 else 1.5
    expected = following.time_at(following.reference_ms) / following.time_at(other)
    assert following.matched_scale(other) == pytest.approx(expected)
    assert following.matched_scale(2.15) is None and following.matched_share(Samples([1.5, 2.8, 2.15])) == 2 / 3
    # A load that follows the machine little varies for reasons the workload does not see: not matched.
    loose = tuple(timed(TWO_SPEEDS, 0.3, offset=offset) for offset in (-1.0, 0.0, 1.0))
    learned = learn(((run.load_own_ms, run.speed_ms) for run in loose), loose[1].speed_ms)
    assert learned is not None and learned.matched_scale(2.8) is None and learned.matched_scale(1.5) is None
    # Never beyond the machine's own change: a load whose saved rounds moved twice as far as the machine.
    steep = tuple(timed(TWO_SPEEDS, 2.0, offset=offset) for offset in (-1.0, 0.0, 1.0))
    following = learn(((run.load_own_ms, run.speed_ms) for run in steep), steep[1].speed_ms)
    assert following is not None
    other = 2.8 if following.reference_ms == 1.5 else 1.5
    assert following.matched_scale(other) == pytest.approx(following.reference_ms / other)


def test_a_regression_on_the_slower_of_two_speeds_is_not_allowed_for_as_a_slower_machine() -> None:
    history = tuple(timed(TWO_SPEEDS, 1.0, offset=offset) for offset in (-1.0, 0.0, 1.0))
    slow = [2.75, 2.8, 2.85, 2.78, 2.82, 2.8, 2.77, 2.83]
    unchanged = load_of(history, timed(slow, 1.0))
    assert not unchanged.grown and not unchanged.regression
    # 1.2x the work, every round at the slower speed: the machine's slowdown is not added to the threshold.
    regressed = load_of(history, timed(slow, 1.0, work=120.0))
    assert regressed.regression, regressed.note
    assert "judged at" not in regressed.note
    assert regressed.change == "+20%"
    assert regressed.note.startswith("at the baseline's machine speed: rounds timed at another speed than the "
                                     "baseline's run (a fixed workload after each round: 2.80 ms now, 1.50 ms then)")


def test_rounds_judged_at_their_speed_are_judged_against_every_saved_run_there() -> None:
    # Two saved runs at the slower speed read 12.9 and 10.6 ms, one at the faster 8.4 ms. The median run
    # (10.6 ms) sits below the saved rounds' median at its speed, which the faster rounds are scaled by.
    def run_at(level: float, speed: float) -> ModelRecord:
        values = [level + 0.01 * index for index in range(5)]
        return ModelRecord(key="callable:m", name="m", format="callable", runtime="python", load_ms=Samples(values),
                           load_own_ms=Samples(list(values)), speed_ms=Samples([speed] * 5))

    history = (run_at(12.9, 2.6), run_at(10.6, 2.5), run_at(8.4, 1.45))
    unchanged = load_of(history, run_at(8.4, 1.45))
    assert not unchanged.grown and not unchanged.regression, unchanged.line
    regressed = load_of(history, run_at(8.4 * 1.2, 1.45))
    assert regressed.regression and regressed.change == "+20%", regressed.line


def test_a_saved_run_of_another_version_of_the_load_teaches_nothing_about_the_machine() -> None:
    # A loader without files to hash, its code changed between saves: 20 ms now, 1 ms in the run before.
    # Paired with the speed workload, the two runs' rounds would read as a load that follows the machine 20x.
    def run_at(level: float, speed: float) -> ModelRecord:
        values = [level + 0.01 * index for index in range(6)]
        return ModelRecord(key="callable:m", name="m", format="callable", runtime="python", load_ms=Samples(values),
                           load_own_ms=Samples(list(values)), speed_ms=Samples([speed] * 6))

    current, earlier_version = run_at(20.0, 2.8), run_at(1.0, 1.5)
    unchanged = [c for c in compare(current, run_at(20.0, 1.5), DEFAULTS, history=(current, earlier_version))
                 if c.figure == "ms"][0]
    assert not unchanged.grown and not unchanged.regression, unchanged.line
    # The other way round: the newest run is the faster version, and the slower one is back.
    current, earlier_version = run_at(1.0, 1.5), run_at(20.0, 2.8)
    regressed = [c for c in compare(current, run_at(20.0, 2.8), DEFAULTS, history=(current, earlier_version))
                 if c.figure == "ms"][0]
    assert regressed.regression and regressed.change == "+1854%", regressed.line


# The memory bus's gauge --------------------------------------------------------------------------------


@pytest.mark.parametrize(("level_sizes", "expected_mib"), [
    ({1: "64K", 2: "1024K", 3: "32768K"}, 32),  # the last level's size
    ({1: "48K", 2: "2048K", 3: "4M"}, 16),  # a small cache: still past the core's own caches
    ({1: "32K", 2: "1M", 3: "1G"}, 64),  # a huge cache: a few ms a copy, not seconds
    ({}, 32),  # no description of the caches: the default
    ({3: "lots"}, 32),  # unreadable: the default
])
def test_the_memory_copies_are_sized_by_the_last_level_cache(tmp_path, monkeypatch, level_sizes, expected_mib):
    for index, (level, size) in enumerate(level_sizes.items()):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "size").write_text(f"{size}\n")
    monkeypatch.setattr(speed, "CACHES", tmp_path)
    assert speed._stream_bytes() == expected_mib << 20


def test_a_copy_reading_times_each_copy(monkeypatch):
    monkeypatch.setattr(speed, "_stream_bytes", lambda: 4 << 20)
    readings = speed.stream_readings(copies=4)
    assert len(readings) == 4 and min(readings) > 0


def test_no_room_for_the_copies_gives_no_reading_rather_than_failing_the_load(monkeypatch):
    def no_memory(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(speed.mmap, "mmap", no_memory)
    assert speed.stream_readings() == []
