"""What a user of each TF.js backend feels in the browser: main thread blocked, first warm-up, cached reload.

Measures the example TF.js graph models (examples/build_models.py builds them
when missing: the small CNN and MobileNetV2 with uint8 weights) in headless
Chromium through the plugin's own BrowserSession, per backend (cpu, wasm,
webgl), on the page and in a Web Worker, and prints one Markdown table:

- main thread: the page's longest task during the loads and warm-ups
  (``block_ms``) and its total blocking time, from Chrome's trace (the
  source column says where it was read);
- heartbeat: the longest gap of a ``setTimeout(0)`` heartbeat on the page
  over the same spans, read beside the trace without browser internals
  ("!" where the two are more than 35 ms apart);
- worker thread: the Web Worker's longest task (worker runs only);
- first warm-up: the first predict plus read back after the first load
  (on webgl: shader compilation); cached reload: the median load from the
  HTTP cache after the first.

    python benchmarks/browser_block.py                         # both models, 3 backends, page and worker
    python benchmarks/browser_block.py --models cnn --rounds 3 --json out.json

Wall times on this machine's CPUs: webgl is SwiftShader, software WebGL, and
says nothing of a real GPU. Each configuration gets a fresh browser context.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from pytest_loadbudget.tfjs_runtime import BROWSER_BACKENDS, BrowserSession
from pytest_loadbudget.tfjs_runtime.mainthread import SOURCE_WORDS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODELS = {"cnn": ("cnn", "tfjs-graph"), "mobilenet-uint8": ("mobilenet", "tfjs-graph-uint8")}


def example_models() -> Any:
    spec = importlib.util.spec_from_file_location("example_build_models", EXAMPLES / "build_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.ensure_models()


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def row(name: str, backend: str, worker: bool, figures: dict[str, Any]) -> list[str]:
    thread = figures.get("worker_thread") or {}
    heartbeat = ms(figures.get("heartbeat_block_ms")) + (" !" if figures.get("heartbeat_note") else "")
    return [
        name, backend, "worker" if worker else "page",
        f"{ms(figures.get('block_ms'))} (TBT {ms(figures.get('total_blocking_ms'))})",
        heartbeat,
        f"{ms(thread.get('block_ms'))} (TBT {ms(thread.get('total_blocking_ms'))})" if thread else "-",
        ms(figures["warm_ms"][0] if figures.get("warm_ms") else None),
        ms(figures.get("cached_load_ms")),
        SOURCE_WORDS.get(str(figures.get("block_source")), "none"),
    ]


HEADER = ["model", "backend", "runs on", "main thread blocked", "heartbeat", "worker thread",
          "first warm-up", "cached reload", "source"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--backends", nargs="+", choices=BROWSER_BACKENDS, default=list(BROWSER_BACKENDS))
    parser.add_argument("--rounds", type=int, default=2, help="loads per run: the first, then cached reloads")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()

    built = example_models()
    rows: list[list[str]] = []
    saved: list[dict[str, Any]] = []
    with BrowserSession() as browser:
        for key in args.models:
            family, target = MODELS[key]
            model = getattr(built, family)[target]
            for backend in args.backends:
                for worker in (False, True):
                    figures = browser.run(model, backend=backend, worker=worker, rounds=args.rounds,
                                          predict_rounds=1, timeout=args.timeout).to_dict()
                    rows.append(row(key, backend, worker, figures))
                    saved.append({"model": key, "backend": backend, "worker": worker, "figures": figures})
                    print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
        version = browser.browser_version
    print(f"Chromium {version}, {os.cpu_count()} CPUs, {args.rounds} rounds per run (1 first load, "
          f"{args.rounds - 1} cached reloads), webgl on SwiftShader\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    notes = [f"{entry['model']} {entry['backend']} {'worker' if entry['worker'] else 'page'}: "
             f"{entry['figures']['heartbeat_note']}" for entry in saved if entry["figures"].get("heartbeat_note")]
    if notes:
        print("\n" + "\n".join(f"! {note}" for note in notes))
    if args.json:
        args.json.write_text(json.dumps(saved, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
