// attention variants: every variant this adapter runs ('subgroup2' and 'subgroup' where it has subgroups
// made of whole groups of 8 lanes, 'tiled' everywhere), forced through GpuOptions.force, against the float64 CPU oracle
// (test/cpu.ts): forward (out, lse, probs) with grouped-query heads over several tiles, through a KV
// cache, on GPT-2's fused qkv rows; backward (dq, dk, dv) likewise, deterministic. The variants sum in the
// same order, so they agree bit for bit (the tuner's choice never changes a number); the tuner records its
// picks, the forward's and the backward's apart.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGpu, type Gpu } from '../src/node/index.js';
import * as K from '../src/gpu/kernels/index.js';
import { attentionVariants, type AttentionVariant } from '../src/gpu/kernels/attention.js';
import { alignUp } from '../src/gpu/view.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor, put } from './helpers.js';

let base: Gpu | null = null;
const gpus = new Map<AttentionVariant, Gpu>();
beforeAll(async () => {
  base = await testGpu();
  if (!base) return;
  for (const v of attentionVariants(base)) gpus.set(v, await createGpu({ force: { attention: v } }));
});
afterAll(() => { for (const g of gpus.values()) g.destroy(); base?.destroy(); });

const f32 = (x: ArrayLike<number>) => Float32Array.from(x);
const same = (a: Float32Array, b: Float32Array) => expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);

/** run `body` on every variant's Gpu; the outputs it returns must agree bit for bit across variants */
async function everyVariant(body: (g: Gpu, v: AttentionVariant) => Promise<Float32Array[]>) {
  const outs: Float32Array[][] = [];
  for (const [v, g] of gpus) outs.push(await body(g, v));
  for (const o of outs.slice(1)) o.forEach((t, i) => same(t, outs[0][i]));
}

// (B, T, NH, KVH, HS): odd sizes, grouped heads, several 16-row tiles and 64-row workgroups
const SHAPES: [number, number, number, number, number][] = [[2, 13, 6, 3, 5], [1, 9, 4, 4, 8], [3, 5, 4, 1, 3], [1, 150, 4, 2, 8], [2, 70, 2, 1, 64]];

