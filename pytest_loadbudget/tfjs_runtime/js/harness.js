#!/usr/bin/env node
/*
 * Loads a TF.js model from disk in Node.js and reports figures as JSON lines.
 *
 *   node harness.js '<json options>'
 *
 * options: {
 *   modules:  directory holding node_modules (the `npm ci` of package-lock.json),
 *   model:    path of model.json,
 *   backend:  "cpu" | "wasm",
 *   rounds, predictRounds, warmup, leak   (see core.js)
 * }
 *
 * stdout carries one JSON object per line and nothing else: {"event":"ready"},
 * {"event":"stage"}, {"event":"progress"} while it runs, then {"event":"result"}
 * or {"event":"error"}. TF.js's own console messages go to stderr.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const { performance } = require('perf_hooks');

const write = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
// TF.js greets Node users on the console; keep stdout for JSON lines.
for (const name of ['log', 'info', 'warn', 'debug']) {
  console[name] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

// The main thread's run-queue wait so far, ns (2nd field of schedstat), or
// null where the system keeps none (macOS, Windows). Read synchronously on the
// main thread, so /proc/thread-self is the thread that runs the load: its
// critical path (shard reads go through libuv's pool, whose waits stay in own time).
function runQueueWaitNs() {
  try {
    const wait = Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
    return Number.isFinite(wait) ? wait : null;
  } catch (error) {
    return null;
  }
}

function fileHandler(tf, modelPath, event) {
  const dir = path.dirname(modelPath);
  return {
    load: async () => {
      const modelJSON = JSON.parse(await fs.promises.readFile(modelPath, 'utf8'));
      event({ event: 'progress', file: path.basename(modelPath), t_ms: performance.now() });
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const names = [];
        for (const group of manifest) names.push(...group.paths);
        const buffers = [];
        for (let i = 0; i < names.length; i++) {
          const bytes = await fs.promises.readFile(path.join(dir, names[i]));
          buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          event({
            event: 'progress', file: names[i], shards_done: i + 1, shards_total: names.length,
            fraction: (i + 1) / names.length, t_ms: performance.now(),
          });
        }
        return [tf.io.getWeightSpecs(manifest), buffers];
      });
    },
  };
}

async function main() {
  const options = JSON.parse(process.argv[2]);
  const started = performance.now();
  const requireFrom = createRequire(path.join(options.modules, 'package.json'));
  const tf = requireFrom('@tensorflow/tfjs');
  const core = require('./core.js');
  const imported = performance.now();
  if (options.backend === 'wasm') {
    const wasm = requireFrom('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(requireFrom.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + path.sep);
  }
  if (!(await tf.setBackend(options.backend))) {
    throw new Error(`TF.js backend ${JSON.stringify(options.backend)} failed to initialise`);
  }
  await tf.ready();
  const ready = performance.now();
  write({
    event: 'ready', t_ms: ready, import_ms: imported - started, backend_ms: ready - imported,
    node: process.version,
  });

  const format = options.format;
  const event = (obj) => write(obj);
  const result = await core.measure(tf, options, {
    now: () => performance.now(),
    wait: runQueueWaitNs,
    event: event,
    load: () => {
      const handler = fileHandler(tf, options.model, event);
      return format === 'layers-model' ? tf.loadLayersModel(handler) : tf.loadGraphModel(handler);
    },
  });
  result.environment = await core.environment(tf);
  result.environment.node = process.version;
  result.startup_ms = ready;
  write({ event: 'result', result: result });
}

main().then(
  () => process.exit(0),
  (error) => {
    write({ event: 'error', message: String((error && error.stack) || error) });
    process.exit(1);
  },
);
