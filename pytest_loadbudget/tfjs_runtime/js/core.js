/*
 * The measurement shared by the Node.js harness and the browser page.
 *
 * measure(tf, options, hooks) runs `options.rounds` rounds of
 *   load -> warm-up (first predict + read back) -> dispose
 * and, in the last round, `options.predictRounds` steady predictions before
 * the dispose. It snapshots tf.memory() before the first load, after the
 * first load, after the first warm-up and after the last dispose.
 * With `options.predictions` > 0 the last round then runs that many
 * predictions with tf.memory() after each (result.prediction_growth).
 *
 * The runtime supplies hooks:
 *   hooks.load(round)  -> Promise of a loaded GraphModel or LayersModel
 *   hooks.now()        -> milliseconds (performance.now())
 *   hooks.event(obj)   -> called with {event: "stage" | "progress", ...}
 *   hooks.wait()       -> optional: the main thread's run-queue wait so far in
 *                         nanoseconds (Node reads /proc/thread-self/schedstat),
 *                         or null; absent in the browser, which is wall-only
 *   hooks.loaded(model, round) -> optional Promise, awaited after the timed
 *                         load (the browser saves the model to IndexedDB there)
 *
 * With hooks.wait, load_wait_ms and warm_wait_ms hold each round's wait for a
 * CPU, read inside the timed span: own time = wall time less that wait.
 *
 * Every figure is in milliseconds or bytes. The result is plain JSON.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.loadbudgetCore = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  function memory(tf) {
    const raw = tf.memory();
    const out = {};
    for (const key of Object.keys(raw)) {
      const value = raw[key];
      if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    }
    if (Array.isArray(raw.reasons) && raw.reasons.length) out.reasons = raw.reasons.slice();
    return out;
  }

  function dimension(value) {
    // Unknown batch and free dimensions (-1 in graph models, null in layers
    // models) are given size 1: the smallest input that exercises the model.
    return value == null || value < 0 ? 1 : value;
  }

  function inputSpecs(model, isGraph) {
    const inputs = model.inputs || [];
    return inputs.map((input, index) => {
      const shape = input.shape == null ? [1] : input.shape.map(dimension);
      return {
        name: input.name || (isGraph ? 'input_' + index : 'input_' + index),
        shape: shape,
        dtype: input.dtype || 'float32',
      };
    });
  }

  function zeros(tf, specs) {
    return specs.map((spec) => {
      if (spec.dtype === 'string') {
        const count = spec.shape.reduce((a, b) => a * b, 1);
        return tf.tensor(new Array(count).fill(''), spec.shape, 'string');
      }
      return tf.zeros(spec.shape, spec.dtype);
    });
  }

  function asList(tf, result) {
    if (result == null) return [];
    if (result instanceof tf.Tensor) return [result];
    if (Array.isArray(result)) return result;
    return Object.keys(result).map((key) => result[key]);
  }

  async function readBack(tensors) {
    // data() waits for the backend to finish (on webgl: the GPU work and
    // the download), so a timed predict includes the work it queued.
    for (const tensor of tensors) await tensor.data();
  }

  function modelKind(tf, model) {
    if (typeof model.executeAsync === 'function') return 'graph-model';
    return 'layers-model';
  }

  async function measure(tf, options, hooks) {
    const rounds = Math.max(1, options.rounds | 0);
    const predictRounds = Math.max(0, options.predictRounds | 0);
    const warmup = options.warmup !== false;
    const leak = options.leak === true;
    const now = hooks.now;
    const wait = hooks.wait || function () { return null; };
    // The wait counted between two readings, in ms; null when either is unknown.
    const waited = (from, to) => (from === null || to === null ? null : (to - from) / 1e6);
    const event = hooks.event || function () {};
    const stage = (name, round) => event({ event: 'stage', stage: name, round: round, t_ms: now() });

    const result = {
      load_ms: [],
      warm_ms: [],
      load_wait_ms: [],
      warm_wait_ms: [],
      predict_ms: [],
      memory: {},
      round_tensors: [],
      inputs: [],
      format: null,
      execution: null,
    };
    // Tensors kept on purpose with options.leak: stands for a caller that
    // forgets to dispose its predictions.
    const leaked = [];
    result.memory.before_load = memory(tf);
    let useAsync = false;

    for (let round = 0; round < rounds; round++) {
      stage('load', round);
      let start = now();
      let waitStart = wait();
      const model = await hooks.load(round);
      let waitSpan = waited(waitStart, wait());
      result.load_ms.push(now() - start);
      if (waitSpan !== null) result.load_wait_ms.push(waitSpan);
      result.format = modelKind(tf, model);
      const isGraph = result.format === 'graph-model';
      if (round === 0) result.memory.after_load = memory(tf);
      if (hooks.loaded) await hooks.loaded(model, round);

      const specs = inputSpecs(model, isGraph);
      if (round === 0) result.inputs = specs;
      const inputs = zeros(tf, specs);
      const feed = inputs.length === 1 ? inputs[0] : inputs;

      const infer = async () => {
        if (isGraph && useAsync) return model.executeAsync(feed);
        try {
          return model.predict(feed);
        } catch (error) {
          // Graph models with control flow or dynamic shapes refuse the
          // synchronous predict and name executeAsync in the message.
          if (isGraph && /executeAsync/.test(String(error && error.message))) {
            useAsync = true;
            return model.executeAsync(feed);
          }
          throw error;
        }
      };

      if (warmup) {
        stage('warmup', round);
        start = now();
        waitStart = wait();
        const outputs = asList(tf, await infer());
        await readBack(outputs);
        waitSpan = waited(waitStart, wait());
        result.warm_ms.push(now() - start);
        if (waitSpan !== null) result.warm_wait_ms.push(waitSpan);
        if (round === 0) result.memory.after_warmup = memory(tf);
        if (leak) leaked.push(...outputs);
        else outputs.forEach((t) => t.dispose());
      }

      if (round === rounds - 1 && predictRounds > 0) {
        stage('predict', round);
        for (let i = 0; i < predictRounds; i++) {
          start = now();
          const outputs = asList(tf, await infer());
          await readBack(outputs);
          result.predict_ms.push(now() - start);
          outputs.forEach((t) => t.dispose());
        }
      }

      if (round === rounds - 1 && (options.predictions | 0) > 0) {
        stage('predictions', round);
        result.prediction_growth = await predictionGrowth(tf, infer, options.predictions | 0, leak ? leaked : null);
      }

      stage('dispose', round);
      inputs.forEach((t) => t.dispose());
      model.dispose();
      result.round_tensors.push(tf.memory().numTensors);
    }
    result.execution = useAsync ? 'executeAsync' : 'predict';
    result.memory.after_dispose = memory(tf);
    if (!result.memory.after_warmup) result.memory.after_warmup = result.memory.after_load;
    result.leak_tensors = result.memory.after_dispose.numTensors - result.memory.before_load.numTensors;
    result.leak_bytes = result.memory.after_dispose.numBytes - result.memory.before_load.numBytes;
    result.leaked_on_purpose = leaked.length;
    stage('done', rounds - 1);
    return result;
  }

  // `count` predictions on the warm model, each read back and disposed as a
  // well-behaved caller does, with tf.memory() before the first and after
  // each: a model or caller that keeps something per call shows as a series
  // that climbs. `keep` (an array, or null) keeps the outputs instead: a
  // caller that forgets dispose(), for checking that the growth is caught.
  async function predictionGrowth(tf, infer, count, keep) {
    const series = { count: count, numTensors: [], numBytes: [], numBytesInGPU: [] };
    const snapshot = () => {
      const now = tf.memory();
      series.numTensors.push(now.numTensors);
      series.numBytes.push(now.numBytes);
      series.numBytesInGPU.push(typeof now.numBytesInGPU === 'number' ? now.numBytesInGPU : null);
    };
    snapshot();
    for (let i = 0; i < count; i++) {
      const outputs = asList(tf, await infer());
      await readBack(outputs);
      if (keep) keep.push(...outputs);
      else outputs.forEach((t) => t.dispose());
      snapshot();
    }
    return series;
  }

  async function environment(tf) {
    const env = { tfjs: tf.version && tf.version.tfjs, backend: tf.getBackend() };
    const flags = tf.env();
    const ask = async (name) => {
      try {
        return await flags.getAsync(name);
      } catch (error) {
        return null;
      }
    };
    if (env.backend === 'wasm') {
      env.wasm_simd = await ask('WASM_HAS_SIMD_SUPPORT');
      env.wasm_threads = await ask('WASM_HAS_MULTITHREAD_SUPPORT');
    }
    if (env.backend === 'webgl') {
      env.webgl_version = await ask('WEBGL_VERSION');
      try {
        const gl = tf.backend().gpgpu.gl;
        const info = gl.getExtension('WEBGL_debug_renderer_info');
        env.webgl_renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
      } catch (error) {
        env.webgl_renderer = null;
      }
    }
    return env;
  }

  return { measure: measure, memory: memory, environment: environment };
});
