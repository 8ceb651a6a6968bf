/*
 * The page's main-thread block: every task of 50 ms or more (the Long Tasks
 * API), with its start (page timeline, ms) and duration. The driver calls
 * start() before the measurement and reads collect() after it; what each task
 * overlapped (load, warm-up, ...) is worked out from the stage events.
 *
 * collect() takes the entries the observer has not delivered yet
 * (takeRecords), so the last task is never missed, and returns an object
 * (truthy) for a driver that polls it with a timeout.
 *
 * probe(ms) runs one busy task of ms milliseconds on purpose and resolves to
 * the durations of the long tasks the API reported meanwhile: some headless
 * Chromium builds report none at all, and a block of 0 ms read from such a
 * browser would pass every budget.
 */
(function (root) {
  'use strict';

  let observer = null;
  let tasks = [];
  let note = '';

  function keep(entries) {
    for (const entry of entries) tasks.push({ start_ms: entry.startTime, duration_ms: entry.duration });
  }

  function start() {
    tasks = [];
    note = '';
    const types = (root.PerformanceObserver && PerformanceObserver.supportedEntryTypes) || [];
    if (!types.includes('longtask')) {
      note = 'this browser has no Long Tasks API';
      return false;
    }
    observer = new PerformanceObserver((list) => keep(list.getEntries()));
    observer.observe({ type: 'longtask' });
    return true;
  }

  function collect() {
    if (observer) keep(observer.takeRecords());
    return { tasks: tasks.slice(), note: note, observed: observer !== null };
  }

  function probe(ms) {
    const types = (root.PerformanceObserver && PerformanceObserver.supportedEntryTypes) || [];
    if (!types.includes('longtask')) return Promise.resolve({ supported: false, durations: [] });
    return new Promise((resolve) => {
      const durations = [];
      const watcher = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) durations.push(entry.duration);
      });
      watcher.observe({ type: 'longtask' });
      setTimeout(() => {
        const began = performance.now();
        while (performance.now() - began < ms) { /* the known freeze */ }
        // The entry is queued once the task ends: read it a task later.
        setTimeout(() => {
          for (const entry of watcher.takeRecords()) durations.push(entry.duration);
          watcher.disconnect();
          resolve({ supported: true, durations: durations });
        }, 50);
      }, 0);
    });
  }

  root.loadbudgetLongTasks = { start: start, collect: collect, probe: probe };
})(window);
