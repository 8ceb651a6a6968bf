"""Break the plugin on purpose, one change at a time, and see which tests notice.

A test that still passes with its feature removed reports coverage that is not
there. Each breakage below replaces one exact piece of source text
in a fresh copy of the repository (tracked files plus untracked, non-ignored
ones: the tests being written count), then runs the tests that claim to cover
it, in that copy, with this interpreter::

    python -m pytest SELECTION -p no:randomly -q -x

with ``PYTHONPATH`` set to the copy, so that the copied package wins over the
editable install, in pytester's subprocesses and the measurement children too.
A breakage is CAUGHT when a test fails, MISSED when every selected test passes
(or is skipped, or none matched). The source text must be found exactly once:
after a refactoring the script stops with "breakage X: text not found in FILE"
so that the list is updated, never silently skipped.

    python benchmarks/breakages.py --list                 # validate every breakage, print the list
    python benchmarks/breakages.py                        # run them all (slow: tens of minutes)
    python benchmarks/breakages.py --only suggest --jobs 2
    python benchmarks/breakages.py --only mann-whitney --control --keep

Exit status: 0 when every breakage was caught, 1 when one was missed (or its
run failed, timed out, or its catching test fails without the breakage too,
with ``--control``), 2 when the list itself is wrong.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Breakage:
    """One deliberate change of the plugin, and the tests that should notice it.

    ``file``: relative to the repository root. ``old``: source text that must
    occur exactly once in it; ``new`` replaces it. ``tests``: pytest
    selections, each one run (in order, until one catches the breakage) as
    shell words after ``pytest``: files or node ids, optionally ``-k EXPR``.
    Test files and ``-k`` words rather than test names: names change as tests
    are rewritten; a ``-k`` word that is also in a file name selects the whole
    file (``-k device`` runs all of tests/test_devices.py).
    """

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str


# Selections used by several breakages.
PLUGIN = "tests/test_plugin.py"
BASELINE = "tests/test_baseline.py"
IDENTITY = "tests/test_identity.py"
#: The documented options and fixture features (pytestmark, rounds=, .last, relative paths, environment).
OPTIONS = "tests/test_plugin_options.py"

BREAKAGES: list[Breakage] = [
    # --- Tests that once passed with their feature broken ---
    Breakage(
        "warmup-function-not-timed", "pytest_loadbudget/model/request.py",
        "            return lambda: warmup(model)",
        "            return None",
        (f"{PLUGIN} -k warm_up",),
        "a warm-up function is never called: warm_ms unmeasured (the old test only counted failed=1)",
    ),
    Breakage(
        "mann-whitney-ignored", "pytest_loadbudget/baseline/compare.py",
        "    if p_value >= ALPHA:",
        "    if False:",
        (f"{BASELINE} -k 'regress or signific or noise or slower or p_value'", BASELINE),
        "a grown median with a non-significant p fails the build",
    ),
    # Headroom, one figure at a time: a test that checks only ms must not cover the others.
    Breakage(
        "suggest-ms-headroom-1", "pytest_loadbudget/report/suggest.py",
        "        limit, share = time_limit(judged, wall, own)\n",
        "        limit, share = time_limit(judged, wall, own) if figure != \"ms\" else (judged.median, 0.0)\n",
        (f"{BASELINE} -k suggest",),
        "suggested ms= is this run's figure: the next run fails on noise",
    ),
    Breakage(
        "suggest-warm-headroom-1", "pytest_loadbudget/report/suggest.py",
        "        limit, share = time_limit(judged, wall, own)\n",
        "        limit, share = time_limit(judged, wall, own) if figure != \"warm_ms\" else (judged.median, 0.0)\n",
        (f"{BASELINE} -k suggest",),
        "suggested warm_ms= without headroom",
    ),
    Breakage(
        "suggest-peak-headroom-1", "pytest_loadbudget/figures.py",
        "headroom=1.25,",
        "headroom=1.0,",
        (f"{BASELINE} -k suggest",),
        "suggested peak_mb= without headroom",
    ),
    Breakage(
        "suggest-leak-headroom-1", "pytest_loadbudget/figures.py",
        "headroom=2.0,",
        "headroom=1.0,",
        (f"{BASELINE} -k suggest",),
        "suggested leak_mb= without headroom",
    ),
    Breakage(
        "suggest-rounds-to-integer", "pytest_loadbudget/report/suggest.py",
        "    return int(rounded) if rounded >= 10 else rounded",
        "    return int(rounded)",
        (f"{BASELINE} -k suggest",),
        "a sub-millisecond load is suggested as ms=0, itself an invalid marker",
    ),
    Breakage(
        "suggest-zero-peak", "pytest_loadbudget/report/suggest.py",
        '            found["peak_mb"] = max(record.memory.peak_bytes / MIB, 1.0)',
        '            found["peak_mb"] = record.memory.peak_bytes / MIB',
        (f"{BASELINE} -k suggest",),
        "a loader that allocates nothing is suggested peak_mb=0, which the marker rejects",
    ),
    Breakage(
        "diagnose-says-nothing", "pytest_loadbudget/report/terminal.py",
        "        advice = diagnose(figures_for(record, record.cold, bandwidth))",
        "        advice = []",
        ("tests/test_cold_plugin.py -k diagnos",),
        "--loadbudget-diagnose prints only 'nothing stands out' for every model",
    ),
    Breakage(
        "placed-ignores-device", "pytest_loadbudget/measure/devices.py",
        '    with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):\n        yield',
        "    yield",
        ("tests/test_devices.py -k 'pinning or placed or placement or cpu'",),
        "device='cpu' never reaches tf.device: the framework places the model where it likes",
    ),
    Breakage(
        "device-not-in-key", "pytest_loadbudget/model/request.py",
        "        return self.device_label if self.runtime == PYTHON else",
        '        return "cpu" if self.runtime == PYTHON else',
        ("tests/test_devices.py -k 'apart or key or separat'",),
        "figures of different devices share one model key: merged, and compared with each other",
    ),
    Breakage(
        "merge-records-unmerged", "pytest_loadbudget/results/record.py",
        "    merged: dict[str, ModelRecord] = {}\n",
        "    return list(records)  # broken: every worker's record kept side by side\n"
        "    merged: dict[str, ModelRecord] = {}\n",
        (f"{BASELINE} tests/test_reliability.py {PLUGIN} -k 'xdist or merge'",),
        "xdist workers that measured the same model each leave a record: the saved run has duplicates",
    ),
    Breakage(
        "leak-loop-capped-at-2", "pytest_loadbudget/measure/memory.py",
        "    for cycle in range(cycles):",
        "    for cycle in range(min(cycles, 2)):",
        (f"{PLUGIN} -k 'cycles or leak or memory_all'",),
        "cycles=N runs 2 cycles whatever N (tests read the recorded cycles field, not the RSS list)",
    ),
    Breakage(
        "disable-still-checks-budgets", "pytest_loadbudget/plugin.py",
        "        if self.settings.disable or (budget is None and not used):",
        "        if budget is None and not used:",
        (f"{PLUGIN} -k disable",),
        "--loadbudget-disable still fails tests over budget",
    ),
    Breakage(
        "disable-still-measures", "pytest_loadbudget/session/model_cache.py",
        "            elif self.settings.disable:",
        "            elif False:",
        (f"{PLUGIN} -k disable",),
        "--loadbudget-disable still times every round",
    ),
    Breakage(
        "memory-all-ignored", "pytest_loadbudget/session/fixture.py",
        '        if self._settings.memory == "all":',
        "        if False:",
        (f"{PLUGIN} -k memory",),
        "--loadbudget-memory=all (and its ini key) measures no model without a memory budget",
    ),
    Breakage(
        "peak-bytes-constant", "pytest_loadbudget/measure/rss.py",
        "    def peak_bytes(self) -> int | None:\n",
        "    def peak_bytes(self) -> int | None:\n        return 4096  # broken: a constant peak\n",
        ("tests/test_formats.py -k peak", f"{PLUGIN} -k peak"),
        "the peak is a constant 4 KiB whatever the load holds",
    ),
    Breakage(
        "fadvise-removed", "pytest_loadbudget/measure/page_cache.py",
        "            fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)",
        "            pass  # broken: nothing is evicted",
        ("tests/test_cold.py -k 'evict or disk'", "tests/test_cold_plugin.py -k disk"),
        "cold_disk evicts nothing: broken eviction must not look like a tmpfs",
    ),
    Breakage(
        "marker-threshold-yields-to-command-line", "pytest_loadbudget/baseline/gate.py",
        "        if budget is not None and budget.compare_fail is not None:",
        "        if budget is not None and budget.compare_fail is not None and self.settings.compare_fail is None:",
        (f"{BASELINE} -k 'marker or threshold or overrides'",),
        "a marker's compare_fail is dropped whenever --loadbudget-compare-fail is given",
    ),
    Breakage(
        "quantization-estimate-9-percent-high", "pytest_loadbudget/formats/tfjs_quantization.py",
        "        dtype: round(current - manifest.float32_bytes * (1 - fraction) + weights * QUANTIZATION_ENTRY_BYTES[dtype])",
        "        dtype: round(1.09 * (current - manifest.float32_bytes * (1 - fraction)"
        " + weights * QUANTIZATION_ENTRY_BYTES[dtype]))",
        ("tests/test_diagnose.py -k quantiz",),
        "the README promises the quantized size within 0.1%; a 10% tolerance lets 9% through",
    ),
    Breakage(
        "cold-total-drops-startup", "pytest_loadbudget/results/cold_profile.py",
        "        return sum(self.phase_ms(phase) or 0.0 for phase in PHASES)",
        "        return sum(self.phase_ms(phase) or 0.0 for phase in PHASES[1:])",
        ("tests/test_cold.py -k 'add_up or wall or total'",),
        "the cold total leaves out the start-up: the phases no longer add up to the parent's wall time",
    ),
    Breakage(
        "tfjs-leak-tensors-not-counted", "pytest_loadbudget/tfjs_runtime/js/core.js",
        "    result.leak_tensors = result.memory.after_dispose.numTensors - result.memory.before_load.numTensors;",
        "    result.leak_tensors = 0;",
        ("tests/test_tfjs_plugin.py -k leak", "tests/test_tfjs_runtime.py -k leak"),
        "the runtime reports no leaked tensor, whatever leaked",
    ),
    Breakage(
        "plugin-node-backend-ignored", "pytest_loadbudget/session/tfjs_sessions.py",
        "            return run_node(model_json, backend=request.backend,",
        '            return run_node(model_json, backend="cpu",',
        ("tests/test_tfjs_plugin.py -k 'node or backend or leak'",),
        "the plugin's real runtime path measures backend='wasm' on cpu (the leak test replaced that path)",
    ),
    Breakage(
        "node-harness-backend-ignored", "pytest_loadbudget/tfjs_runtime/js/harness.js",
        "  if (!(await tf.setBackend(options.backend))) {",
        "  if (!(await tf.setBackend('cpu'))) {",
        ("tests/test_tfjs_runtime.py -k 'node_measures or backends'",),
        "Node.js runs every backend on cpu (the backends test compared a constant with its copy)",
    ),
    Breakage(
        "tfjs-predict-not-timed", "pytest_loadbudget/tfjs_runtime/js/core.js",
        "          result.predict_ms.push(now() - start);",
        "          result.predict_ms.push(0);",
        ("tests/test_tfjs_runtime.py -k 'node_measures or predict'",),
        "steady predictions read 0 ms (check_plausible accepted predict_ms >= 0)",
    ),
    # --- Documented features that once had no test that failed without them ---
    Breakage(
        "module-pytestmark-ignored", "pytest_loadbudget/budget/marker.py",
        "    marker = item.get_closest_marker(MARKER_NAME)",
        "    marker = next((m for node, m in item.iter_markers_with_node(MARKER_NAME)"
        " if not isinstance(node, pytest.Module)), None)",
        (f"{OPTIONS} {PLUGIN} -k 'pytestmark or module or class'",),
        "a load_budget set with module-level pytestmark applies to nothing",
    ),
    Breakage(
        "marker-rounds-ignored", "pytest_loadbudget/session/fixture.py",
        "        rounds = budget.rounds if budget is not None and budget.rounds is not None else self._settings.rounds",
        "        rounds = self._settings.rounds",
        (f"{OPTIONS} {PLUGIN} -k rounds",),
        "a valid load_budget(rounds=N) is ignored",
    ),
    Breakage(
        "marker-cold-disk-ignored", "pytest_loadbudget/session/fixture.py",
        "        evict = budget.cold_disk if budget is not None and budget.cold_disk is not None"
        " else self._settings.cold_disk",
        "        evict = self._settings.cold_disk",
        ("tests/test_cold_plugin.py -k disk",),
        "a valid load_budget(cold_disk=True) evicts nothing",
    ),
    Breakage(
        "import-ms-not-checked", "pytest_loadbudget/budget/check.py",
        '"import_ms": _cold_phase("import", "import_ms"),',
        '"import_ms": lambda record, cold, limit, clock: None,',
        ("tests/test_cold_plugin.py -k import",),
        "an import_ms miss never fails",
    ),
    Breakage(
        "load-model-last-unset", "pytest_loadbudget/session/fixture.py",
        "        self.last = entry.record",
        "        self.last = None",
        (f"{OPTIONS} {PLUGIN} -k last",),
        "load_model.last is always None",
    ),
    Breakage(
        "relative-path-not-from-test-dir", "pytest_loadbudget/session/resolve.py",
        "    beside_test = base_dir / path\n    return beside_test if beside_test.exists() else path.absolute()",
        "    return path.absolute()",
        (f"{OPTIONS} {PLUGIN} tests/test_formats.py tests/test_bad_input.py -k 'relative or beside'",),
        "a relative path is no longer looked up in the test file's directory",
    ),
    Breakage(
        "cli-compare-any-machine-ignored", "pytest_loadbudget/cli/main.py",
        "compare(previous, record, thresholds, same_machine or args.any_machine)",
        "compare(previous, record, thresholds, same_machine)",
        (f"{BASELINE} -k 'cli or any_machine or machine'",),
        "`loadbudget compare --any-machine` still forgives regressions between machines",
    ),
    Breakage(
        "cli-profile-noop", "pytest_loadbudget/cli/main.py",
        "        return run_profile(args)  # reports its own errors: message on stderr, exit 2",
        "        return 0",
        ("tests/test_cli.py", f"{BASELINE} -k cli"),
        "`loadbudget profile` through the loadbudget command does nothing (tests call profile_cli.main)",
    ),
    Breakage(
        "cli-setup-js-noop", "pytest_loadbudget/cli/main.py",
        "            return jsenv.run_setup(args)",
        "            return 0",
        ("tests/test_cli.py", f"{BASELINE} -k cli"),
        "`loadbudget setup-js` through the loadbudget command does nothing",
    ),
    Breakage(
        "profile-cold-disk-ignored", "pytest_loadbudget/cli/profile.py",
        "request, args.runs, evict=args.cold_disk, timeout=args.timeout,",
        "request, args.runs, evict=False, timeout=args.timeout,",
        ("tests/test_cli.py",),
        "`loadbudget profile --cold-disk` evicts nothing",
    ),
    Breakage(
        "profile-format-ignored", "pytest_loadbudget/cli/profile.py",
        "        args.path, format=args.format, name=None,",
        "        args.path, format=None, name=None,",
        ("tests/test_cli.py",),
        "`loadbudget profile --format` is ignored: an unusual file name cannot be profiled",
    ),
    Breakage(
        "setup-js-force-ignored", "pytest_loadbudget/tfjs_runtime/jsenv.py",
        "setup_js(args.cache_dir, force=args.force)",
        "setup_js(args.cache_dir, force=False)",
        ("tests/test_cli.py",),
        "`setup-js --force` does not reinstall",
    ),
    Breakage(
        "tfjs-timeout-hard-coded", "pytest_loadbudget/session/tfjs_sessions.py",
        "        timeout = self.settings.timeout",
        "        timeout = 600.0",
        ("tests/test_tfjs_plugin.py -k timeout",),
        "--loadbudget-timeout does not reach the TF.js runtimes",
    ),
    # The command-line form of each cold option, one at a time: the ini tests do not cover it.
    Breakage(
        "cold-option-command-line-ignored", "pytest_loadbudget/settings.py",
        "    from_command_line = config.getoption(option.dest)",
        '    from_command_line = None if option.name == "cold" else config.getoption(option.dest)',
        ("tests/test_cold_plugin.py",),
        "--loadbudget-cold=all on the command line is ignored (the ini key still works)",
    ),
    Breakage(
        "cold-runs-option-command-line-ignored", "pytest_loadbudget/settings.py",
        "    from_command_line = config.getoption(option.dest)",
        '    from_command_line = None if option.name == "cold-runs" else config.getoption(option.dest)',
        ("tests/test_cold_plugin.py",),
        "--loadbudget-cold-runs=N on the command line is ignored",
    ),
    Breakage(
        "cold-disk-option-command-line-ignored", "pytest_loadbudget/settings.py",
        "    from_command_line = config.getoption(option.dest)",
        '    from_command_line = None if option.name == "cold-disk" else config.getoption(option.dest)',
        ("tests/test_cold_plugin.py",),
        "--loadbudget-cold-disk on the command line is ignored",
    ),
    Breakage(
        "environment-read-for-rounds-and-cycles-only", "pytest_loadbudget/settings.py",
        '        (f"environment variable {option.env}", os.environ.get(option.env)),',
        '        (f"environment variable {option.env}",'
        ' os.environ.get(option.env) if option.name in ("rounds", "cycles") else None),',
        (f"{OPTIONS} {PLUGIN} {BASELINE} tests/test_cold_plugin.py -k 'env or precedence'",),
        "LOADBUDGET_* variables other than ROUNDS and CYCLES are ignored",
    ),
    Breakage(
        "compare-by-number-broken", "pytest_loadbudget/baseline/storage.py",
        "    return spec in (name, path.stem) or (spec.isdigit() and int(spec) == int(number))",
        "    return spec in (name, path.stem)",
        (f"{BASELINE} -k 'number or compare'",),
        "--loadbudget-compare=N (a run's number) finds nothing",
    ),
    Breakage(
        "fingerprint-hash-constant", "pytest_loadbudget/baseline/fingerprint.py",
        "    digest = hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()[:10]",
        '    digest = "0000000000"',
        ("tests/test_fingerprint.py", f"{BASELINE} tests/test_reliability.py -k 'machine or fingerprint'"),
        "two machines with the same OS and CPU count share baselines",
    ),
    Breakage(
        "fingerprint-drops-environment", "pytest_loadbudget/baseline/fingerprint.py",
        '        "environment": {name: os.environ[name] for name in RELEVANT_ENVIRONMENT if name in os.environ},',
        '        "environment": {},',
        ("tests/test_fingerprint.py", f"{IDENTITY} -k software_change"),
        "a changed TF_NUM_INTRAOP_THREADS, CUDA_VISIBLE_DEVICES... is neither recorded nor named on a verdict",
    ),
    Breakage(
        "fingerprint-drops-frameworks", "pytest_loadbudget/baseline/fingerprint.py",
        '        "frameworks": framework_versions(),',
        '        "frameworks": {},',
        ("tests/test_fingerprint.py", f"{IDENTITY} -k software_change"),
        "a TensorFlow upgrade is neither recorded nor named on a verdict",
    ),
    Breakage(
        "markdown-budget-misses-dropped", "pytest_loadbudget/report/files.py",
        "    if failures:",
        "    if False:",
        (f"{BASELINE} {PLUGIN} -k markdown",),
        'the Markdown report loses its "Budget misses" section',
    ),
    Breakage(
        "json-first-load-ms-dropped", "pytest_loadbudget/session/model_cache.py",
        "        record.first_load_ms = timings.first_load_ms",
        "        record.first_load_ms = None",
        (f"{PLUGIN} {BASELINE} {OPTIONS} -k 'json or first_load'",),
        "first_load_ms is null in the JSON",
    ),
    Breakage(
        "ru-maxrss-fallback-zero", "pytest_loadbudget/measure/rss.py",
        "        return None if maxrss is None else max(maxrss - self._start_rss, 0)",
        "        return None if maxrss is None else 0",
        ("tests -k 'maxrss or fallback or clear_refs'",),
        "without a resettable VmHWM the in-process peak is 0 instead of the ru_maxrss rise",
    ),
    Breakage(
        "ru-maxrss-inherited-peak-kept", "pytest_loadbudget/measure/memory.py",
        '    if tracker.method == "ru_maxrss" and where == "fresh process":',
        "    if False:",
        ("tests -k 'maxrss or fallback or clear_refs'",),
        "a fresh child's ru_maxrss, inherited from its parent, is reported as the load's peak",
    ),
    Breakage(
        "tensorflow-allocator-current-not-peak", "pytest_loadbudget/measure/devices.py",
        '"GPU:0")["peak"]',
        '"GPU:0")["current"]',
        ("tests/test_devices.py -k 'allocator or framework or tensorflow or torch'",),
        "TensorFlow's GPU figure is what is held after warm-up, not the peak",
    ),
    Breakage(
        "torch-allocator-current-not-peak", "pytest_loadbudget/measure/devices.py",
        "torch.cuda.max_memory_allocated()",
        "torch.cuda.memory_allocated()",
        ("tests/test_devices.py -k 'allocator or framework or tensorflow or torch'",),
        "PyTorch's GPU figure is what is held after warm-up, not the peak",
    ),
    Breakage(
        "allocator-peak-not-reset", "pytest_loadbudget/measure/memory.py",
        "        framework_peak.reset()",
        "        pass  # broken: the allocator peak includes everything before the load",
        ("tests/test_devices.py -k 'allocator or framework or tensorflow or torch'",),
        "the allocator's peak is not reset before the load",
    ),
    # The two tests that skip as root: these break what they cover.
    Breakage(
        "read-only-storage-crashes", "pytest_loadbudget/baseline/gate.py",
        "        except (BaselineError, OSError) as error:",
        "        except BaselineError as error:",
        ("tests/test_reliability.py -k 'storage or read_only'",),
        "a save into read-only storage crashes the session instead of being reported",
    ),
    Breakage(
        "unreadable-file-not-checked", "pytest_loadbudget/formats/base.py",
        '        with open(path, "rb"):\n            pass',
        "        pass",
        ("tests/test_bad_input.py -k 'unreadable or refuses'",),
        "an unreadable model file is no longer reported as 'cannot be read: Permission denied'",
    ),
    # --- Core features: what every user relies on ---
    Breakage(
        "load-budget-comparison-flipped", "pytest_loadbudget/budget/check.py",
        "        if value > limit:",
        "        if value < limit:",
        (f"{PLUGIN} -k 'holds or over_budget'",),
        "a load within budget fails and one over budget passes",
    ),
    Breakage(
        "size-counts-first-file-only", "pytest_loadbudget/session/model_cache.py",
        "sum(path.stat().st_size for path in files) if files else None",
        "sum(path.stat().st_size for path in files[:1]) if files else None",
        (f"{PLUGIN} tests/test_formats.py -k 'size or shard'",),
        "the size leaves out every file but the first (shards, files=...)",
    ),
    Breakage(
        "json-samples-without-summary", "pytest_loadbudget/results/record.py",
        '    return {"samples": list(samples.values), **samples.summary()}',
        '    return {"samples": list(samples.values)}',
        (f"{PLUGIN} -k json", f"{BASELINE} -k xdist"),
        "the JSON drops median, min, max and rounds of every timing",
    ),
    Breakage(
        "save-skipped", "pytest_loadbudget/baseline/gate.py",
        "        if self.settings.save is not None:\n            name = self.settings.save",
        "        if False:\n            name = self.settings.save",
        (f"{BASELINE} -k 'save or unchanged'",),
        "--loadbudget-save saves nothing",
    ),
    Breakage(
        "peak-budget-in-kib", "pytest_loadbudget/budget/check.py",
        '    return num_bytes / MIB, f"{label} {format_mib(num_bytes)} > budget',
        '    return num_bytes / MIB / 1024, f"{label} {format_mib(num_bytes)} > budget',
        (f"{PLUGIN} -k peak",),
        "peak_mb is compared as GiB: no realistic peak misses",
    ),
    Breakage(
        "leak-is-one-cycle", "pytest_loadbudget/results/memory.py",
        "        return None if per_cycle is None else round(per_cycle * (len(self.rss_after_cycles) - 1))",
        "        return None if per_cycle is None else round(per_cycle)",
        (f"{PLUGIN} -k leak",),
        "leak_mb is the growth of one cycle, not of all cycles after the first",
    ),
    Breakage(
        "model-loaded-per-use", "pytest_loadbudget/session/model_cache.py",
        "        entry = self.entries.get(request.key)",
        "        entry = None",
        (f"{PLUGIN} tests/test_formats.py -k once",),
        "every load_model call loads and measures again: no session cache",
    ),
    Breakage(
        "budget-miss-never-fails", "pytest_loadbudget/plugin.py",
        "        if judgement is not None and judgement.lines:",
        "        if judgement is not None and not judgement.lines:",
        (f"{PLUGIN} -k over_budget",),
        "a miss is written in the report section and the test still passes",
    ),
    Breakage(
        "memory-measured-in-process", "pytest_loadbudget/session/model_cache.py",
        "                figures = measure_memory_in_child(request, cycles, self.settings.timeout, traced)",
        '                figures = measure_memory(request, cycles, where="fresh process")',
        (f"{PLUGIN} -k 'peak or fresh or child'", "tests/test_formats.py -k peak"),
        "memory is measured in the test process but labelled as a fresh one (a lower bound passed off as the peak)",
    ),
    Breakage(
        "worker-records-dropped", "pytest_loadbudget/plugin.py",
        "[record.to_dict() for record in self.records()]",
        "[]",
        (f"{PLUGIN} {BASELINE} -k xdist",),
        "under pytest-xdist the controller's report, JSON and saved run hold no model",
    ),
    Breakage(
        "fastest-round-guard-removed", "pytest_loadbudget/baseline/compare.py",
        "        if new_samples.percentile(FAST_PERCENTILE) <= old_median:",
        "        if False:",
        (f"{BASELINE} -k 'fastest or noise'", "tests/test_compare.py -k fast_rounds"),
        "a run that was slow as a whole (not the model) fails the build",
    ),
    Breakage(
        "machine-spread-ignored", "pytest_loadbudget/baseline/compare.py",
        "    if new_samples.median <= max(spread):",
        "    if False:",
        ("tests/test_gate.py -k spread",),
        "a run no slower than the machine's unchanged saved runs fails the build",
    ),
    Breakage(
        "burst-run-widens-the-spread", "pytest_loadbudget/baseline/compare.py",
        "    spread = [median for median, _, _ in runs if median <= old_median * factor]",
        "    spread = [median for median, _, _ in runs]",
        ("tests/test_gate.py -k burst",),
        "one baseline run saved during a burst hides every regression below it",
    ),
    Breakage(
        "contention-not-allowed-for", "pytest_loadbudget/baseline/compare.py",
        '    if figure in TIMED and threshold is not None and used == "own":',
        "    if False:",
        ("tests/test_gate.py -k waited",),
        "a short load's own time, inflated by a busy neighbour, fails unchanged code on a busy runner",
    ),
    Breakage(
        "machine-slowdown-not-allowed-for", "pytest_loadbudget/baseline/compare.py",
        "    slower = 0.0 if matched else _slowdown(speed_then, new.speed_ms)",
        "    slower = 0.0",
        ("tests/test_gate.py -k ran_slower",),
        "a run on a host that slowed the whole VM fails unchanged code, and says nothing of the machine",
    ),
    Breakage(
        "refill-not-allowed-for", "pytest_loadbudget/baseline/compare.py",
        "    refilled = 0.0 if matched else _slowdown(refill_then, new.refill_ms)",
        "    refilled = 0.0",
        ("tests/test_gate.py -k refill",),
        "a memory-bandwidth neighbour that slows every load, and the workload's cache refill, fails unchanged code",
    ),
    Breakage(
        "refill-not-recorded", "pytest_loadbudget/measure/loads.py",
        "        timings.refill_ms.values.append(reading.refill_ms)",
        "        pass",
        ("tests/test_gate.py -k speed_workload",),
        "the cache refill after each round is never kept: a memory-bandwidth neighbour reads as a regression",
    ),
    Breakage(
        "speed-workload-not-run", "pytest_loadbudget/measure/loads.py",
        "        timings.speed_ms.values.append(reading.speed_ms)",
        "        pass",
        ("tests/test_gate.py -k speed_workload",),
        "the machine's speed is never gauged: nothing can tell a slower host from a slower model",
    ),
    Breakage(
        "warm-up-judged-against-the-load-s-median-run", "pytest_loadbudget/baseline/compare.py",
        "    if figure in TIMED:\n        old = _median_run(figure, old, context.history, context.clock)",
        "    if False:\n        old = _median_run(figure, old, context.history, context.clock)",
        ("tests/test_gate.py -k own_median",),
        "a warm-up is judged against the run with the median load, whose warm-up may be its luckiest",
    ),
    Breakage(
        "second-measurement-need-not-grow", "pytest_loadbudget/baseline/confirm.py",
        "        if second.regression and alone is not None and not alone.grown:",
        "        if False:",
        ("tests/test_gate.py -k by_itself",),
        "a burst that slowed the first measurement carries the joined rounds: the second never had to grow",
    ),
    Breakage(
        "speed-spread-ignored", "pytest_loadbudget/baseline/compare.py",
        "    if new.timing(figure, clock)[0].median / new.speed_ms.median ** exponent <= max(ratios):",
        "    if False:",
        ("tests/test_gate.py -k speed_the_machine_ran",),
        "a run taken while the machine ran slow for minutes fails unchanged code",
    ),
    Breakage(
        "speed-spread-on-scaled-medians", "pytest_loadbudget/baseline/compare.py",
        "    every_ratio = [measured / probes.median ** exponent for _, measured, probes in runs]",
        "    every_ratio = [median / probes.median ** exponent for median, _, probes in runs]",
        ("tests/test_gate.py -k followed_the_machine",),
        "saved runs scaled to the baseline's speed are divided by their speed again: the spread narrows, "
        "unchanged code fails",
    ),
    Breakage(
        "faster-machine-not-scaled", "pytest_loadbudget/baseline/machine_speed.py",
        "        return float((self.reference_ms / speed_ms) ** self.follows)",
        "        return 1.0",
        ("tests/test_machine_speed.py",),
        "a 1.2x regression measured while the machine ran faster than in the baseline's run reads unchanged",
    ),
    Breakage(
        "slower-machine-scaled-down", "pytest_loadbudget/baseline/machine_speed.py",
        "        if speed_ms >= self.reference_ms:",
        "        if False:",
        ("tests/test_machine_speed.py",),
        "rounds on a slower machine are scaled down by a learned exponent as well as allowed for: counted twice",
    ),
    Breakage(
        "matched-scale-not-clipped", "pytest_loadbudget/baseline/machine_speed.py",
        "        return min(max(at_reference / at_speed, low), high)",
        "        return at_reference / at_speed",
        ("tests/test_machine_speed.py",),
        "a round is scaled by saved rounds that moved further than the machine: their noise taken for its speed",
    ),
    Breakage(
        "matched-rounds-allowed-for", "pytest_loadbudget/baseline/compare.py",
        "    slower = 0.0 if matched else _slowdown(speed_then, new.speed_ms)",
        "    slower = _slowdown(speed_then, new.speed_ms)",
        ("tests/test_machine_speed.py",),
        "rounds brought to the baseline's speed are allowed the machine's slowdown again: a 1.2x regression "
        "on the slower of two speeds passes",
    ),
    Breakage(
        "slower-rounds-not-matched", "pytest_loadbudget/baseline/machine_speed.py",
        "        if matched is not None:",
        "        if matched is not None and speed_ms < self.reference_ms:",
        ("tests/test_machine_speed.py",),
        "rounds timed at the slower of two speeds are compared with the baseline's faster rounds: unchanged code fails",
    ),
    Breakage(
        "loosely-following-load-matched", "pytest_loadbudget/baseline/machine_speed.py",
        "        if self.follows < MATCH_FOLLOWS or speed_ms <= 0:",
        "        if speed_ms <= 0:",
        ("tests/test_machine_speed.py",),
        "a load the workload explains little is judged at each round's speed without the allowance: its own "
        "slow runs fail unchanged code",
    ),
    Breakage(
        "matched-run-judged-against-the-median-run", "pytest_loadbudget/baseline/compare.py",
        "        old_samples = following.saved_at_reference() if matched else following.at_reference(old_samples, old.speed_ms)",
        "        old_samples = following.at_reference(old_samples, old.speed_ms)",
        ("tests/test_machine_speed.py",),
        "rounds scaled by every saved run's medians are judged against the median run alone: unchanged code "
        "fails where that run sat below the others",
    ),
    Breakage(
        "reference-between-speeds", "pytest_loadbudget/baseline/machine_speed.py",
        "            return speed if abs(speed / reference.median - 1.0) > MATCH_WINDOW else reference.median",
        "            return reference.median",
        ("tests/test_machine_speed.py",),
        "a baseline run that flipped between two speeds is brought to a speed no saved round ran at: nothing matches",
    ),
    Breakage(
        "following-not-clipped", "pytest_loadbudget/baseline/machine_speed.py",
        "    follows = min(max(math.log(load) / math.log(machine), 0.0), 1.0)",
        "    follows = math.log(load) / math.log(machine)",
        ("tests/test_machine_speed.py",),
        "a load is taken to follow the machine's speed more than the machine itself: noise scaled up",
    ),
    Breakage(
        "steady-machine-teaches", "pytest_loadbudget/baseline/machine_speed.py",
        "    if machine < LEARN_SPREAD:",
        "    if machine <= 1.0:",
        ("tests/test_machine_speed.py",),
        "rounds on a machine whose speed barely varied teach an exponent: the load's own noise taken for speed",
    ),
    Breakage(
        "warm-up-scaled-to-the-baseline-speed", "pytest_loadbudget/baseline/compare.py",
        'SPEED_SCALED = ("ms",)',
        'SPEED_SCALED = ("ms", "warm_ms")',
        ("tests/test_machine_speed.py",),
        "warm-ups, which followed the machine less predictably, are scaled too: idle machines' false alarms triple",
    ),
    Breakage(
        "second-measurement-judged-alone", "pytest_loadbudget/baseline/confirm.py",
        "        judged = (joined(first, again) if comparison.figure in TIMED else again) if again is not None else None",
        "        judged = again",
        ("tests/test_gate.py -k 'second_measurement or first_ones'",),
        "the second measurement's few rounds alone decide: a 1.2x change on a wandering machine is cleared",
    ),
    Breakage(
        "leak-every-cycle-guard-removed", "pytest_loadbudget/baseline/compare.py",
        "    if leak.regression and not _grows_every_cycle(new.memory.rss_after_cycles):",
        "    if False:",
        (f"{BASELINE} -k leak",),
        "allocator noise in the RSS of one cycle is called a leak regression",
    ),
    Breakage(
        "mann-whitney-reversed", "pytest_loadbudget/baseline/significance.py",
        "    u_new = _u_statistic(new, old)",
        "    u_new = _u_statistic(old, new)",
        (f"{BASELINE} -k 'slower or regress'",),
        "the one-sided test asks whether the new run is faster: no slow-down is ever significant",
    ),
    Breakage(
        "zero-budget-accepted", "pytest_loadbudget/budget/marker.py",
        "    if not value > 0:",
        "    if value < 0:",
        (f"{PLUGIN} -k bad_marker", "tests/test_marker.py"),
        "load_budget(ms=0) is accepted: a budget nothing can meet",
    ),
    # --- The regression gate: machine identity, model identity, provenance ---
    Breakage(
        "machine-id-hashes-software", "pytest_loadbudget/baseline/fingerprint.py",
        "    hardware, _ = split_facts(facts)\n    digest",
        "    hardware = facts\n    digest",
        (f"{IDENTITY} -k schema_1", "tests/test_fingerprint.py"),
        "the id hashes the software facts it is given: schema 1 runs, whose facts hold both, map to no machine",
    ),
    Breakage(
        "env-change-not-on-verdict", "pytest_loadbudget/baseline/gate.py",
        "annotate(comparisons, environment_note(run, self.software, old, record))",
        "annotate(comparisons, '')",
        (f"{IDENTITY} -k software_change",),
        "a verdict against a baseline of other software does not say what changed",
    ),
    Breakage(
        "machine-name-ignored", "pytest_loadbudget/baseline/gate.py",
        "self.machine_id = settings.machine or machine_id(self.hardware)",
        "self.machine_id = machine_id(self.hardware)",
        (f"{IDENTITY} -k named_machine",),
        "--loadbudget-machine saves under the name but compares as the hardware: a named runner is never enforced",
    ),
    Breakage(
        "newest-by-file-number", "pytest_loadbudget/baseline/storage.py",
        "key=lambda path: (_created_at(path), _number(path), path.name)",
        "key=lambda path: (_number(path), path.name)",
        (f"{IDENTITY} -k newest",),
        "the baseline is the highest-numbered run, not the latest created (folders merged from CI jobs)",
    ),
    Breakage(
        "name-not-the-identity", "pytest_loadbudget/model/request.py",
        "where, name=self.name if self.named else \"\",",
        "where, name=\"\",",
        (f"{IDENTITY} -k named",),
        "a model loaded with name= from another path is silently not compared",
    ),
    Breakage(
        "new-models-not-listed", "pytest_loadbudget/baseline/lookup.py",
        "            new.append(_label(record))",
        "            pass",
        (f"{IDENTITY} -k not_measured",),
        "a model with no baseline passes without a word",
    ),
    Breakage(
        "newest-run-only", "pytest_loadbudget/baseline/gate.py",
        "paths = self.store.newest_first(self.store.runs(self.machine_id)) if spec is None else []",
        "paths = self.store.newest_first(self.store.runs(self.machine_id))[:1] if spec is None else []",
        (f"{IDENTITY} -k sharded",),
        "a sharded suite compares with the newest shard's run: the other shards' models go unjudged",
    ),
    Breakage(
        "schema-1-keys-unmapped", "pytest_loadbudget/baseline/storage.py",
        "        identities, why = legacy.identities(record)",
        "        identities, why = [], \"\"",
        (f"{IDENTITY} -k schema_1",),
        "models of a schema 1 run match no model of today: every one is 'new'",
    ),
    Breakage(
        "schema-1-folders-unmapped", "pytest_loadbudget/baseline/storage.py",
        "                self._legacy_ids[folder] = legacy.hardware_id(facts)[0]",
        "                self._legacy_ids[folder] = \"\"",
        (f"{IDENTITY} -k schema_1",),
        "a schema 1 folder of this hardware is not this machine's: its runs are never consulted",
    ),
    Breakage(
        "provenance-not-saved", "pytest_loadbudget/baseline/gate.py",
        "provenance=self.provenance, machine=self.settings.machine)",
        "provenance=None, machine=self.settings.machine)",
        (f"{IDENTITY} -k commit",),
        "a saved run does not say which commit it measured",
    ),
    Breakage(
        "autosave-not-the-commit", "pytest_loadbudget/baseline/provenance.py",
        "    return str(commit)[:SHORT_COMMIT] + (",
        "    return time.strftime(\"%Y%m%d-%H%M%S\") + (",
        (f"{IDENTITY} -k autosave",),
        "--loadbudget-autosave names runs by date: --loadbudget-compare=<commit> finds nothing",
    ),
    Breakage(
        "other-hardware-quiet", "pytest_loadbudget/baseline/lookup.py",
        "not_enforced=\"\" if enforce_any_machine else _not_enforced(baseline, runs),",
        "not_enforced=\"\",",
        (f"{IDENTITY} -k 'named_machine or hardware_facts'",),
        "a baseline of other hardware turns the gate off without a word",
    ),
    # --- The regression gate: own time judged, confirmation, every figure gated ---
    Breakage(
        "gate-judges-wall-time", "pytest_loadbudget/baseline/times.py",
        "        return record.timing(figure, clock)",
        "        return record.timing(figure, \"wall\")",
        ("tests/test_gate.py -k own_time",),
        "the gate judges wall time: every busy CI runner fails unchanged models",
    ),
    Breakage(
        "gate-mixes-own-and-wall", "pytest_loadbudget/baseline/times.py",
        "    if old_clock == new_clock:\n        return old_samples, new_samples, new_clock, \"\"",
        "    if True:\n        return old_samples, new_samples, new_clock, \"\"",
        ("tests/test_gate.py -k without_own",),
        "a schema 1 baseline's wall time is set against today's own time: a real slow-down passes",
    ),
    Breakage(
        "regression-not-confirmed", "pytest_loadbudget/baseline/confirm.py",
        "    if not suspects:\n        return",
        "    if True:\n        return",
        ("tests/test_gate.py -k measured_again",),
        "one slow measurement (a neighbour's burst) fails the build: no second measurement",
    ),
    Breakage(
        "cold-not-remeasured", "pytest_loadbudget/baseline/confirm.py",
        "    cold = any(comparison.figure in COLD for comparison in suspects)",
        "    cold = False",
        ("tests/test_gate.py -k cold_start_regression",),
        "a suspected cold-start regression is never measured again: one slow set of fresh processes fails",
    ),
    Breakage(
        "remeasured-by-every-test", "pytest_loadbudget/session/model_cache.py",
        "        for part in sorted(wanted - entry.second_parts):",
        "        for part in sorted(wanted):",
        ("tests/test_gate.py -k measured_again",),
        "every test that uses a suspect model measures it again: the cost is not bounded",
    ),
    Breakage(
        "cold-not-gated", "pytest_loadbudget/baseline/times.py",
        "    if figure in COLD:\n        cold = record.cold",
        "    if figure in COLD:\n        cold = None",
        ("tests/test_gate.py -k 'cold or import'",),
        "cold_ms and import_ms have budgets but no regression check",
    ),
    Breakage(
        "few-runs-median-only", "pytest_loadbudget/baseline/compare.py",
        "        fastest_within = not all_above(old_samples.values, new_samples.values)",
        "        fastest_within = False",
        ("tests/test_gate.py -k three_runs",),
        "3 cold runs judged on their median: one slow fresh process fails the build",
    ),
    Breakage(
        "gpu-not-gated", "pytest_loadbudget/baseline/compare.py",
        "    if old.gpu_bytes is None or new.gpu_bytes is None:",
        "    if True:",
        ("tests/test_gate.py -k gpu",),
        "GPU memory that grows passes the gate",
    ),
    Breakage(
        "tensor-leak-not-gated", "pytest_loadbudget/baseline/compare.py",
        "    grown = _grew(threshold, old_count, new_count, 0, 1)",
        "    grown = False",
        ("tests/test_gate.py -k tensor",),
        "a TF.js model that starts leaking tensors passes the gate",
    ),
    Breakage(
        "browser-loads-not-gated", "pytest_loadbudget/baseline/times.py",
        "    if figures is None or not record.runtime.startswith(\"browser\"):",
        "    if True:",
        ("tests/test_gate.py -k browser",),
        "a browser's first and cached loads have budgets but no regression check",
    ),
    Breakage(
        "default-times-30-percent", "pytest_loadbudget/figures.py",
        'Figure("ms", "load", "ms", "time", "10%", finding="graph"),\n'
        '    Figure("warm_ms", "warm-up", "ms", "time", "10%",',
        'Figure("ms", "load", "ms", "time", "30%", finding="graph"),\n'
        '    Figure("warm_ms", "warm-up", "ms", "time", "30%",',
        ("tests/test_gate.py -k default_threshold",),
        "the default threshold stays at 30%: a 1.25x slower load passes",
    ),
    Breakage(
        "compare-fail-list-replaces-the-defaults", "pytest_loadbudget/budget/thresholds.py",
        "    merged = {**base, **changes}",
        "    merged = dict(changes)",
        ("tests/test_baseline.py -k 'compare_fail_list or off_leaves'",
         "tests/test_compare.py -k list_changes"),
        "`--loadbudget-compare-fail=ms:15%` stops judging sizes and memory: a grown model passes",
    ),
    Breakage(
        "compare-fail-off-keeps-the-default", "pytest_loadbudget/budget/thresholds.py",
        "    return {figure: threshold for figure, threshold in merged.items() if threshold is not None}",
        "    return {figure: threshold or base[figure] for figure, threshold in merged.items() if figure in base "
        "or threshold is not None}",
        ("tests/test_baseline.py -k off_leaves", "tests/test_compare.py -k list_changes"),
        "`FIGURE:off` still fails on the figure at its default threshold",
    ),
    # --- Own time (wall less the wait for a CPU): recorded, reported, judged ---
    Breakage(
        "own-time-not-recorded", "pytest_loadbudget/measure/loads.py",
        "        if span.own_ms is not None:\n            self.own.values.append(span.own_ms)",
        "        pass",
        ("tests/test_own_time.py -k 'records or wall_time_misses'",),
        "the rounds keep wall and CPU time only: load_own_ms is empty and budgets judge wall time",
    ),
    Breakage(
        "budget-ignores-own-time", "pytest_loadbudget/budget/check.py",
        '    return _timing(record.timing("ms", clock), record.load_ms, clock, limit, "ms")',
        '    return _timing(record.timing("ms", "wall"), record.load_ms, clock, limit, "ms")',
        ("tests/test_own_time.py -k wall_time_misses",),
        "an ms budget judges wall time: busy neighbours fail it",
    ),
    Breakage(
        "budget-ignores-clock-wall", "pytest_loadbudget/budget/check.py",
        '    return _timing(record.timing("ms", clock), record.load_ms, clock, limit, "ms")',
        '    return _timing(record.timing("ms", "own"), record.load_ms, clock, limit, "ms")',
        ("tests/test_own_time.py -k clock_wall",),
        "--loadbudget-clock=wall is ignored: budgets judge own time anyway",
    ),
    Breakage(
        "header-hides-contention", "pytest_loadbudget/report/terminal.py",
        "    if contention is not None:\n        terminal.write_line(contention, yellow=True)",
        "    pass",
        ("tests/test_own_time.py -k wall_time_misses",),
        "the report no longer says how much of the timed work waited for a CPU",
    ),
    Breakage(
        "wall-fallback-unsaid", "pytest_loadbudget/report/terminal.py",
        '        return "own time not measured on this system: judged on wall time" if wall_only and clock == "own" '
        'else None',
        "        return None",
        ("tests/test_own_time.py -k 'without_schedstat or header'",),
        "without schedstat budgets judge wall time and the report does not say so",
    ),
    Breakage(
        "cold-child-no-wait", "pytest_loadbudget/fresh/cold_child.py",
        '        "wait_ns": waits.phases(first_call_ns is not None),',
        '        "wait_ns": None,',
        ("tests/test_own_time.py -k cold_child",),
        "cold phases keep wall time only: cold_ms and import_ms judge wall time",
    ),
    Breakage(
        "node-harness-no-wait", "pytest_loadbudget/tfjs_runtime/js/harness.js",
        "    wait: runQueueWaitNs,\n",
        "",
        ("tests/test_own_time.py -k node_harness",),
        "Node.js rounds keep wall time only",
    ),
    Breakage(
        "browser-playwright-on-the-callers-thread", "pytest_loadbudget/tfjs_runtime/own_thread.py",
        "        if threading.get_ident() == self._ident:\n            return function(*args, **kwargs)",
        "        if True:\n            return function(*args, **kwargs)",
        ("tests/test_tfjs_runtime.py -k event_loop",),
        "the browser runtime fails beside pytest-playwright or any running event loop in the test process",
    ),
    Breakage(
        "baseline-newest-run-only", "pytest_loadbudget/baseline/lookup.py",
        "        if depth <= 1 or not self.same_machine(run):\n            return newest, (newest,)",
        "        return newest, (newest,)",
        ("tests/test_gate.py -k 'hidden or artifact_changed or named_baseline'",),
        "one slow baseline run hides a regression: the runs before it are not consulted",
    ),
    Breakage(
        "baseline-history-ignores-artifact", "pytest_loadbudget/baseline/lookup.py",
        "            if (record.artifact_sha256 != newest.artifact_sha256 or record.device != newest.device",
        "            if (record.device != newest.device",
        ("tests/test_gate.py -k 'hidden or artifact_changed or named_baseline'",),
        "a model is judged against runs of the artifact it replaced",
    ),
    Breakage(
        "speed-learned-from-another-version", "pytest_loadbudget/baseline/compare.py",
        "    return max(median / reference, reference / median) <= OTHER_LOAD",
        "    return True",
        ("tests/test_machine_speed.py -k another_version",),
        "a saved run of another version of a loader teaches the speed correction that the load follows the machine 20x",
    ),
    Breakage(
        "machine-units-assume-full-following", "pytest_loadbudget/baseline/compare.py",
        "    exponent = following.follows if following is not None else 1.0",
        "    exponent = 1.0",
        ("tests/test_gate.py -k followed_the_machine",),
        "a saved run timed on a faster machine excuses any slower run of a load that barely follows the machine",
    ),
    Breakage(
        "memory-bus-not-allowed-for", "pytest_loadbudget/baseline/compare.py",
        "    streamed = _slowdown(stream_then, new.stream_ms)",
        "    streamed = 0.0",
        ("tests/test_gate.py -k memory_bus",),
        "a neighbour streaming memory fails unchanged loads the speed workload saw no slower",
    ),
    Breakage(
        "gauges-compared-with-the-baseline-run-alone", "pytest_loadbudget/baseline/compare.py",
        "    return len(history) >= SPREAD_RUNS\n",
        "    return False\n",
        ("tests/test_gate.py -k middle_reading",),
        "a baseline run saved in a fast spell of the memory bus allows every later run 10-30%",
    ),
    Breakage(
        "growth-the-gauges-let-pass-not-measured-again", "pytest_loadbudget/baseline/compare.py",
        "    excused = figure in TIMED and bool(widening) and not grown and not noise and \\\n",
        "    excused = False and figure in TIMED and bool(widening) and not grown and not noise and \\\n",
        ("tests/test_gate.py -k 'gauges_let_pass or still_read_slower'",),
        "a load 1.2x slower that its gauges excuse is never measured again: the excuse is never tested",
    ),
    Breakage(
        "growth-the-gauges-let-pass-judged-at-the-second-allowance", "pytest_loadbudget/baseline/confirm.py",
        "    if alone.regression and alone.allowance == 0.0:",
        "    if alone.regression:",
        ("tests/test_gate.py -k gauges_let_pass",),
        "an unchanged load beside a memory hog gets a second chance to fail on the second measurement",
    ),
    Breakage(
        "second-measurement-judged-at-its-own-gauges-after-a-calm-first", "pytest_loadbudget/baseline/confirm.py",
        "        cap = CALM if _calm_suspect(comparison) else None\n",
        "        cap = None\n",
        ("tests/test_gate.py -k calm_gauges",),
        "a 1.2x regression measured with calm gauges passes when the second measurement's gauges read a slower "
        "spell that began after the first",
    ),
    Breakage(
        "second-measurement-judged-at-calm-gauges-after-an-allowance", "pytest_loadbudget/baseline/confirm.py",
        "    return comparison.figure in TIMED and comparison.allowance == 0.0\n",
        "    return comparison.figure in TIMED\n",
        ("tests/test_gate.py -k calm_gauges",),
        "beside a memory hog an unchanged TFLite load, judged at the lower of two slow gauge readings, fails",
    ),
    Breakage(
        "gauge-cap-ignored", "pytest_loadbudget/baseline/compare.py",
        "        slower, refilled, streamed = (min(share, gauge_cap) for share in (slower, refilled, streamed))\n",
        "        pass\n",
        ("tests/test_gate.py -k calm_gauges",),
        "the second measurement's gauges excuse a regression its calm first measurement showed",
    ),
    Breakage(
        "creep-never-said", "pytest_loadbudget/baseline/gate.py",
        "                    comparison.crept = crept(",
        "                    comparison.crept = \"\" and crept(",
        ("tests/test_gate.py -k crept",),
        "a load that grew 5% a run for ten saved runs is never mentioned: each run was judged against the last",
    ),
    Breakage(
        "creep-without-separation", "pytest_loadbudget/baseline/creep.py",
        "    if min(new_medians) <= max(old_medians):\n        return \"\"\n",
        "",
        ("tests/test_gate.py -k did_not_creep",),
        "saved runs that scatter over the machine's spread read as a baseline that crept",
    ),
    Breakage(
        "creep-lost-between-xdist-workers", "pytest_loadbudget/results/comparison.py",
        ', crept=str(data.get("crept", "")),',
        ",",
        ("tests/test_gate.py -k crept",),
        "under pytest-xdist the controller never says a baseline crept: the workers' finding is lost on the way",
    ),
    Breakage(
        "creep-history-counted-as-the-baseline", "pytest_loadbudget/baseline/gate.py",
        "CREEP_LOOKBACK, consult=False)]",
        "CREEP_LOOKBACK, consult=True)]",
        ("tests/test_gate.py -k history_back",),
        "a model saved only in older runs is listed as not measured once the history is read back for a creep",
    ),
    Breakage(
        "creep-on-own-time-only", "pytest_loadbudget/baseline/creep.py",
        "    _, used = history[0][0].timing(figure, clock)\n",
        "    used = clock\n",
        ("tests/test_gate.py -k creep_is_told",),
        "on a machine without schedstat a creeping baseline is never said",
    ),
    Breakage(
        "underpowered-growth-not-measured-again", "pytest_loadbudget/baseline/confirm.py",
        "if (comparison.regression and comparison.figure in REMEASURED) or comparison.underpowered\n",
        "if (comparison.regression and comparison.figure in REMEASURED)\n",
        ("tests/test_gate.py -k too_few_rounds_could",),
        "a 500 ms load's 1.2x regression passes whenever its 5 rounds a side leave the rank test short",
    ),
    Breakage(
        "underpowered-growth-measured-against-another-machine", "pytest_loadbudget/baseline/compare.py",
        "            result.underpowered = False  # nothing to measure again for: it could not fail\n",
        "",
        ("tests/test_gate.py -k too_few_rounds_could",),
        "a baseline from other hardware fails a load the second measurement makes significant",
    ),
    Breakage(
        "time-floor-overrides-an-absolute-threshold", "pytest_loadbudget/baseline/compare.py",
        "    return TIME_FLOOR_MS if threshold is None or threshold.relative else 0.0",
        "    return TIME_FLOOR_MS",
        ("tests/test_compare.py -k time_floor", "tests/test_gate.py -k creep_is_told"),
        "ms:0.2 cannot fail a 0.45 ms growth: the time floor overrides the growth the user named",
    ),
    Breakage(
        "contention-allowed-as-share-of-wall-time", "pytest_loadbudget/baseline/compare.py",
        "    waited = _per_own(new_share) - _per_own(old_share) if new_share",
        "    waited = new_share - old_share if new_share",
        ("tests/test_gate.py -k wait_per_own_time",),
        "beside 4 busy processes a TFLite warm-up fails unchanged: the wait's share of wall time never reaches "
        "what contention adds to own time",
    ),
    Breakage(
        "contention-allowance-uncapped", "pytest_loadbudget/baseline/compare.py",
        "    capped = min(share, WAIT_SHARE_CAP)",
        "    capped = min(share, 0.99)",
        ("tests/test_gate.py -k wait_per_own_time",),
        "on a runner busy enough to wait 75% of the time, a 3x regression passes",
    ),
    Breakage(
        "second-measurement-not-kept", "pytest_loadbudget/baseline/confirm.py",
        "        first.remeasured = {name: getattr(again, name) for name in ROUND_SERIES if getattr(again, name)}",
        "        pass",
        ("tests/test_gate.py -k slow_first_measurement",),
        "the report drops the rounds that confirmed or cleared a suspect: its verdict cannot be checked",
    ),
    Breakage(
        "memory-bus-gauged-after-the-rounds-only", "pytest_loadbudget/measure/loads.py",
        "    readings, _ = untraced(speed.stream_readings)\n    timings.stream_ms.values.extend(readings)\n",
        "",
        ("tests/test_gate.py -k speed_workload_runs",),
        "the memory bus's reading is three copies after the rounds: one burst decides it",
    ),
    Breakage(
        "rounds-collect-the-whole-session", "pytest_loadbudget/measure/loads.py",
        "    gc.freeze()\n    try:",
        "    try:",
        ("tests/test_own_time.py -k collections",),
        "a full collection over the framework's objects lands in a random round and makes it the slowest by far",
    ),
    Breakage(
        "rounds-leave-dropped-models-to-the-collector", "pytest_loadbudget/measure/loads.py",
        "        gc.collect()\n        with placed(",
        "        with placed(",
        ("tests/test_own_time.py -k dropped_collected",),
        "a full collection over earlier rounds' models lands in one round of several: two speeds of round",
    ),
    Breakage(
        "first-model-frozen-through-the-rounds", "pytest_loadbudget/measure/loads.py",
        "    # (0.4 s with them).\n    gc.collect()",
        "    # (0.4 s with them).\n    gc.collect(1)",
        ("tests/test_own_time.py -k dropped_collected",),
        "the first, untimed model stays in memory, frozen, while every timed round loads another",
    ),
    Breakage(
        "burst-note-silent", "pytest_loadbudget/baseline/compare.py",
        '    bar = "" if left_out <= 0 else " bar the slowest" if left_out == 1 else f" bar the {left_out} slowest"',
        '    bar = ""',
        ("tests/test_gate.py -k burst_among",),
        "a note gives the spread of the saved runs without saying that a burst among them was left out",
    ),
    Breakage(
        "baseline-of-three-runs", "pytest_loadbudget/settings.py",
        "(default 5; 1: the newest run alone)\", positive_int, 5,",
        "(default 5; 1: the newest run alone)\", positive_int, 3,",
        ("tests/test_gate.py -k median_of_five",),
        "the baseline is the median of three saved runs, as likely to have read slow as one of five",
    ),
    Breakage(
        "gauges-kept-for-rounds-that-paused", "pytest_loadbudget/baseline/compare.py",
        "        old, new = _without_gauges(old), _without_gauges(new)",
        "        pass",
        ("tests/test_gate.py -k paused_longer",),
        "a load made slower by sleeping is excused by the gauges that read its pause as a slower machine",
    ),
    Breakage(
        "pause-read-under-contention", "pytest_loadbudget/baseline/compare.py",
        " or share is None or share >= MACHINE_SHARE:",
        ":",
        ("tests/test_gate.py -k paused_longer",),
        "a multi-threaded load's helpers waiting for a CPU read as a pause, and the gauges are dropped under load",
    ),
    Breakage(
        "pause-judged-at-the-whole-threshold", "pytest_loadbudget/baseline/compare.py",
        "    if new_paused - old_paused <= max(time_floor(threshold), threshold.allowed(old_median) / 2):",
        "    if new_paused - old_paused <= max(time_floor(threshold), threshold.allowed(old_median)):",
        ("tests/test_gate.py -k paused_longer",),
        "a load whose pause grew by less than the threshold keeps gauges its own pause slowed",
    ),
    Breakage(
        "warm-up-judged-on-the-loads-pause", "pytest_loadbudget/baseline/compare.py",
        "    _, own, cpu = record.rounds(figure)\n    if not own",
        "    _, own, cpu = record.rounds(\"ms\")\n    if not own",
        ("tests/test_gate.py -k paused_longer",),
        "a warm-up that ran in the slow aftermath of the load's pause fails without the gauges that saw it",
    ),
    Breakage(
        "rounds-unfreeze-the-suite", "pytest_loadbudget/measure/loads.py",
        "        if not frozen_by_the_suite:\n            gc.unfreeze()",
        "        gc.unfreeze()",
        ("tests/test_own_time.py -k collections",),
        "a suite that froze its objects (as a server does) finds them unfrozen after a load_model",
    ),
    Breakage(
        "html-this-run-twice", "pytest_loadbudget/report/html.py",
        "    history = read_history(gate.store, gate.machine_id, leave_out=gate.saved_path)",
        "    history = read_history(gate.store, gate.machine_id)",
        ("tests/test_history.py -k plugin_writes_the_page",),
        "the HTML page charts the run it just saved twice: once saved, once as this run",
    ),
    Breakage(
        "history-schema-1-apart", "pytest_loadbudget/baseline/history.py",
        "        history.add_run(saved_run_info(run), run.entries)",
        "        history.add_run(saved_run_info(run), current_entries(run.records))",
        ("tests/test_history.py -k trend",),
        "loadbudget trend and the HTML page show a schema 1 run's models apart from today's",
    ),
    Breakage(
        "prune-removes-unreadable", "pytest_loadbudget/baseline/retention.py",
        "            plan.unreadable.append(str(error))\n            continue",
        "            by_machine[path.parent.name].append(path)\n            continue",
        ("tests/test_history.py -k prune",),
        "loadbudget prune deletes files it could not read as saved runs",
    ),
    Breakage(
        "setup-js-missing-node-stops-the-chain", "pytest_loadbudget/tfjs_runtime/jsenv.py",
        "        if args.check or args.strict:\n            return 1",
        "        if True:\n            return 1",
        ("tests/test_cli.py -k setup_js",),
        "without Node.js `loadbudget setup-js` exits 1 and the README's `&& pytest` never runs",
    ),
    Breakage(
        "fleet-no-barrier", "pytest_loadbudget/fresh/cold_child.py",
        '        protocol.wait_at_barrier(envelope["barrier_fd"])',
        "        pass",
        ("tests/test_fleet.py -k barrier",),
        "a fleet's processes start their import as each finishes its start-up, not together",
    ),
    # --- Where CI users look ---
    Breakage(
        "step-summary-replaced", "pytest_loadbudget/report/github.py",
        '    with path.open("a", encoding="utf-8") as summary:',
        '    with path.open("w", encoding="utf-8") as summary:',
        ("tests/test_ci_outputs.py -k appended",),
        "the run's report replaces what earlier steps wrote to $GITHUB_STEP_SUMMARY",
    ),
    Breakage(
        "github-json-leak-is-the-peak", "pytest_loadbudget/report/github.py",
        '        yield FIGURES["leak_mb"].label, _mib_entry(memory.leak_bytes,',
        '        yield FIGURES["leak_mb"].label, _mib_entry(memory.peak_bytes or 0,',
        ("tests/test_ci_outputs.py -k github_json",),
        "github-action-benchmark charts the peak under the leak's name",
    ),
    Breakage(
        "live-line-cursor-left-below", "pytest_loadbudget/measure/progress.py",
        '                back = UP + (f"\\x1b[{self.resume_column}C" if self.resume_column else "")',
        '                back = ""',
        ("tests/test_ci_outputs.py -k live_line",),
        "after a live line the test's dots continue one row below its file name",
    ),
    # --- Budgets in configuration ---
    Breakage(
        "config-entry-budget-dropped", "pytest_loadbudget/config/items.py",
        "        self.add_marker(pytest.mark.load_budget(**describe(entry.budget)))",
        "        pass",
        ("tests/test_config_budgets.py -k miss_fails",),
        "a model named in pyproject.toml is measured but never checked: every entry passes",
    ),
    # --- The browser as its user feels it ---
    Breakage(
        "browser-block-not-counted", "pytest_loadbudget/tfjs_runtime/mainthread.py",
        "            blocking.append(sum(inside.values()))",
        "            blocking.append(0.0)",
        ("tests/test_tfjs_browser_features.py -k 'block and not gate'",),
        "the page's long tasks are kept but block_ms is always 0: a frozen page passes any budget",
    ),
    Breakage(
        "browser-worker-runs-on-the-page", "pytest_loadbudget/tfjs_runtime/mainthread.py",
        "  return inWorker ? window.loadbudgetStartInWorker(options) : window.loadbudgetStart(options);",
        "  return window.loadbudgetStart(options);",
        ("tests/test_tfjs_browser_features.py -k worker_blocks_less",),
        "worker=True is labelled a worker but the model loads on the page's main thread",
    ),
    Breakage(
        "browser-indexeddb-never-read", "pytest_loadbudget/tfjs_runtime/js/storage.js",
        "round >= HTTP_ROUNDS ? 'indexeddb' : 'http'",
        "round >= 99 ? 'indexeddb' : 'http'",
        ("tests/test_tfjs_browser_features.py -k indexeddb_reload",),
        "cache_policy='indexeddb' saves the model but every reload still comes over HTTP",
    ),
    Breakage(
        "browser-quota-not-checked", "pytest_loadbudget/tfjs_runtime/js/storage.js",
        "    if (quota != null && usage + size > quota) throw refuse('navigator.storage.estimate()');",
        "",
        ("tests/test_tfjs_browser_features.py -k quota",),
        "a model larger than the storage quota is saved as if it fitted",
    ),
    Breakage(
        "gate-block-not-compared", "pytest_loadbudget/baseline/compare.py",
        '    "block_ms": _compare_times,\n}',
        "}",
        ("tests/test_tfjs_browser_features.py -k gate",),
        "the regression gate never judges the main-thread block",
    ),
    # --- .tflite models through LiteRT ---
    Breakage(
        "tflite-auto-picks-tensorflow", "pytest_loadbudget/formats/tflite_interpreters.py",
        "for interpreter in (LITERT, TENSORFLOW, TFLITE_RUNTIME)",
        "for interpreter in (TENSORFLOW, LITERT, TFLITE_RUNTIME)",
        ("tests/test_litert.py -k without_ever_importing",),
        "with LiteRT installed a .tflite model still loads through TensorFlow: seconds of import for nothing",
    ),
    Breakage(
        "tflite-interpreter-not-in-identity", "pytest_loadbudget/model/identity.py",
        '    via = f" via {interpreter}" if interpreter else ""',
        '    via = ""',
        ("tests/test_litert.py -k never_compared",),
        "a LiteRT run is compared with a baseline measured through TensorFlow's interpreter",
    ),
    Breakage(
        "tflite-marker-interpreter-ignored", "pytest_loadbudget/session/fixture.py",
        "            interpreter = budget.interpreter",
        "            pass",
        ("tests/test_litert.py -k 'forced_interpreter or configuration'",),
        "interpreter='tensorflow' on the marker or in a configuration entry changes nothing",
    ),
    Breakage(
        "tflite-advice-without-litert-import", "pytest_loadbudget/diagnose/rules.py",
        "    litert_ms = interpreter_import_ms(LITERT) if through_tensorflow else None",
        "    litert_ms = None",
        ("tests/test_litert.py -k import_advice",),
        "the import advice of a .tflite model run by TensorFlow no longer quotes LiteRT's import measured here",
    ),
    # --- Per-prediction growth ---
    Breakage(
        "predictions-keep-nothing-counted", "pytest_loadbudget/tfjs_runtime/js/core.js",
        "      if (keep) keep.push(...outputs);\n      else outputs.forEach((t) => t.dispose());",
        "      outputs.forEach((t) => t.dispose());",
        ("tests/test_predictions.py -k 'node and keep_their_outputs'",),
        "predictions dispose their outputs whatever the caller does: a page that keeps every result passes",
    ),
    # --- Review: history units, what kept the pages cached ---
    Breakage(
        "history-figures-default-to-ms", "pytest_loadbudget/figures.py",
        'Figure("predict_leak_tensors", "tensors left by predictions", "tensors", "count", "0"),',
        'Figure("predict_leak_tensors", "tensors left by predictions", "tensors", "time", "0"),',
        ("tests/test_history.py -k 'predictions_leave or every_figure'",),
        "`loadbudget trend --figure predict_leak_tensors` reads the count as a time and shows no model",
    ),
    Breakage(
        "eviction-blames-tmpfs-for-a-mapping", "pytest_loadbudget/measure/page_cache.py",
        "    mapped = mapped_here(files)\n",
        "    mapped: list[Path] = []\n",
        ("tests/test_cold.py -k 'maps or blamed'",),
        "a model the test process keeps mapped on a real disk is reported as a tmpfs that cannot drop pages",
    ),
    # --- The newest features' safety net: configuration entries and suggestions ---
    Breakage(
        "config-entry-options-dropped", "pytest_loadbudget/config/items.py",
        "            **entry.options,\n        )",
        "        )",
        ("tests/test_config_budgets.py -k options_reach",),
        "an entry's options (the loader's keyword arguments) never reach the loader",
    ),
    Breakage(
        "config-entry-files-dropped", "pytest_loadbudget/config/items.py",
        "            files=[entry.base / path for path in entry.files],",
        "            files=[],",
        ("tests/test_config_budgets.py -k files_count",),
        "an entry's extra files are neither counted in its size nor judged by its mb budget",
    ),
    Breakage(
        "config-entry-warmup-false-ignored", "pytest_loadbudget/config/items.py",
        "            warmup=AUTO if entry.warmup else None,",
        "            warmup=AUTO,",
        ("tests/test_config_budgets.py -k warmup_false",),
        "an entry with warmup = false is warmed up anyway",
    ),
    Breakage(
        "config-entry-warmup-false-read-as-true", "pytest_loadbudget/config/entries.py",
        "        warmup=_warmup(raw.get(\"warmup\", True), where),",
        "        warmup=True,",
        ("tests/test_config_budgets.py -k warmup_false",),
        "warmup = false in the file is read as the default automatic warm-up",
    ),
    Breakage(
        "config-entry-format-ignored", "pytest_loadbudget/config/items.py",
        "            format=entry.format,",
        "            format=None,",
        ("tests/test_config_budgets.py -k forces_its_format",),
        "an entry's format is ignored: a model whose file name no format claims cannot load",
    ),
    Breakage(
        "config-entry-name-ignored", "pytest_loadbudget/config/items.py",
        "            name=entry.name,",
        "            name=None,",
        ("tests/test_config_budgets.py -k names_its_model",),
        "an entry's name is ignored: the model is reported under its file name",
    ),
    Breakage(
        "config-item-worker-suffix-dropped", "pytest_loadbudget/config/items.py",
        '"worker" if budget.worker else ""]',
        '""]',
        ("tests/test_config_suggest.py -k collect_one_item",),
        "the same model on the page and in a Web Worker collide as one item: a collection error",
    ),
    Breakage(
        "suggest-config-runtime-dropped", "pytest_loadbudget/config/suggest.py",
        "    if words and words[0] != PYTHON:\n        values.update(",
        "    if False:\n        values.update(",
        ("tests/test_config_suggest.py -k names_the_runtime",),
        "a TF.js model's suggested entry has no runtime: next time it is measured in Python",
    ),
    Breakage(
        "suggest-config-backend-dropped", "pytest_loadbudget/config/suggest.py",
        'zip(("runtime", "backend", "cache_policy"), words)',
        'zip(("runtime",), words)',
        ("tests/test_config_suggest.py -k names_the_runtime",),
        "a TF.js model's suggested entry has no backend: next time it is measured on the default one",
    ),
    Breakage(
        "suggest-config-cache-policy-dropped", "pytest_loadbudget/config/suggest.py",
        'zip(("runtime", "backend", "cache_policy"), words)',
        'zip(("runtime", "backend"), words)',
        ("tests/test_config_suggest.py -k names_the_runtime",),
        "a browser model's suggested entry has no cache policy: next time its files are served cached",
    ),
    Breakage(
        "suggest-config-worker-dropped", "pytest_loadbudget/config/suggest.py",
        '            values["worker"] = True',
        "            pass",
        ("tests/test_config_suggest.py -k names_the_runtime",),
        "a model measured in a Web Worker is suggested for the page's main thread",
    ),
    Breakage(
        "suggest-config-gpu-device-dropped", "pytest_loadbudget/config/suggest.py",
        '        values["device"] = "gpu"',
        "        pass",
        ("tests/test_config_suggest.py -k names_the_runtime",),
        "a model measured on a GPU is suggested without device: next time the framework picks",
    ),
    Breakage(
        "suggest-config-size-headroom-inflated", "pytest_loadbudget/report/suggest.py",
        "            limits[figure] = round_up(fixed[figure] * described.headroom)",
        "            limits[figure] = round_up(fixed[figure] * described.headroom * 10)",
        ("tests/test_config_budgets.py -k suggested_entries",),
        "suggested mb is ten times the documented x1.1 headroom: a model can grow tenfold unnoticed",
    ),
    Breakage(
        "suggest-config-time-headroom-inflated", "pytest_loadbudget/report/suggest.py",
        "    return upper_quantile(judged.values) * (1 + BASE_MARGIN + share), share",
        "    return upper_quantile(judged.values) * (2 + BASE_MARGIN + share), share",
        ("tests/test_config_budgets.py -k suggested_entries",),
        "suggested times double the documented headroom over the upper decile",
    ),
    # --- The newest features' safety net: CI outputs, HTML and history ---
    Breakage(
        "github-json-range-whole-iqr", "pytest_loadbudget/report/github.py",
        '        entry["range"] = f"± {(q3 - q1) / 2:.{MS_DECIMALS}f}"',
        '        entry["range"] = f"± {(q3 - q1):.{MS_DECIMALS}f}"',
        ("tests/test_ci_outputs.py -k interquartile",),
        "github-action-benchmark's range is the whole interquartile range, twice the documented half",
    ),
    Breakage(
        "github-json-gpu-suffix-dropped", "pytest_loadbudget/report/github.py",
        "    elif record.device != \"cpu\":\n        label += f\" [{record.device.split(' (driver')[0]}]\"",
        "    elif False:\n        label += f\" [{record.device.split(' (driver')[0]}]\"",
        ("tests/test_ci_outputs.py -k gpu_a_python_model",),
        "a Python model's GPU loads and CPU loads share one github-action-benchmark chart name",
    ),
    Breakage(
        "html-saved-runs-not-shown-unlisted", "pytest_loadbudget/report/html.py",
        "        _legend(), *_problems(history),",
        "        _legend(),",
        ("tests/test_history.py -k could_not_show",),
        "the HTML page leaves out saved runs it could not read without saying which",
    ),
    Breakage(
        "html-device-change-not-marked", "pytest_loadbudget/baseline/history.py",
        "    if old.device != record.device:\n        changes.append(f\"device {old.device}",
        "    if False:\n        changes.append(f\"device {old.device}",
        ("tests/test_history.py -k device_change",),
        "a GPU driver upgrade between saved runs is drawn on the HTML page as if nothing changed",
    ),
    Breakage(
        "trend-clock-ignored", "pytest_loadbudget/cli/history.py",
        "        print(trend_line(model, history.runs, args.figure, args.clock, width))",
        "        print(trend_line(model, history.runs, args.figure, \"own\", width))",
        ("tests/test_history.py -k wall_time_when_asked",),
        "`loadbudget trend --clock wall` still draws own time",
    ),
    Breakage(
        "trend-mixes-clocks", "pytest_loadbudget/baseline/history.py",
        '            clock = "own" if all(time_series(figure, record, "own")[1] == "own" for record in measured)',
        '            clock = "own" if any(time_series(figure, record, "own")[1] == "own" for record in measured)',
        ("tests/test_history.py -k mixes",),
        "a trend line draws own time where runs have it and wall time elsewhere: a step where nothing changed",
    ),
    Breakage(
        "env-changed-kernel-not-named", "pytest_loadbudget/baseline/fingerprint.py",
        'SOFTWARE_LABELS = {"python": "python", "release": "kernel", ',
        'SOFTWARE_LABELS = {"python": "python", ',
        ("tests/test_fingerprint.py -k kernel",),
        "a kernel upgrade since the baseline is left out of the verdict's env changed note",
    ),
    # --- The newest features' safety net: sizes, creep, fleet and predictions ---
    Breakage(
        "size-threshold-in-kib", "pytest_loadbudget/baseline/compare.py",
        "    grown = _grew(threshold, old, new, floor, MIB)",
        "    grown = _grew(threshold, old, new, floor, 1024)",
        ("tests/test_size_thresholds.py",),
        "--loadbudget-compare-fail=mb:0.5 allows 0.5 KiB of growth: a file 0.4 MiB larger fails",
    ),
    Breakage(
        "creep-without-the-threshold", "pytest_loadbudget/baseline/creep.py",
        "    if now - then <= time_floor(threshold) or not threshold.exceeded(then, now, 1.0):",
        "    if now - then <= time_floor(threshold):",
        ("tests/test_creep.py",),
        "saved runs 5% slower than the oldest, within ms:10%, are said to have crept",
    ),
    Breakage(
        "fleet-budget-on-the-median", "pytest_loadbudget/budget/check.py",
        "    return fleet.p95_ms, (f\"{FIGURES['fleet_ms'].label} p95",
        "    return fleet.median_ms, (f\"{FIGURES['fleet_ms'].label} p95",
        ("tests/test_fleet.py -k 'percentile or between'",),
        "fleet_ms is judged on the median start while the miss says p95: a slow tail passes",
    ),
    Breakage(
        "fleet-cold-disk-never-evicts", "pytest_loadbudget/fresh/fleet.py",
        "        cache = evict_files(files) if evict else residency(files)",
        "        cache = residency(files)",
        ("tests/test_fleet.py -k cold_disk",),
        "a cold_disk fleet starts with the artifact still in the page cache",
    ),
    Breakage(
        "fleet-cold-disk-not-asked", "pytest_loadbudget/session/fixture.py",
        "        return budget.fleet_size, cold[1]",
        "        return budget.fleet_size, False",
        ("tests/test_fleet.py -k cold_disk",),
        "cold_disk=True evicts before the single cold start but never before the fleet",
    ),
    Breakage(
        "predictions-last-reading-unsettled", "pytest_loadbudget/measure/predictions.py",
        "            reading = _settled_rss() if index == count - 1 else current_rss()",
        "            reading = current_rss()",
        ("tests/test_predictions.py -k 'last_reading or first_and_last'",),
        "predict_leak_mb counts garbage a collection would free: a model that keeps nothing reads as leaking",
    ),
    Breakage(
        "predictions-settle-without-trim", "pytest_loadbudget/measure/predictions.py",
        "    release_free_heap()\n    return current_rss()",
        "    return current_rss()",
        ("tests/test_predictions.py -k 'last_reading or first_and_last'",),
        "predict_leak_mb counts freed heap the allocator kept as growth",
    ),
    # --- The newest features' safety net: the browser ---
    Breakage(
        "long-tasks-probe-trusts-silence", "pytest_loadbudget/tfjs_runtime/mainthread.py",
        "    if not any(duration >= PROBE_TASK_MS * 0.9 for duration in durations):",
        "    if False:",
        ("tests/test_tfjs_browser_features.py -k probe",),
        "a Chromium whose Long Tasks API reports nothing reads every page as never blocked: block_ms passes",
    ),
    Breakage(
        "long-tasks-read-from-an-untrusted-browser", "pytest_loadbudget/tfjs_runtime/mainthread.py",
        '    if long_tasks_note:\n        return None, f"{trace_note}, and {long_tasks_note}"\n',
        "",
        ("tests/test_tfjs_browser_features.py -k probe",),
        "the probe's verdict is ignored: without a trace, a browser that missed it still reports a block",
    ),
    Breakage(
        "indexeddb-quota-ignores-usage", "pytest_loadbudget/tfjs_runtime/js/storage.js",
        "    if (quota != null && usage + size > quota)",
        "    if (quota != null && size > quota)",
        ("tests/test_tfjs_browser_features.py -k already_uses",),
        "a model that fits the quota alone but not beside what the origin already stores is saved anyway",
    ),
    # --- Verdicts judged in the test's call; sizes that mean weights ---
    Breakage(
        "judging-error-swallowed", "pytest_loadbudget/plugin.py",
        "        judgement = self._judge(item, test_passed=True)\n",
        "        try:\n            judgement = self._judge(item, test_passed=True)\n"
        "        except Exception:\n            judgement = None\n",
        (f"{PLUGIN} -k judging",),
        "a bug while judging passes the test silently instead of being its error",
    ),
    Breakage(
        "failure-lines-twice", "pytest_loadbudget/plugin.py",
        "        section = judgement.details if failed_here else judgement.lines + judgement.details",
        "        section = judgement.lines + judgement.details",
        (f"{PLUGIN} -k one_line",),
        "every failure line printed twice: the failure, then the section again",
    ),
    Breakage(
        "size-default-any-byte", "pytest_loadbudget/figures.py",
        'Figure("mb", "size", "MiB", "bytes", "1%",',
        'Figure("mb", "size", "MiB", "bytes", "0",',
        ("tests/test_size_resave.py",),
        "a model re-saved with a layer renamed (+46 bytes) fails as a size regression",
    ),
    Breakage(
        "size-floor-ignored", "pytest_loadbudget/baseline/compare.py",
        "    floor = SIZE_FLOOR_BYTES if threshold is not None and threshold.relative else 0",
        "    floor = 0",
        ("tests/test_size_thresholds.py",),
        "a few KiB of metadata in a small model fail a relative size threshold",
    ),
    Breakage(
        "size-floor-overrides-absolute", "pytest_loadbudget/baseline/compare.py",
        "    floor = SIZE_FLOOR_BYTES if threshold is not None and threshold.relative else 0",
        "    floor = SIZE_FLOOR_BYTES",
        ("tests/test_size_thresholds.py",),
        "mb:0 (any growth fails) lets 4 KiB grow unseen",
    ),
    # --- Figures under tracers: coverage paused around the timed rounds, other tracers named ---
    Breakage(
        "coverage-never-paused", "pytest_loadbudget/measure/tracing.py",
        "        sys.settrace(None)\n",
        "",
        ("tests/test_tracers.py -k paused_around",),
        "under pytest --cov the timed rounds run covered: a Keras load reads 1.7-2.1x slower, and the record "
        "still says coverage was paused",
    ),
    Breakage(
        "coverage-paused-out-of-step", "pytest_loadbudget/measure/tracing.py",
        "        sys.settrace(None)\n        try:\n            seen = Tracing(paused=[COVERAGE_PAUSED], "
        "traced=distortions())\n            result = function()\n        finally:\n            "
        "sys.settrace(trace)\n",
        "        _off = lambda: sys.settrace(None)\n        _off()\n        try:\n            seen = Tracing("
        "paused=[COVERAGE_PAUSED], traced=distortions())\n            result = function()\n        finally:\n"
        "            sys.settrace(trace)\n",
        ("tests/test_tracers.py -k paused_around",),
        "coverage set aside in a helper: coverage's Python tracer saw the helper called, never returning, and "
        "sent every later line to the wrong frame",
    ),
    Breakage(
        "traced-flag-not-set", "pytest_loadbudget/session/model_cache.py",
        "record.paused, record.traced = list(timings.tracing.paused), list(timings.tracing.traced)",
        "record.paused, record.traced = list(timings.tracing.paused), []",
        ("tests/test_tracers.py -k marks_the_figures_traced",),
        "figures measured under a debugger, a profiler or the suite's own tracer are reported as plain ones",
    ),
    Breakage(
        "gate-judges-traced-against-untraced", "pytest_loadbudget/baseline/compare.py",
        "        apart = traced_apart(result.figure, old, new)",
        '        apart = ""',
        ("tests/test_tracers.py -k not_judged_against",),
        "a run under a tracer fails as a regression against an untraced baseline (or hides one the other way)",
    ),
    Breakage(
        "traced-saved-run-is-the-baseline", "pytest_loadbudget/baseline/gate.py",
        '        alike = tuple(saved for saved in history if not traced_apart("ms", saved, record))',
        "        alike = history",
        ("tests/test_tracers.py -k not_the_baseline",),
        "a traced saved run stays in the history: as the median run it leaves an untraced run unjudged, and "
        "its slow rounds widen the machine's spread",
    ),
    Breakage(
        "coverage-started-in-fresh-processes", "pytest_loadbudget/fresh/protocol.py",
        "        environment.pop(name, None)",
        "        pass",
        ("tests/test_tracers.py -k fresh_processes",),
        "COVERAGE_PROCESS_START starts coverage in every cold-start child: its import and load are traced",
    ),
    # --- The main-thread block from Chrome's trace, checked by a heartbeat ---
    Breakage(
        "trace-ignored-falls-back-silently", "pytest_loadbudget/tfjs_runtime/browser.py",
        "            trace = tracer.finish(worker=worker)\n",
        "            tracer.finish(worker=worker)\n            trace = None\n",
        ("tests/test_browser_trace.py -k webgl_warm_up",),
        "the trace is recorded but never read: every block comes from the Long Tasks API, and nothing says so",
    ),
    Breakage(
        "trace-fallback-says-not-why", "pytest_loadbudget/tfjs_runtime/browser.py",
        '            observed, events, rounds, note=note, trace_note=tracer.note, heartbeat=observers.get("heartbeat")))',
        '            observed, events, rounds, note=note, trace_note="", heartbeat=observers.get("heartbeat")))',
        ("tests/test_browser_trace.py -k stands_in",),
        "where the trace is unavailable the block falls back to the Long Tasks API without saying why",
    ),
    Breakage(
        "tbt-without-the-50-ms", "pytest_loadbudget/tfjs_runtime/mainthread.py",
        "    return max(0.0, part - LONG_TASK_MS)",
        "    return part",
        ("tests/test_browser_trace.py -k 'total_blocking or busy_loop'",),
        "total blocking time sums whole tasks, not their time beyond 50 ms as Lighthouse counts it",
    ),
    Breakage(
        "heartbeat-cross-check-never-said", "pytest_loadbudget/tfjs_runtime/mainthread.py",
        "        heartbeat_note=heartbeat_disagreement(main.block_ms, heartbeat_ms, observed.source),",
        '        heartbeat_note="",',
        ("tests/test_browser_trace.py -k heartbeat_that_disagrees",),
        "a heartbeat that saw a freeze the trace did not is recorded, but no figure or line says they disagree",
    ),
    Breakage(
        "heartbeat-disagreement-not-in-the-report", "pytest_loadbudget/report/browser_lines.py",
        '        if figures.get("heartbeat_note"):',
        "        if False:",
        ("tests/test_browser_trace.py -k heartbeat_that_disagrees",),
        "the figures say the heartbeat and the trace disagree, the report does not",
    ),
    Breakage(
        "trace-nested-tasks-counted-twice", "pytest_loadbudget/tfjs_runtime/trace.py",
        "        if start < outer_end:\n",
        "        if False:\n",
        ("tests/test_browser_trace.py -k outermost",),
        "a task's inner RunTask event counts as a task of its own: one freeze counted twice in TBT",
    ),
    Breakage(
        "trace-not-on-the-page-timeline", "pytest_loadbudget/tfjs_runtime/trace.py",
        '        offset_ms = float(page["ts"]) / 1000 - float(page["args"]["data"]["startTime"])',
        "        offset_ms = 0.0",
        ("tests/test_browser_trace.py -k busy_loop",),
        "the trace's tasks stay on the trace's clock: none falls inside a load or warm-up, every block reads 0",
    ),
    Breakage(
        "worker-thread-not-marked", "pytest_loadbudget/tfjs_runtime/js/worker.js",
        "  performance.mark('loadbudget:worker');",
        "",
        ("tests/test_browser_trace.py -k webgl_warm_up",),
        "the worker's thread is not found in the trace: the report cannot say which thread held how long",
    ),
    # --- One registry of figures: every writer names a figure as figures.py says ---
    Breakage(
        "budget-miss-label-typed-out", "pytest_loadbudget/budget/check.py",
        "    label = FIGURES[figure].label\n    return num_bytes / MIB,",
        "    label = {\"mb\": \"size\", \"peak_mb\": \"peak\", \"leak_mb\": \"leak\", \"gpu_mb\": \"GPU memory\"}[figure]\n"
        "    return num_bytes / MIB,",
        ("tests/test_figures_registry.py -k budget_miss",),
        "size and memory misses read a label table of their own: a figure relabelled in the registry keeps its old words there",
    ),
    Breakage(
        "unmeasured-line-names-the-key", "pytest_loadbudget/budget/check.py",
        "    return f\"{record.name} {FIGURES[figure].label} not {verb}",
        "    return f\"{record.name} {figure} not {verb}",
        ("tests/test_figures_registry.py -k not_measured",),
        "a figure not measured is named by its keyword, not the label every other line uses",
    ),
    Breakage(
        "regression-line-names-the-key", "pytest_loadbudget/baseline/compare.py",
        "    line = f\"{name} {FIGURES[figure].label} {format_mib(new)}",
        "    line = f\"{name} {figure} {format_mib(new)}",
        ("tests/test_figures_registry.py -k regression_line",),
        "the gate's size and memory lines name the figure by its keyword, not its label",
    ),
    Breakage(
        "github-json-size-name-typed-out", "pytest_loadbudget/report/github.py",
        "        yield FIGURES[\"mb\"].label, _mib_entry(record.size_bytes, files)",
        "        yield \"size\", _mib_entry(record.size_bytes, files)",
        ("tests/test_figures_registry.py -k github_json",),
        "the size's chart name is typed out: relabel the figure and github-action-benchmark still charts 'size'",
    ),
    Breakage(
        "trend-header-names-the-key", "pytest_loadbudget/cli/history.py",
        "    print(f\"{FIGURES[args.figure].label_with_unit} over",
        "    print(f\"{args.figure} ({FIGURES[args.figure].unit}) over",
        ("tests/test_figures_registry.py -k trend",),
        "`loadbudget trend` heads its lines with the keyword, not the label the report uses",
    ),
    Breakage(
        "label-table-comes-back", "pytest_loadbudget/report/browser_lines.py",
        "BLOCK_COLUMN = FIGURES[\"block_ms\"].label",
        "BLOCK_COLUMN = {\"block_ms\": \"main-thread block\", \"warm_ms\": \"warm-up\"}[\"block_ms\"]",
        ("tests/test_figures_registry.py -k own_table",),
        "a second table of figure labels, beside the registry, that nothing keeps in step",
    ),
    Breakage(
        "figure-table-in-docs-drifts", "docs/figures.md",
        "| `gpu_mb` | GPU memory | MiB | memory | `10%` |",
        "| `gpu_mb` | gpu | MiB | memory | `10%` |",
        ("tests/test_figures_registry.py -k docs",),
        "the documented label of a figure is not the one the reports print",
    ),
    Breakage(
        "marker-suggestions-own-headroom", "pytest_loadbudget/report/suggest.py",
        "        limits, _ = suggested_limits(record, clock)\n",
        "        limits = {figure: round_up(value * 1.5) for figure, value in suggested_limits(record, clock)[0].items()}\n",
        (f"{BASELINE} -k suggest",),
        "markers get a headroom of their own on top of the one rule: two formulas for one suggestion",
    ),
    # --- Verdicts as data: the rule that decided each ---
    Breakage(
        "saved-run-rules-unnamed", "pytest_loadbudget/baseline/gate.py",
        "        name_rules(comparisons)\n",
        "",
        ("tests/test_baseline.py -k names_the_rule",),
        "the JSON's verdicts name no rule: a script must parse the words",
    ),
    Breakage(
        "off-rule-read-as-its-figures", "pytest_loadbudget/baseline/compare.py",
        "            result.rule = NOT_JUDGED\n",
        "",
        ("tests/test_baseline.py -k names_the_rule",),
        "a figure left unjudged by FIGURE:off is said decided by its figure's own rule",
    ),
    # --- Found by mutation testing (mutmut on the pure-logic modules) ---
    Breakage(
        "off-ends-the-compare-fail-list", "pytest_loadbudget/budget/thresholds.py",
        "            thresholds[figure] = None\n            continue\n",
        "            thresholds[figure] = None\n            break\n",
        ("tests/test_compare.py -k off_leaves",),
        "leak_mb:off,ms:15% silently drops ms:15%",
    ),
    Breakage(
        "absolute-threshold-narrows-when-widened", "pytest_loadbudget/budget/thresholds.py",
        "self.amount + share * old,",
        "self.amount - share * old,",
        ("tests/test_compare.py -k widens",),
        "an absolute time threshold shrinks on a slower machine: every contended run fails",
    ),
    Breakage(
        "a-tie-counts-as-slower", "pytest_loadbudget/baseline/significance.py",
        "    return bool(old) and bool(new) and min(new) > max(old)",
        "    return bool(old) and bool(new) and min(new) >= max(old)",
        ("tests/test_significance.py -k tie",),
        "tied cold starts count as every new run slower",
    ),
    # --- The paired gate: the baseline artifact measured in the same run ---
    Breakage(
        "paired-orders-unbalanced", "pytest_loadbudget/paired/pairs.py",
        '    orders = ["AB", "BA"] * (count // 2)',
        '    orders = ["AB", "AB"] * (count // 2)',
        ("tests/test_paired.py -k 'balanced or slower_model'",),
        "every pair loads the baseline first: whatever a pair's first load pays lands on one side",
    ),
    Breakage(
        "paired-regression-without-significance", "pytest_loadbudget/paired/verdict.py",
        "    if found.low > factor and found.p_greater <= ALPHA:",
        "    if found.low > factor:",
        ("tests/test_paired.py -k walsh",),
        "seven pairs (p >= 1/128) fail a model: the interval alone decides",
    ),
    Breakage(
        "paired-same-bytes-measured", "pytest_loadbudget/paired/gate.py",
        "        if _digest(baseline_files, found.path) == _digest(candidate_files, request.path):",
        "        if False:",
        ("tests/test_paired.py -k slower_model",),
        "the same bytes at SOURCE are loaded in pairs all the same",
    ),
    Breakage(
        "paired-symlink-out-followed", "pytest_loadbudget/paired/source.py",
        '                if link.is_absolute() or (link.parts and link.parts[0] == ".."):',
        "                if False:",
        ("tests/test_paired.py -k symbolic",),
        "a link at SOURCE that leads out of the repository is followed",
    ),
    Breakage(
        "paired-time-budget-ignored", "pytest_loadbudget/paired/pairs.py",
        "        if done and spent / done * (total - done) > seconds - spent:",
        "        if False:",
        ("tests/test_paired.py -k extend",),
        "undecided pairs run on past --loadbudget-against-seconds",
    ),
    Breakage(
        "paired-never-extends", "pytest_loadbudget/paired/pairs.py",
        "        if decided(pairs):",
        "        if True:",
        ("tests/test_paired.py -k extend",),
        "an undecided figure stops at 11 pairs",
    ),
    Breakage(
        "paired-interval-one-rank-narrow", "pytest_loadbudget/paired/stats.py",
        "                return max(k - 1, 0)  # P(W <= k - 1) <= alpha / 2 < P(W <= k)",
        "                return k",
        ("tests/test_paired.py -k covers",),
        "the 95% interval covers an unchanged ratio 92-95% of the time: ok and regression both called too easily",
    ),
    Breakage(
        "paired-measured-in-every-test", "pytest_loadbudget/paired/gate.py",
        "        if key not in self._verdicts:",
        "        if True:",
        ("tests/test_paired.py -k paired_once",),
        "every test that loads a model pays its pairs again, and may get another verdict",
    ),
    Breakage(
        "xfail-hides-a-budget-miss", "pytest_loadbudget/plugin.py",
        "        if judgement.failed and hasattr(test_report, \"wasxfail\"):",
        "        if False:",
        ("tests/test_paired.py -k expected_failure",),
        "an xfail test absorbs its own budget miss as the expected failure",
    ),
    Breakage(
        "paired-summary-silent", "pytest_loadbudget/plugin.py",
        "            for line in paired_summary(self.records()):",
        "            for line in []:",
        ("tests/test_paired.py -k lfs",),
        "a run whose baselines could not be used ends as green as a judged one, without a word",
    ),
]


REPO = Path(__file__).resolve().parent.parent
#: pytest exit codes (pytest.ExitCode), spelled out: the runner does not import pytest.
TESTS_FAILED, INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS = 1, 2, 3, 4, 5
CAUGHT, MISSED, INVALID, ERROR, TIMEOUT = "CAUGHT", "MISSED", "INVALID", "ERROR", "TIMEOUT"
#: "FAILED tests/x.py::test_a[p q] - AssertionError": the node id may hold spaces inside its brackets.
_FAILURE_LINE = re.compile(r"^(FAILED|ERROR) (\S+?(?:\[.*?\])?)(?: - |$)")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


class ListError(Exception):
    """The breakage list does not match the code: say which breakage and why."""


@dataclass
class Run:
    """One pytest run of one selection."""

    selection: str
    returncode: int | None  # None: killed at the timeout
    counts: dict[str, int]
    failing: list[str]
    output: str
    seconds: float

    def describe(self) -> str:
        if self.returncode is None:
            return f"{self.selection}: timed out"
        if self.returncode == NO_TESTS:
            return f"{self.selection}: no test matched"
        shown = [f"{n} {word}" for word, n in self.counts.items() if word != "deselected"]
        return f"{self.selection}: {', '.join(shown) or 'nothing ran'}"


@dataclass
class Outcome:
    breakage: Breakage
    verdict: str
    runs: list[Run] = field(default_factory=list)
    caught_by: list[str] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0
    copy: Path | None = None


def repository_files() -> list[str]:
    """What a copy holds: tracked files and untracked, non-ignored ones (the tests being written)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode()
    # A file deleted in the working tree but still in the index is listed too: not copied.
    return [name for name in listed.split("\0") if name and os.path.lexists(REPO / name)]


