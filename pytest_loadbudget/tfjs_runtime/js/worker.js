/*
 * The dedicated Web Worker of worker=True: TF.js loads and warms the model
 * here (js/run.js), off the page's main thread. Messages to the page:
 * {type: "event" | "result" | "error" | "unavailable"}.
 *
 * webgl needs OffscreenCanvas in a worker; where the browser offers none the
 * worker says so ("unavailable") instead of failing on a missing canvas.
 */
'use strict';
importScripts('/lib/tf.min.js', '/lib/tf-backend-wasm.min.js', '/core.js', '/storage.js', '/run.js');

self.onmessage = (message) => {
  const options = message.data;
  // Names this thread in Chrome's trace (tfjs_runtime/trace.py): its tasks are the worker's.
  performance.mark('loadbudget:worker');
  const shift = performance.timeOrigin - options.pageTimeOrigin;
  const now = () => performance.now() + shift;
  const event = (obj) => self.postMessage({ type: 'event', event: obj });
  if (options.backend === 'webgl' && typeof OffscreenCanvas === 'undefined') {
    self.postMessage({
      type: 'unavailable',
      what: 'backend "webgl" in a Web Worker needs OffscreenCanvas, which this browser does not offer in workers',
    });
    return;
  }
  loadbudgetRun.run(tf, options, event, now).then(
    (result) => self.postMessage({ type: 'result', result: result }),
    (error) => self.postMessage({ type: 'error', error: String((error && error.stack) || error) }),
  );
};