describe('attention variants vs float64 CPU reference', () => {
  it('this adapter runs the subgroup variants where it has whole groups of 8 lanes; the tuner records the picks', async (ctx) => {
    if (!base) return ctx.skip();
    expect([...gpus.keys()]).toEqual(base.subgroups8 ? ['subgroup2', 'subgroup', 'tiled'] : ['tiled']);
    const [B, T, NH, HS] = [1, 5, 2, 8], n = B * T * NH * HS;
    const [q, k, v, out, lse] = [put(base, randn(n, 1)), put(base, randn(n, 2)), put(base, randn(n, 3)), base.tensor(n, 'o'), base.tensor(B * NH * T, 'l')];
    K.attentionForward(base, out, lse, q, k, v, B, T, NH, NH, HS);
    const dkv = base.tensor(2 * alignUp(n), 'dkv');
    K.attentionBackward(base, base.tensor(n, 'dq'), { ...dkv, numel: n }, { ...dkv, offset: alignUp(n), numel: n }, put(base, randn(n, 4)), out, lse, q, k, v, B, T, NH, NH, HS);
    expect(attentionVariants(base)).toContain(base.tuner.used()['attention:HS8']);
    expect(attentionVariants(base)).toContain(base.tuner.used()['attention:bwd:HS8']);
  });

  it('forward (out, lse) and attention_probs, causal with grouped-query heads, several tiles', async (ctx) => {
    if (!base) return ctx.skip();
    for (const [B, T, NH, KVH, HS] of SHAPES) {
      const q = randn(B * T * NH * HS, 10), k = randn(B * T * KVH * HS, 11), v = randn(B * T * KVH * HS, 12);
      const ref = cpu.attentionForward(q, k, v, B, T, NH, KVH, HS);
      const label = `attention ${[B, T, NH, KVH, HS]}`;
      await everyVariant(async (g, variant) => {
        const out = g.tensor(B * T * NH * HS, 'out'), lse = g.tensor(B * NH * T, 'lse'), probs = g.tensor(B * NH * T * T, 'probs');
        const [qv, kv] = [put(g, q), put(g, k)];
        K.attentionForward(g, out, lse, qv, kv, put(g, v), B, T, NH, KVH, HS);
        K.attentionProbs(g, probs, lse, qv, kv, B, T, NH, KVH, HS);
        const got = [await g.read(out), await g.read(lse), await g.read(probs)];
        checkTensor(`${variant} ${label} out`, got[0], ref.out);
        checkTensor(`${variant} ${label} lse`, got[1], ref.lse);
        checkTensor(`${variant} ${label} probs`, got[2], ref.att);
        return got;
      });
    }
  });

  it('kv_cache_write + forward through a KV cache: new queries at positions P.. see keys 0..P+t', async (ctx) => {
    if (!base) return ctx.skip();
    for (const [B, P, S, Tk, NH, KVH, HS] of [[2, 7, 3, 12, 4, 2, 8], [1, 70, 1, 80, 2, 1, 16], [1, 0, 5, 5, 2, 2, 4], [1, 20, 30, 64, 2, 1, 8]]) {
      const T = P + S, W = KVH * HS;
      const q = randn(B * T * NH * HS, 40), k = randn(B * T * W, 41), v = randn(B * T * W, 42);
      const ref = cpu.attentionForward(q, k, v, B, T, NH, KVH, HS);
      const rows = (x: ArrayLike<number>, w: number, from: number, n: number) => Float32Array.from({ length: B * n * w }, (_, i) => {
        const b = Math.floor(i / (n * w)), r = i % (n * w);
        return x[(b * T + from) * w + r];
      });
      // the cache holds the first P positions and garbage after them (never read); the new S rows arrive
      // inside fused rows of 3W (GPT-2 style: k at W, v at 2W) and are written at P
      const cacheK = randn(B * Tk * W, 43, 1e3), cacheV = randn(B * Tk * W, 44, 1e3);
      for (let b = 0; b < B; b++) for (let t = 0; t < P; t++) for (let i = 0; i < W; i++) {
        cacheK[(b * Tk + t) * W + i] = k[(b * T + t) * W + i]; cacheV[(b * Tk + t) * W + i] = v[(b * T + t) * W + i];
      }
      const newK = rows(k, W, P, S), newV = rows(v, W, P, S);
      const fused = Float32Array.from({ length: B * S * 3 * W }, (_, i) => { const r = Math.floor(i / (3 * W)), c = i % (3 * W); return c < W ? 0 : c < 2 * W ? newK[r * W + c - W] : newV[r * W + c - 2 * W]; });
      const label = `cached attention ${[B, P, S, Tk, NH, KVH, HS]}`;
      const lseRef = Float32Array.from({ length: B * NH * S }, (_, i) => { const bh = Math.floor(i / S); return ref.lse[bh * T + P + (i % S)]; });
      await everyVariant(async (g, variant) => {
        const [ck, cv, src] = [put(g, cacheK), put(g, cacheV), put(g, fused)];
        const span = { past: P, keyRows: Tk };
        K.kvCacheWrite(g, ck, src, B, S, W, 3 * W, W, span);
        K.kvCacheWrite(g, cv, src, B, S, W, 3 * W, 2 * W, span);
        const out = g.tensor(B * S * NH * HS, 'out'), lse = g.tensor(B * NH * S, 'lse');
        K.attentionForward(g, out, lse, put(g, rows(q, NH * HS, P, S)), ck, cv, B, S, NH, KVH, HS, undefined, span);
        const got = [await g.read(out), await g.read(lse)];
        checkTensor(`${variant} ${label} out`, got[0], rows(ref.out, NH * HS, P, S));
        checkTensor(`${variant} ${label} lse`, got[1], lseRef);
        const backK = await g.read(ck);
        for (let b = 0; b < B; b++) checkTensor(`${label} cache rows`, backK.subarray((b * Tk + P) * W, (b * Tk + T) * W), newK.subarray(b * S * W, (b + 1) * S * W), 0, 0);
        return got;
      });
    }
  });

  it('forward on a fused qkv row (GPT-2 layout)', async (ctx) => {
    if (!base) return ctx.skip();
    const [B, T, NH, HS] = [2, 9, 3, 7];
    const C = NH * HS;
    const qkv = randn(B * T * 3 * C, 30);
    // the same values split into separate q, k, v for the reference
    const [q, k, v] = [0, 1, 2].map((j) => Float32Array.from({ length: B * T * C }, (_, i) => qkv[Math.floor(i / C) * 3 * C + j * C + (i % C)]));
    const ref = cpu.attentionForward(q, k, v, B, T, NH, NH, HS);
    const layout = { qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C };
    await everyVariant(async (g, variant) => {
      const out = g.tensor(B * T * C, 'out'), lse = g.tensor(B * NH * T, 'lse'), probs = g.tensor(B * NH * T * T, 'probs'), fused = put(g, qkv);
      K.attentionForward(g, out, lse, fused, fused, fused, B, T, NH, NH, HS, layout);
      K.attentionProbs(g, probs, lse, fused, fused, B, T, NH, NH, HS, layout);
      const got = [await g.read(out), await g.read(lse), await g.read(probs)];
      checkTensor(`${variant} fused out`, got[0], ref.out);
      checkTensor(`${variant} fused lse`, got[1], ref.lse);
      checkTensor(`${variant} fused probs`, got[2], ref.att);
      return got;
    });
  });

  it('backward (dq, dk, dv), grouped-query heads, deterministic', async (ctx) => {
    if (!base) return ctx.skip();
    for (const [B, T, NH, KVH, HS] of SHAPES) {
      const q = randn(B * T * NH * HS, 68), k = randn(B * T * KVH * HS, 69), v = randn(B * T * KVH * HS, 70);
      const dout = randn(B * T * NH * HS, 71), fwd = cpu.attentionForward(q, k, v, B, T, NH, KVH, HS);
      const ref = cpu.attentionBackward(dout, q, k, v, fwd.att, B, T, NH, KVH, HS);
      const label = `attention ${[B, T, NH, KVH, HS]}`;
      await everyVariant(async (g, variant) => {
        const ins = [put(g, dout), put(g, f32(fwd.out)), put(g, f32(fwd.lse)), put(g, q), put(g, k), put(g, v)] as const;
        const runs: Float32Array[][] = [];
        for (let rep = 0; rep < 2; rep++) {
          // dk and dv side by side in one buffer, as the model keeps them
          const dq = g.tensor(q.length, 'dq'), dkv = g.tensor(2 * alignUp(k.length), 'dkv');
          const dk = K.slice(dkv, 0, k.length), dv = K.slice(dkv, alignUp(k.length), v.length);
          K.attentionBackward(g, dq, dk, dv, ...ins, B, T, NH, KVH, HS);
          runs.push([await g.read(dq), await g.read(dk), await g.read(dv)]);
        }
        checkTensor(`${variant} ${label} dq`, runs[0][0], ref.dq);
        checkTensor(`${variant} ${label} dk`, runs[0][1], ref.dk);
        checkTensor(`${variant} ${label} dv`, runs[0][2], ref.dv);
        runs[0].forEach((t, i) => same(t, runs[1][i]));
        return runs[0];
      });
    }
  });

  it('backward into a fused dqkv row (GPT-2 layout)', async (ctx) => {
    if (!base) return ctx.skip();
    const [B, T, NH, HS] = [2, 9, 3, 7];
    const C = NH * HS;
    const qkv = randn(B * T * 3 * C, 72), dout = randn(B * T * C, 73);
    const part = (x: ArrayLike<number>, j: number) => Float32Array.from({ length: B * T * C }, (_, i) => x[Math.floor(i / C) * 3 * C + j * C + (i % C)]);
    const [q, k, v] = [0, 1, 2].map((j) => part(qkv, j));
    const fwd = cpu.attentionForward(q, k, v, B, T, NH, NH, HS);
    const ref = cpu.attentionBackward(dout, q, k, v, fwd.att, B, T, NH, NH, HS);
    await everyVariant(async (g, variant) => {
      const fused = put(g, qkv), dqkv = g.tensor(qkv.length, 'dqkv');
      K.attentionBackward(g, dqkv, dqkv, dqkv, put(g, dout), put(g, f32(fwd.out)), put(g, f32(fwd.lse)), fused, fused, fused,
        B, T, NH, NH, HS, { qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C });
      const got = await g.read(dqkv);
      checkTensor(`${variant} fused dq`, part(got, 0), ref.dq);
      checkTensor(`${variant} fused dk`, part(got, 1), ref.dk);
      checkTensor(`${variant} fused dv`, part(got, 2), ref.dv);
      return [got];
    });
  });
});
