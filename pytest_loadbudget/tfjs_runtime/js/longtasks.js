/*
 * The page's main-thread block: every task of 50 ms or more (the Long Tasks
 * API), with its start (page timeline, ms) and duration. The driver calls
 * start() before the measurement and reads collect() after it; what each task
 * overlapped (load, warm-up, ...) is worked out from the stage events.
 *
 * collect() takes the entries the observer has not delivered yet
 * (takeRecords), so the last task is never missed, and returns an object
 * (truthy) for a driver that polls it with a timeout.
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

  root.loadbudgetLongTasks = { start: start, collect: collect };
})(window);
