/*
 * One browser measurement, the same in the page and in a Web Worker:
 * backend set-up, then js/core.js `measure` with loads over HTTP or, under
 * cachePolicy "indexeddb", from IndexedDB (js/storage.js).
 *
 *   loadbudgetRun.run(tf, options, event, now) -> Promise of the result
 *
 * `event(obj)` receives the {event: "ready" | "stage" | "progress" | ...}
 * objects; `now()` is the clock of the events, in ms (the page's timeline
 * also in a worker, so that stages line up with the page's long tasks).
 */
(function (root) {
  'use strict';

  async function run(tf, options, event, now) {
    const started = now();
    tf.wasm.setWasmPaths('/lib/');
    if (!(await tf.setBackend(options.backend))) {
      throw new Error('TF.js backend ' + JSON.stringify(options.backend) + ' failed to initialise');
    }
    await tf.ready();
    const ready = now();
    event({ event: 'ready', t_ms: ready, backend_ms: ready - started });
    const storage = root.loadbudgetStorage;
    const sources = [];
    let round = 0;
    const result = await root.loadbudgetCore.measure(tf, options, {
      now: now,
      event: event,
      load: (r) => {
        round = r;
        const source = storage.source(options, r);
        sources.push(source);
        const loadOptions = {
          onProgress: (fraction) => event({ event: 'progress', round: round, fraction: fraction, t_ms: now() }),
        };
        const url = source === 'indexeddb' ? storage.url(options) : options.modelUrl;
        return options.format === 'layers-model'
          ? tf.loadLayersModel(url, loadOptions)
          : tf.loadGraphModel(url, loadOptions);
      },
      loaded: (model, r) => storage.afterLoad(tf, model, options, r, event, now),
    });
    result.load_sources = sources;
    result.storage = storage.figures();
    result.environment = await root.loadbudgetCore.environment(tf);
    // Where TF.js ran, as the runtime itself sees it: a worker has no window.
    result.environment.thread = typeof root.window === 'undefined' ? 'worker' : 'page';
    result.backend_ms = ready - started;
    return result;
  }

  root.loadbudgetRun = { run: run };
})(typeof self !== 'undefined' ? self : this);
