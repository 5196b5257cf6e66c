// core: the stories260K forward check shared by the Deno script (test/deno/forward.ts) and the
// browser worker (test/browser/worker.js). Plain JS with no imports and no runtime globals, so both
// load it as it is. The caller passes the package API (from dist/index.mjs) and the bytes it read.

/** "Once upon a time" with BOS, as in golden/golden.json `prompt_ids` */
export const PROMPT = [1, 403, 407, 261, 378];
export const VOCAB = 512;
export const ATOL = 1e-4;
/** goldens: name -> first-k layers (undefined = the full model); file = golden/prompt_logits<suffix>.f32 */
export const CASES = [
  { name: 'full', layers: undefined, file: 'prompt_logits.f32' },
  { name: 'k1', layers: 1, file: 'prompt_logits_k1.f32' },
  { name: 'k2', layers: 2, file: 'prompt_logits_k2.f32' },
  { name: 'k3', layers: 3, file: 'prompt_logits_k3.f32' },
  { name: 'k4', layers: 4, file: 'prompt_logits_k4.f32' },
  { name: 'k5', layers: 5, file: 'prompt_logits_k5.f32' },
];

/** float32 little-endian bytes -> Float32Array (explicit LE, whatever the host) */
export function f32le(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength % 4) throw new Error(`golden has ${bytes.byteLength} bytes, not a multiple of 4`);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

function maxAbsDiff(got, want) {
  if (got.length !== want.length) return Infinity;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d; // NaN counts as a mismatch
  }
  return m;
}

function argmaxRows(x, V) {
  const out = [];
  for (let r = 0; r * V < x.length; r++) {
    let best = 0;
    for (let j = 1; j < V; j++) if (x[r * V + j] > x[r * V + best]) best = j;
    out.push(best);
  }
  return out;
}

/**
 * Acquire a device, print-able report, then (when the API has the model part) run the full model
 * and every first-k sub-model on PROMPT and compare with the goldens.
 * @param api       the module namespace of dist/index.mjs
 * @param modelBytes Uint8Array of stories260K.bin (null: adapter check only)
 * @param goldens   { [file]: Uint8Array } for every CASES[i].file
 * @returns a JSON-able result; result.ok is the verdict
 */
export async function runForwardCheck(api, modelBytes, goldens) {
  const t0 = Date.now();
  const result = { ok: false, runtime: null, adapter: null, atol: ATOL, cases: [], ms: 0 };
  let gpu = null;
  try {
    gpu = await api.createGpu();
    const rep = gpu.report();
    result.runtime = rep.runtime;
    result.adapter = rep.adapter;
    result.features = rep.features;
    result.maxStorageBufferBindingSize = rep.limits.maxStorageBufferBindingSize;
    if (typeof api.parseLlama2c !== 'function' || typeof api.Model?.create !== 'function') {
      throw new Error('dist/index.mjs exports no parseLlama2c/Model (model API not built yet?)');
    }
    if (!modelBytes) throw new Error('no model bytes given');
    const ckpt = api.parseLlama2c(modelBytes);
    for (const c of CASES) {
      const want = f32le(goldens[c.file]);
      const model = api.Model.create(gpu, c.layers === undefined ? ckpt : api.selectLayers(ckpt, api.firstBlocks(c.layers, ckpt.config.nLayers)));
      try {
        const got = await model.logits(PROMPT);
        const diff = maxAbsDiff(got, want);
        result.cases.push({ name: c.name, layers: c.layers ?? null, n: got.length, maxAbsDiff: diff,
          ok: got.length === PROMPT.length * VOCAB && diff <= ATOL, argmax: argmaxRows(got, VOCAB) });
      } finally {
        model.destroy();
      }
    }
    result.ok = result.cases.length === CASES.length && result.cases.every((c) => c.ok);
  } catch (e) {
    result.error = String(e?.stack ?? e);
  } finally {
    try { gpu?.destroy(); } catch { /* already lost */ }
    result.ms = Date.now() - t0;
  }
  return result;
}
