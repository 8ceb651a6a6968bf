/*
 * A heartbeat on the page: a setTimeout(0) re-armed each time it fires. It
 * fires only when the main thread is free, so the gap between two beats is
 * how long the page could not have answered a click. It needs nothing of
 * the browser's internals: the driver compares its longest gap with the
 * longest task of Chrome's trace (or of the Long Tasks API), and says so
 * where the two disagree.
 *
 * start() arms it; collect() stops it and returns {gaps: [{start_ms,
 * gap_ms}], beats}: every gap of KEEP_MS or more (start_ms: the beat before
 * it, on the page's timeline), so that a run of minutes keeps a short list.
 * Nested timers are clamped to 4 ms by the browser: gaps of a few ms are its
 * rhythm, not a freeze.
 */
(function (root) {
  'use strict';

  const KEEP_MS = 16;
  let gaps = [];
  let beats = 0;
  let last = null;
  let armed = false;

  function beat() {
    if (!armed) return;
    const now = performance.now();
    if (last !== null && now - last >= KEEP_MS) gaps.push({ start_ms: last, gap_ms: now - last });
    last = now;
    beats += 1;
    setTimeout(beat, 0);
  }

  function start() {
    gaps = [];
    beats = 0;
    last = performance.now();
    armed = true;
    setTimeout(beat, 0);
  }

  function collect() {
    // A freeze that ended just before this task ran has had no beat after it yet.
    const now = performance.now();
    if (armed && last !== null && now - last >= KEEP_MS) gaps.push({ start_ms: last, gap_ms: now - last });
    armed = false;
    return { gaps: gaps.slice(), beats: beats };
  }

  root.loadbudgetHeartbeat = { start: start, collect: collect };
})(window);
