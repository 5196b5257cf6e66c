// generate: autoregressive decoding on the GPU with a KV cache. The prompt runs once (its keys and
// values go into the cache), then each new token is one forward pass of T = 1 at the next position,
// attending to the cache (src/model/family.ts attend, kernels/attention.wgsl). The next token is
// chosen on the CPU from the last logits row, as Hugging Face's generate() samples: temperature, then
// top-k, then top-p (nucleus), then a draw from the softmax (mulberry32 seeded); temperature 0 is
// greedy (argmax, the lowest id on ties). Ids in, ids out: text is the tokenizer's business.
import type { View } from '../gpu/gpu.js';
import { slice } from '../gpu/view.js';
import { assert, fail } from '../util/errors.js';
import { headSize, logitsStride } from './config.js';
import { ropeOf, tablesOf } from './rope.js';
import { mulberry32 } from './init.js';
import type { KvCache } from './family.js';
import type { Model } from './model.js';

export interface SampleOptions {
  temperature?: number; // 0 (default): greedy
  topK?: number;        // keep the k most likely tokens (0 or absent: all)
  topP?: number;        // keep the most likely tokens whose probabilities reach p (1 or absent: all)
  seed?: number;        // of the sampling draws (default 0)
}

/** what the CLI and the worker use when an option is not given (litgpt's generate defaults) */
export const GENERATE_DEFAULTS = { maxNewTokens: 64, temperature: 0.8, topK: 50, topP: 1, seed: 0 };

export interface GenerateOptions extends SampleOptions {
  maxNewTokens: number;
  stop?: number[];      // ids that end generation (the tokenizer's EOS); the stop id is yielded last
}

/** a KV cache for one sequence of at most maxT positions (release it with releaseCache) */
export function createCache(model: Model, maxT: number): KvCache {
  const c = model.config, g = model.gpu, HS = headSize(c), W = c.nKvHeads * HS;
  assert(Number.isInteger(maxT) && maxT >= 1 && maxT <= c.maxSeqLen, `a KV cache of ${maxT} positions: the model has ${c.maxSeqLen}`);
  const per = (label: string) => Array.from({ length: c.nLayers }, (_, l) => g.tensor(maxT * W, `${label}.${l}`));
  let cos: View | null = null, sin: View | null = null;
  if (c.family !== 'gpt2') {
    const t = tablesOf(maxT, ropeOf(c, HS));
    cos = g.tensor(t.cos.length, 'cache.cos'); sin = g.tensor(t.sin.length, 'cache.sin');
    g.upload(cos, t.cos); g.upload(sin, t.sin);
  }
  return { k: per('cache.k'), v: per('cache.v'), cos, sin, past: 0, maxT };
}

export function releaseCache(model: Model, cache: KvCache): void {
  for (const v of [...cache.k, ...cache.v, cache.cos, cache.sin]) if (v) model.gpu.release(v.buffer);
}

/** run ids after what the cache holds; returns the logits (V) of the last of them and advances the cache */
export async function extend(model: Model, cache: KvCache, ids: ArrayLike<number>): Promise<Float32Array> {
  const c = model.config, T = ids.length, V = c.vocabSize, ld = logitsStride(c);
  assert(T >= 1, 'extend: no ids');
  const a = model.forward(ids, 1, T, undefined, cache);
  cache.past += T;
  const row = await model.gpu.read(slice(a.logits, (T - 1) * ld, V));
  const bad = row.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) fail(`the forward pass gave a non-finite logit (${row[bad]}) for id ${bad}`, 'the weights hold NaN/Inf or overflow; check the checkpoint');
  return row;
}

/** the next id from one logits row (V): greedy at temperature 0, else a seeded draw after top-k / top-p */
export function sampleNext(logits: Float32Array, opts: SampleOptions, rand: () => number): number {
  const temp = opts.temperature ?? 0, V = logits.length;
  if (temp === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  // candidates by decreasing logit (stable: lower id first on ties)
  let order = Array.from({ length: V }, (_, i) => i).sort((x, y) => logits[y] - logits[x] || x - y);
  const k = opts.topK ?? 0;
  if (k > 0 && k < V) {
    const kth = logits[order[k - 1]];
    order = order.filter((i) => logits[i] >= kth);     // as HF: ties with the k-th are kept
  }
  const max = logits[order[0]];
  let probs = order.map((i) => Math.exp((logits[i] - max) / temp));
  let sum = probs.reduce((s, p) => s + p, 0);
  const p = opts.topP ?? 1;
  if (p < 1) {
    let acc = 0, n = 0;
    while (n < probs.length && acc < p * sum) acc += probs[n++];
    order = order.slice(0, Math.max(n, 1));
    probs = probs.slice(0, order.length);
    sum = probs.reduce((s, q) => s + q, 0);
  }
  let u = rand() * sum;
  for (let j = 0; j < order.length; j++) {
    u -= probs[j];
    if (u < 0) return order[j];
  }
  return order[order.length - 1];
}

export function checkSampleOptions(o: SampleOptions): void {
  const t = o.temperature ?? 0, k = o.topK ?? 0, p = o.topP ?? 1;
  if (!(Number.isFinite(t) && t >= 0)) fail(`temperature ${t} is not a number >= 0`, 'use `temperature` 0 (greedy) or e.g. 0.8');
  if (!(Number.isInteger(k) && k >= 0)) fail(`top-k ${k} is not an integer >= 0`, 'use `topK` 0 (off) or e.g. 50');
  if (!(Number.isFinite(p) && p > 0 && p <= 1)) fail(`top-p ${p} is not in (0, 1]`, 'use `topP` 1 (off) or e.g. 0.9');
}

/**
 * Decode up to maxNewTokens ids after the prompt, yielding each as it is chosen (the caller streams
 * them); stops after a stop id or when the model's positions run out.
 */
export async function* generate(model: Model, prompt: ArrayLike<number>, opts: GenerateOptions): AsyncGenerator<number> {
  checkSampleOptions(opts);
  const c = model.config;
  assert(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0, `maxNewTokens ${opts.maxNewTokens} is not an integer >= 0`);
  assert(prompt.length >= 1, 'generate: the prompt has no ids', 'pass at least one id (e.g. the BOS token)');
  assert(prompt.length <= c.maxSeqLen, `the prompt has ${prompt.length} ids, the model ${c.maxSeqLen} positions`, 'shorten the prompt');
  const total = Math.min(c.maxSeqLen, c.slidingWindow ?? Infinity, prompt.length + opts.maxNewTokens);
  if (total <= prompt.length) return;
  const cache = createCache(model, total), rand = mulberry32(opts.seed ?? 0), stop = new Set(opts.stop ?? []);
  try {
    let logits = await extend(model, cache, prompt);
    for (let n = 1; n <= total - prompt.length; n++) {
      const id = sampleNext(logits, opts, rand);
      yield id;
      if (stop.has(id) || n === total - prompt.length) return;
      logits = await extend(model, cache, [id]);
    }
  } finally {
    releaseCache(model, cache);
  }
}
