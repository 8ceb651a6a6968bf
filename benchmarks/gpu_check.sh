#!/usr/bin/env bash
# The GPU path on a real GPU, in under 5 minutes: a small suite with
# device="gpu" budgets (PyTorch models through loader functions; the
# TensorFlow path where TensorFlow is installed), then a short table of load,
# warm-up, GPU memory and its source per model.
#
# Runs from the repository root with plain python3 and no install: the plugin
# is taken from the working tree. Needs pytest, numpy, PyTorch and
# nvidia-ml-py (pynvml); filelock for the plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
out=${OUT:-$(mktemp -d)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

"$python" - <<'PY'
from pytest_loadbudget.measure.devices import find_gpu
gpu, why = find_gpu()
print("GPU:", gpu.label() if gpu else f"none ({why})")
PY

# Load the plugin from the working tree unless it is installed (then its entry point does).
plugin_option=$("$python" -c "import importlib.metadata as m; print('' if any(e.name == 'loadbudget' for e in m.entry_points(group='pytest11')) else '-p pytest_loadbudget.plugin')")

status=0
timeout 280 "$python" -m pytest $plugin_option -p no:cacheprovider -q \
    benchmarks/gpu_suite --rootdir=benchmarks/gpu_suite \
    --loadbudget-require-gpu --loadbudget-rounds=3 --loadbudget-report \
    --loadbudget-json="$out/gpu_check.json" || status=$?

"$python" - "$out/gpu_check.json" <<'PY'
import json, sys
models = json.load(open(sys.argv[1]))["models"]
print()
print(f"{'model':<22} {'device':<34} {'load ms':>9} {'warm-up ms':>11} {'gpu MiB':>9}  {'source':<12} {'measured in':<14} other sources")
for m in models:
    memory = m.get("memory") or {}
    gpu = (memory.get("device_memory") or [None])[0]
    others = ", ".join(f"{d['source']} {d['peak_bytes'] / 2**20:.0f}" for d in (memory.get("device_memory") or [])[1:])
    print(f"{m['name']:<22} {m['device'][:34]:<34} {m['load_ms'].get('median', float('nan')):>9.1f} "
          f"{m['warm_ms'].get('median', float('nan')):>11.1f} "
          f"{(gpu['peak_bytes'] / 2**20 if gpu else float('nan')):>9.0f}  {gpu['source'] if gpu else '-':<12} "
          f"{memory.get('where', '-'):<14} {others}")
PY
exit $status
