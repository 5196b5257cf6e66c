// helpers: GPU acquisition for tests, seeded random data, the llm.c-style tensor checker, paths.
import { resolve } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { createGpu, Arena, type Gpu, type Model, type View } from '../src/node/index.js';
import { mulberry32 } from '../src/model/init.js';

export const REPO = resolve(import.meta.dirname, '..');
export const SHARED = resolve(REPO, '../shared/data');

/**
 * A Gpu, or null when this machine has no adapter (tests then skip). CI sets
 * INHERITUNE_REQUIRE_GPU=1 so that a missing driver fails instead of skipping silently.
 */
export async function testGpu(): Promise<Gpu | null> {
  try {
    return await createGpu();
  } catch (e) {
    if (process.env.INHERITUNE_REQUIRE_GPU === '1') throw e;
    console.warn(`skipping GPU tests: ${(e as Error).message}`);
    return null;
  }
}

/** mulberry32: small seeded PRNG for test data (the package's own, src/model/init.ts) */
export const rng = mulberry32;

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12), v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/**
 * llm.c's "poor man's tensor checker": passes when |got - want| <= atol + rtol * |want| everywhere.
 * Returns the max abs difference; throws naming the first offending index.
 */
export function checkTensor(label: string, got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): number {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} != ${want.length}`);
  let maxdiff = 0;
  let bad = -1;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i] - want[i]);
    if (!(diff <= atol + rtol * Math.abs(want[i])) && bad < 0) bad = i;
    if (!(diff <= maxdiff)) maxdiff = Number.isNaN(diff) ? Infinity : diff;
  }
  if (bad >= 0) {
    throw new Error(`${label}: mismatch at [${bad}]: got ${got[bad]}, want ${want[bad]} (maxdiff ${maxdiff.toExponential(3)}, atol ${atol}, rtol ${rtol})`);
  }
  return maxdiff;
}

/** a new GPU tensor holding data */
export function put(g: Gpu, data: Float32Array | Uint32Array, label = 't'): View {
  const v = g.tensor(data.length, label);
  g.upload(v, data);
  return v;
}

/** n random token ids below V */
export function ids(n: number, V: number, seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(r() * V));
}

/**
 * the loss-weighted gradients of two micro-batches of (B, T) random ids (grad accumulation) and their
 * per-token losses, with activation recompute on or off and at a precision; the model is left f32, no recompute
 */
export async function twoMicroBatches(m: Model, B: number, T: number, recompute: boolean, precision: 'f32' | 'f16' = 'f32'):
    Promise<{ grads: Record<string, Float32Array>; losses: Float32Array[]; bytes: number }> {
  m.setRecompute(recompute);
  m.setPrecision(precision);
  const grads = new Arena(m.gpu, m.config, 'grads');
  grads.clear();
  const V = m.config.vocabSize, losses: Float32Array[] = [];
  for (const seed of [1, 2]) {
    const x = ids(B * T + 1, V, seed);
    const a = m.forward(x.subarray(0, B * T), B, T, x.subarray(1));
    losses.push(await m.gpu.read({ ...a.losses, numel: B * T }));
    m.backward(grads, 1 / (2 * B * T));
  }
  const out = await grads.read(), bytes = m.activationBytes;
  grads.destroy();
  m.setRecompute(false);
  m.setPrecision('f32');
  return { grads: out, losses, bytes };
}

/** train_ref.py's recipe (test/ref/*_ref.json's `recipe`): its texts, code points [s, s + n) of a shared file */
export interface RefRecipe { train_text: [string, number, number]; val_text: [string, number, number]; steps: number; batch: number; seq: number;
  grad_accum: number; lr: number; min_lr: number; warmup: number; val_windows: number }

/** the recipe's training and validation texts, written into `work` as train.txt and val.txt */
export function writeRefTexts(r: RefRecipe, work: string): { train: string; val: string } {
  const cps = ([f, s, n]: [string, number, number]) => Array.from(readFileSync(resolve(SHARED, f), 'utf8')).slice(s, s + n).join('');
  const train = resolve(work, 'train.txt'), val = resolve(work, 'val.txt');
  writeFileSync(train, cps(r.train_text));
  writeFileSync(val, cps(r.val_text));
  return { train, val };
}

/** `train`'s flags for the recipe (AdamW 0.9/0.95, eps 1e-8, wd 0.1, clip 1, cosine, sequential) */
export function refTrainArgs(r: RefRecipe, model: string, text: { train: string; val: string }, out: string, extra: string[] = []): string[] {
  return ['train', '--model', model, '--text', text.train, '--val-text', text.val,
    '--steps', String(r.steps), '--batch', String(r.batch), '--seq', String(r.seq), '--grad-accum', String(r.grad_accum),
    '--lr', String(r.lr), '--min-lr', String(r.min_lr), '--warmup', String(r.warmup), '--schedule', 'cosine', '--beta1', '0.9', '--beta2', '0.95',
    '--eps', '1e-8', '--wd', '0.1', '--clip', '1.0', '--sampling', 'sequential', '--val-windows', String(r.val_windows), '--out', out, '--json', ...extra];
}