def broken_source(breakage: Breakage, root: Path) -> str:
    """The text of ``breakage.file`` under ``root`` with the breakage applied; raises ListError."""
    path = root / breakage.file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ListError(f"breakage {breakage.name}: cannot read {breakage.file}: {error.strerror}") from None
    found = text.count(breakage.old)
    if found == 0:
        raise ListError(f"breakage {breakage.name}: text not found in {breakage.file}: {breakage.old!r}")
    if found > 1:
        raise ListError(f"breakage {breakage.name}: text found {found} times in {breakage.file}, make it unique: "
                        f"{breakage.old!r}")
    new_text = text.replace(breakage.old, breakage.new)
    if path.suffix == ".py":
        # A breakage that does not compile would be "caught" by every test, proving nothing.
        try:
            compile(new_text, str(path), "exec")
        except SyntaxError as error:
            raise ListError(f"breakage {breakage.name}: the broken {breakage.file} does not compile: {error}") from None
    return new_text


def check_selection(breakage: Breakage, selection: str) -> None:
    """The files and node ids a selection names exist (``-k`` expressions are checked by running)."""
    try:
        words = shlex.split(selection)
    except ValueError as error:
        raise ListError(f"breakage {breakage.name}: bad selection {selection!r}: {error}") from None
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in ("-k", "-m"):
            skip_next = True
            continue
        if word.startswith("-"):
            continue
        if not (REPO / word.split("::")[0]).exists():
            raise ListError(f"breakage {breakage.name}: test path not found: {word.split('::')[0]}")


