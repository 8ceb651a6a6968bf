/*
 * window.loadbudgetStartInWorker(options): the measurement of the page
 * (js/run.js) in a dedicated Web Worker (js/worker.js). The page keeps the
 * same window.loadbudgetState, fed by the worker's messages, so the driver
 * polls and times out a worker run as it does a page run; the page's main
 * thread stays free, and its long tasks show what a user would still feel.
 */
(function () {
  'use strict';

  window.loadbudgetStartInWorker = function (options) {
    const state = window.loadbudgetState = {
      stage: 'backend', round: null, events: [], result: null, error: null, unavailable: null,
    };
    const worker = new Worker('/worker.js');
    worker.onmessage = (message) => {
      const data = message.data;
      if (data.type === 'event') {
        state.events.push(data.event);
        if (data.event.event === 'stage') {
          state.stage = data.event.stage;
          state.round = data.event.round;
        }
      } else if (data.type === 'result') {
        state.result = data.result;
        state.result.environment.user_agent = navigator.userAgent;
        state.stage = 'finished';
      } else if (data.type === 'unavailable') {
        // Not a failure of the model: this browser cannot run the backend in a worker.
        state.unavailable = data.what;
        state.error = data.what;
        state.stage = 'failed';
      } else {
        state.error = data.error;
        state.stage = 'failed';
      }
    };
    worker.onerror = (error) => {
      state.error = 'the worker failed: ' + String(error.message || error);
      state.stage = 'failed';
    };
    // The worker's clock starts when it does: it reports times on the page's timeline.
    worker.postMessage(Object.assign({}, options, { pageTimeOrigin: performance.timeOrigin }));
    return true;
  };
})();
