// Module worker: fetches the checkpoint and goldens, runs core.js's check on navigator.gpu from
// inside the worker, and posts the result back. Nothing GPU-related happens on the main thread.
import * as api from '/dist/index.mjs';
import { CASES, runForwardCheck } from './core.js';

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

self.onmessage = async (e) => {
  const base = e.data.data;
  let result;
  try {
    const model = await bytes(`${base}stories260K.bin`);
    const goldens = {};
    for (const c of CASES) goldens[c.file] = await bytes(`${base}golden/${c.file}`);
    result = await runForwardCheck(api, model, goldens);
  } catch (err) {
    result = { ok: false, error: String(err?.stack ?? err) };
  }
  result.inWorker = typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope;
  self.postMessage(result);
};