def validate(breakages: list[Breakage]) -> list[str]:
    """Every problem of the list against the current code, one line each."""
    problems = []
    names = [b.name for b in breakages]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"breakage {name}: the name is used more than once")
    for breakage in breakages:
        try:
            broken_source(breakage, REPO)
            if not breakage.tests:
                raise ListError(f"breakage {breakage.name}: no tests to run")
            for selection in breakage.tests:
                check_selection(breakage, selection)
        except ListError as error:
            problems.append(str(error))
    return problems


def make_copy(files: list[str], prefix: str, parent: str | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    for name in files:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target, follow_symlinks=False)
    return root


class Processes:
    """The pytest runs in flight, so that a timeout or Ctrl-C ends each group it started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()

    def add(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(process)

    def discard(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(process)

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        # Its own session: the group holds pytest, pytester's subprocesses and
        # the measurement children, and nothing else.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill_all(self) -> None:
        with self._lock:
            for process in self._running:
                self.kill(process)


PROCESSES = Processes()


def copy_environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The copy first: its package wins over the editable install, here and in every subprocess.
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def check_copy_imports_itself(root: Path) -> None:
    """Fail loudly if the copy's package would not be the one under test."""
    try:
        found = subprocess.run(
            [sys.executable, "-c", "import pytest_loadbudget, os; print(os.path.realpath(pytest_loadbudget.__file__))"],
            cwd=root, env=copy_environment(root), capture_output=True, text=True, timeout=120, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ListError(f"importing pytest_loadbudget in {root} took over 120 s") from None
    location = found.stdout.strip()
    if found.returncode != 0 or not location.startswith(os.path.realpath(root) + os.sep):
        raise ListError(f"the copy in {root} imports pytest_loadbudget from {location or found.stderr.strip()}, "
                        "not from the copy: the results would describe the unbroken package")


def run_pytest(root: Path, selection: str, timeout: float, stop_at_first: bool) -> Run:
    command = [sys.executable, "-m", "pytest", *shlex.split(selection), "-p", "no:randomly", "-q", "-rfE"]
    if stop_at_first:
        command.append("-x")
    started = time.monotonic()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=root, env=copy_environment(root), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        PROCESSES.add(process)
        try:
            returncode: int | None = process.wait(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            Processes.kill(process)
            process.wait()
            returncode = None
        finally:
            PROCESSES.discard(process)
        log.seek(0)
        output = log.read().decode(errors="replace")
    counts: dict[str, int] = {}
    failing: list[str] = []
    lines = output.splitlines()
    # The last summary is this run's: a failing pytester test prints its inner run's summary before it.
    starts = [index for index, line in enumerate(lines) if "short test summary info" in line]
    for line in lines[starts[-1]:] if starts else []:
        match = _FAILURE_LINE.match(line)
        if match and match.group(2) not in failing:
            failing.append(match.group(2))
    for line in reversed(lines):
        if re.search(r" in [\d.]+s", line) and _COUNT.search(line):
            for number, word in _COUNT.findall(line):
                counts[word.rstrip("s") if word.startswith("error") else word] = int(number)
            break
    return Run(selection, returncode, counts, failing, output, time.monotonic() - started)


class Clean:
    """One unbroken copy, made on first use: the control runs of ``--control``."""

    def __init__(self, files: list[str], parent: str | None) -> None:
        self._files = files
        self._parent = parent
        self._lock = threading.Lock()
        self.root: Path | None = None
        self._results: dict[str, bool] = {}

    def passes(self, nodeid: str, timeout: float) -> bool:
        with self._lock:
            if self.root is None:
                self.root = make_copy(self._files, "breakage-control-", self._parent)
                check_copy_imports_itself(self.root)
            if nodeid in self._results:
                return self._results[nodeid]
        # pytest's cache off: parallel control runs share this copy.
        run = run_pytest(self.root, f"{shlex.quote(nodeid)} -p no:cacheprovider", timeout, stop_at_first=False)
        with self._lock:
            self._results[nodeid] = run.returncode == 0
        return self._results[nodeid]


def try_breakage(breakage: Breakage, files: list[str], args: argparse.Namespace, clean: Clean | None) -> Outcome:
    started = time.monotonic()
    deadline = started + args.timeout
    root = make_copy(files, f"breakage-{breakage.name}-", args.workdir)
    outcome = Outcome(breakage, MISSED, copy=root)
    try:
        (root / breakage.file).write_text(broken_source(breakage, root), encoding="utf-8")
        check_copy_imports_itself(root)
        for selection in breakage.tests:
            run = run_pytest(root, selection, deadline - time.monotonic(), stop_at_first=not args.exhaustive)
            outcome.runs.append(run)
            if run.returncode is None:
                outcome.verdict, outcome.note = TIMEOUT, f"over {args.timeout:g} s"
                break
            if run.returncode == TESTS_FAILED:
                outcome.verdict = CAUGHT
                outcome.caught_by += [nodeid for nodeid in run.failing if nodeid not in outcome.caught_by]
                if not args.exhaustive:
                    break
            elif run.returncode not in (0, NO_TESTS):
                # Collection errors, usage errors, a crashed pytest: nothing this proves.
                outcome.verdict = ERROR
                outcome.note = f"pytest exited with {run.returncode}"
                outcome.caught_by = run.failing
                break
            if time.monotonic() >= deadline:
                outcome.verdict, outcome.note = TIMEOUT, f"over {args.timeout:g} s"
                break
        if outcome.verdict == CAUGHT and not outcome.caught_by:
            outcome.caught_by = ["(failed; no test id in the output)"]
        if outcome.verdict == MISSED and all(run.returncode == NO_TESTS for run in outcome.runs):
            outcome.note = "no test matched"
        if outcome.verdict == CAUGHT and clean is not None:
            # A test that fails without the breakage too proves nothing about it.
            unbroken = [nodeid for nodeid in outcome.caught_by if "::" in nodeid]
            failing_clean = [n for n in unbroken if not clean.passes(n, max(deadline - time.monotonic(), 60.0))]
            if failing_clean:
                outcome.verdict = INVALID
                outcome.note = f"fails without the breakage too: {', '.join(failing_clean)}"
    except ListError as error:
        outcome.verdict, outcome.note = ERROR, str(error)
    finally:
        outcome.seconds = time.monotonic() - started
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            outcome.copy = None
    return outcome


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return lines


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(cell(text) for text in row) + " |" for row in rows]


def result_rows(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for outcome in outcomes:
        verdict = outcome.verdict + (f" ({outcome.note})" if outcome.note else "")
        rows.append((
            outcome.breakage.name,
            "; ".join(run.describe() for run in outcome.runs) or "-",
            ", ".join(outcome.caught_by) or "-",
            verdict,
        ))
    return rows


def list_breakages(breakages: list[Breakage], markdown: bool) -> int:
    problems = validate(breakages)
    header = ("breakage", "file", "tests", "what it breaks")
    rows: list[tuple[str, ...]] = [(b.name, b.file, " ; ".join(b.tests), b.why) for b in breakages]
    for line in (markdown_table if markdown else format_table)(header, rows):
        print(line)
    print()
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    print(f"{len(breakages)} breakage(s); each text found exactly once in the current code")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run the breakages whose name contains NAME (repeatable)")
    parser.add_argument("--list", action="store_true", help="validate the list against the code and print it")
    parser.add_argument("--jobs", type=int, default=1, help="breakages run at once (default 1)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds for all the test runs of one breakage (default 900)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="run every selection without -x, to list every test that catches each breakage (slow)")
    parser.add_argument("--control", action="store_true",
                        help="rerun each catching test on an unbroken copy: one that fails there too is INVALID")
    parser.add_argument("--keep", action="store_true", help="keep each copy (its path is printed)")
    parser.add_argument("--workdir", help="where the copies go (default: the system's temporary directory)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--show-output", action="store_true",
                        help="print the end of pytest's output for every breakage, not only for errors")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [b for b in BREAKAGES if not args.only or any(part in b.name for part in args.only)]
    if not chosen:
        print(f"no breakage matches {' or '.join(args.only)}", file=sys.stderr)
        return 2
    if args.list:
        return list_breakages(chosen, args.markdown)
    problems = validate(chosen)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    files = repository_files()
    clean = Clean(files, args.workdir) if args.control else None
    outcomes: list[Outcome] = []
    print(f"{len(chosen)} breakage(s), {args.jobs} at a time, with {sys.executable}", file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(try_breakage, b, files, args, clean): b for b in chosen}
            for done, future in enumerate(as_completed(futures), 1):
                outcome = future.result()
                outcomes.append(outcome)
                kept = f" [copy: {outcome.copy}]" if outcome.copy else ""
                print(f"[{done}/{len(chosen)}] {outcome.breakage.name}: {outcome.verdict} "
                      f"({outcome.seconds:.0f} s){kept}", file=sys.stderr)
                if outcome.verdict in (ERROR, TIMEOUT) or args.show_output:
                    for run in outcome.runs:
                        tail = "\n    ".join(run.output.strip().splitlines()[-25:])
                        print(f"  $ pytest {run.selection}\n    {tail}", file=sys.stderr)
                    if outcome.note and outcome.verdict == ERROR:
                        print(f"  {outcome.note}", file=sys.stderr)
    except KeyboardInterrupt:
        PROCESSES.kill_all()
        raise
    finally:
        if clean is not None and clean.root is not None and not args.keep:
            shutil.rmtree(clean.root, ignore_errors=True)
    outcomes.sort(key=lambda outcome: chosen.index(outcome.breakage))
    header = ("breakage", "tests run", "caught by", "verdict")
    print()
    for line in (markdown_table if args.markdown else format_table)(header, result_rows(outcomes)):
        print(line)
    counts = {verdict: sum(o.verdict == verdict for o in outcomes) for verdict in (CAUGHT, MISSED, INVALID, ERROR, TIMEOUT)}
    print()
    print(", ".join(f"{n} {verdict.lower()}" for verdict, n in counts.items() if n))
    return 0 if counts[CAUGHT] == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
