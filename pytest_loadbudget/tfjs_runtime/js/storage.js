/*
 * cachePolicy "indexeddb": the browser storage cache of a model.
 *
 * Round 1 loads over HTTP with an empty cache; the loaded model is then saved
 * to indexeddb:// (outside the timed load); round 2 reloads over HTTP (from
 * the HTTP cache); rounds 3 and later load from IndexedDB. Before the save,
 * navigator.storage.estimate() says whether the model fits the origin's
 * quota: a model that does not fit fails with a "quota" event that carries
 * the size, the quota and the usage (options.storageQuotaBytes, when set,
 * stands for a smaller quota, as on a device with little storage).
 */
(function (root) {
  'use strict';

  const HTTP_ROUNDS = 2;
  let saved = null;

  function source(options, round) {
    return options.cachePolicy === 'indexeddb' && round >= HTTP_ROUNDS ? 'indexeddb' : 'http';
  }

  function url(options) {
    return 'indexeddb://' + options.storageKey;
  }

  async function estimate() {
    if (!(root.navigator && navigator.storage && navigator.storage.estimate)) return null;
    return navigator.storage.estimate();
  }

  function isQuotaError(error) {
    return Boolean(error) && (error.name === 'QuotaExceededError' || /quota/i.test(String(error.message)));
  }

  async function afterLoad(tf, model, options, round, event, now) {
    if (options.cachePolicy !== 'indexeddb' || round !== 0) return;
    const before = await estimate();
    let quota = before ? before.quota : null;
    if (options.storageQuotaBytes != null) {
      quota = quota == null ? options.storageQuotaBytes : Math.min(quota, options.storageQuotaBytes);
    }
    const usage = before ? before.usage : 0;
    const size = options.modelBytes;
    const refuse = (why) => {
      event({ event: 'quota', size_bytes: size, quota_bytes: quota, usage_bytes: usage, why: why });
      return new Error('the model does not fit the storage quota: ' + why);
    };
    if (quota != null && usage + size > quota) throw refuse('navigator.storage.estimate()');
    // Its own stage: a save that blocks the thread is not the load's doing.
    event({ event: 'stage', stage: 'save', round: round, t_ms: now() });
    const started = now();
    let info;
    try {
      info = (await model.save(url(options))).modelArtifactsInfo;
    } catch (error) {
      if (isQuotaError(error)) throw refuse(String(error.name) + ': ' + String(error.message));
      throw error;
    }
    const savedAt = now();
    const after = await estimate();
    saved = {
      save_ms: savedAt - started,
      // What TF.js wrote: model.json's topology, the weight specs and the weights.
      saved_bytes: (info.modelTopologyBytes || 0) + (info.weightSpecsBytes || 0) + (info.weightDataBytes || 0),
      weight_bytes: info.weightDataBytes || 0,
      // What the browser accounts to the origin for it (Chromium rounds and compresses).
      usage_growth_bytes: before && after ? after.usage - before.usage : null,
      quota_bytes: quota,
    };
  }

  function figures() {
    const out = saved;
    saved = null;
    return out;
  }

  root.loadbudgetStorage = { source: source, url: url, afterLoad: afterLoad, figures: figures };
})(typeof self !== 'undefined' ? self : this);
