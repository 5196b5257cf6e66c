// kernels: every forward kernel against the float64 CPU oracle (test/cpu.ts) on odd shapes,
// shapes that are not multiples of the 16x16 matmul tile or the workgroup sizes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Gpu } from '../src/gpu/gpu.js';
import * as K from '../src/gpu/kernels/index.js';
import { ropeTables } from '../src/model/rope.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor, put, ids } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());


describe('forward kernels vs float64 CPU reference', () => {
  it('encoder_forward (with and without positions)', async (ctx) => {
    if (!g) return ctx.skip();
    const [B, T, C, V] = [3, 7, 37, 53];
    const tok = ids(B * T, V, 1), wte = randn(V * C, 2), wpe = randn(T * C, 3);
    for (const withPos of [false, true]) {
      const out = g.tensor(B * T * C, 'out');
      K.encoderForward(g, out, put(g, tok), put(g, wte), withPos ? put(g, wpe) : null, B, T, C);
      checkTensor('encoder', await g.read(out), cpu.encoderForward(tok, wte, withPos ? wpe : null, B, T, C));
    }
  });

  it('rmsnorm_forward', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [N, C] of [[13, 37], [5, 200], [1, 1]]) {
      const x = randn(N * C, 4, 3), w = randn(C, 5);
      const out = g.tensor(N * C, 'out'), rstd = g.tensor(N, 'rstd');
      K.rmsnormForward(g, out, rstd, put(g, x), put(g, w), N, C, 1e-5);
      const ref = cpu.rmsnormForward(x, w, N, C, 1e-5);
      checkTensor(`rmsnorm out ${N}x${C}`, await g.read(out), ref.out);
      checkTensor(`rmsnorm rstd ${N}x${C}`, await g.read(rstd), ref.rstd);
    }
  });

  it('matmul_forward (odd shapes, with and without bias)', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [N, C, OC] of [[17, 33, 29], [1, 5, 3], [40, 64, 172], [7, 172, 64]]) {
      const x = randn(N * C, 6), w = randn(OC * C, 7, 0.2), b = randn(OC, 8);
      for (const bias of [null, b]) {
        const out = g.tensor(N * OC, 'out');
        K.matmulForward(g, out, put(g, x), put(g, w), bias ? put(g, bias) : null, N, C, OC);
        checkTensor(`matmul ${N}x${C}x${OC}`, await g.read(out), cpu.matmulForward(x, w, bias, N, C, OC), 1e-5, 1e-4);
      }
    }
  });

  it('rope_forward, interleaved and rotate_half', async (ctx) => {
    if (!g) return ctx.skip();
    const [B, T, NH, HS, theta] = [2, 11, 3, 10, 10000];
    const x = randn(B * T * NH * HS, 9);
    const { cos, sin } = ropeTables(T, HS, theta);
    for (const mode of [0, 1] as const) {
      const v = put(g, x);
      K.ropeForward(g, v, put(g, cos), put(g, sin), B, T, NH, HS, mode);
      checkTensor(`rope mode ${mode}`, await g.read(v), cpu.ropeForward(x, B, T, NH, HS, theta, mode));
    }
    // GPT-NeoX: the first R = 4 of 10 dims turn, in fused qkv rows (q at 0, k at C)
    const R = 4, C = NH * HS, fused = randn(B * T * 3 * C, 8), t = ropeTables(T, R, theta);
    for (const off of [0, C]) {
      const v = put(g, fused);
      K.ropeForward(g, v, put(g, t.cos), put(g, t.sin), B, T, NH, HS, 1, { rotary: R, rowStride: 3 * C, offset: off });
      checkTensor(`rope partial at ${off}`, await g.read(v), cpu.ropeForward(fused, B, T, NH, HS, theta, 1, { R, rs: 3 * C, off }));
    }
    // the two conventions really differ (a test of the test)
    expect(checkDiffers(cpu.ropeForward(x, B, T, NH, HS, theta, 0), cpu.ropeForward(x, B, T, NH, HS, theta, 1))).toBe(true);
  });

  it('attention_forward (out, lse) and attention_probs, causal with grouped-query heads, several tiles', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [B, T, NH, KVH, HS] of [[2, 13, 6, 3, 5], [1, 9, 4, 4, 8], [3, 5, 4, 1, 3], [1, 150, 4, 2, 8], [2, 70, 2, 1, 64]]) {
      const q = randn(B * T * NH * HS, 10), k = randn(B * T * KVH * HS, 11), v = randn(B * T * KVH * HS, 12);
      const out = g.tensor(B * T * NH * HS, 'out'), lse = g.tensor(B * NH * T, 'lse'), probs = g.tensor(B * NH * T * T, 'probs');
      const [qv, kv] = [put(g, q), put(g, k)];
      K.attentionForward(g, out, lse, qv, kv, put(g, v), B, T, NH, KVH, HS);
      K.attentionProbs(g, probs, lse, qv, kv, B, T, NH, KVH, HS);
      const ref = cpu.attentionForward(q, k, v, B, T, NH, KVH, HS);
      checkTensor(`attention out ${[B, T, NH, KVH, HS]}`, await g.read(out), ref.out);
      checkTensor(`attention lse ${[B, T, NH, KVH, HS]}`, await g.read(lse), ref.lse);
      checkTensor(`attention probs ${[B, T, NH, KVH, HS]}`, await g.read(probs), ref.att);
    }
  });

  it('kv_cache_write + attention_forward through a KV cache: new queries at positions P.. see keys 0..P+t', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [B, P, S, Tk, NH, KVH, HS] of [[2, 7, 3, 12, 4, 2, 8], [1, 70, 1, 80, 2, 1, 16], [1, 0, 5, 5, 2, 2, 4]]) {
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
      const [ck, cv, src] = [put(g, cacheK), put(g, cacheV), put(g, fused)];
      const span = { past: P, keyRows: Tk };
      K.kvCacheWrite(g, ck, src, B, S, W, 3 * W, W, span);
      K.kvCacheWrite(g, cv, src, B, S, W, 3 * W, 2 * W, span);
      const out = g.tensor(B * S * NH * HS, 'out'), lse = g.tensor(B * NH * S, 'lse');
      K.attentionForward(g, out, lse, put(g, rows(q, NH * HS, P, S)), ck, cv, B, S, NH, KVH, HS, undefined, span);
      const label = `cached attention ${[B, P, S, Tk, NH, KVH, HS]}`;
      checkTensor(`${label} out`, await g.read(out), rows(ref.out, NH * HS, P, S));
      const lseRef = Float32Array.from({ length: B * NH * S }, (_, i) => { const bh = Math.floor(i / S); return ref.lse[bh * T + P + (i % S)]; });
      checkTensor(`${label} lse`, await g.read(lse), lseRef);
      const backK = await g.read(ck);
      for (let b = 0; b < B; b++) checkTensor(`${label} cache rows`, backK.subarray((b * Tk + P) * W, (b * Tk + T) * W), newK.subarray(b * S * W, (b + 1) * S * W), 0, 0);
    }
  });

  it('attention_forward on a fused qkv row (GPT-2 layout)', async (ctx) => {
    if (!g) return ctx.skip();
    const [B, T, NH, HS] = [2, 9, 3, 7];
    const C = NH * HS;
    const qkv = randn(B * T * 3 * C, 30);
    // the same values split into separate q, k, v for the reference
    const [q, k, v] = [0, 1, 2].map((j) => Float32Array.from({ length: B * T * C }, (_, i) => qkv[Math.floor(i / C) * 3 * C + j * C + (i % C)]));
    const out = g.tensor(B * T * C, 'out'), lse = g.tensor(B * NH * T, 'lse'), probs = g.tensor(B * NH * T * T, 'probs'), fused = put(g, qkv);
    const layout = { qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C };
    K.attentionForward(g, out, lse, fused, fused, fused, B, T, NH, NH, HS, layout);
    K.attentionProbs(g, probs, lse, fused, fused, B, T, NH, NH, HS, layout);
    const ref = cpu.attentionForward(q, k, v, B, T, NH, NH, HS);
    checkTensor('attention fused out', await g.read(out), ref.out);
    checkTensor('attention fused lse', await g.read(lse), ref.lse);
    checkTensor('attention fused probs', await g.read(probs), ref.att);
  });

  it('layernorm_forward', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [N, C] of [[13, 37], [3, 300]]) {
      const x = randn(N * C, 31, 2).map((v) => v + 3), w = randn(C, 32), b = randn(C, 33);
      const out = g.tensor(N * C, 'out'), mean = g.tensor(N, 'mean'), rstd = g.tensor(N, 'rstd');
      K.layernormForward(g, out, mean, rstd, put(g, x), put(g, w), put(g, b), N, C, 1e-5);
      const ref = cpu.layernormForward(x, w, b, N, C, 1e-5);
      checkTensor(`layernorm out ${N}x${C}`, await g.read(out), ref.out);
      checkTensor(`layernorm mean ${N}x${C}`, await g.read(mean), ref.mean);
      checkTensor(`layernorm rstd ${N}x${C}`, await g.read(rstd), ref.rstd);
    }
  });

  it('gelu_forward (tanh and erf forms), including large |x|', async (ctx) => {
    if (!g) return ctx.skip();
    const x = randn(1037, 34, 3);
    x[0] = 50; x[1] = -50; x[2] = 0;
    const out = g.tensor(x.length, 'out');
    K.geluForward(g, out, put(g, x), x.length);
    checkTensor('gelu', await g.read(out), cpu.geluForward(x));
    K.geluErfForward(g, out, put(g, x), x.length);
    checkTensor('gelu erf', await g.read(out), cpu.geluErfForward(x));
    // the forms differ by up to ~2e-4, more than the 1e-5 the kernels are held to (a test of the test)
    const e = cpu.geluErfForward(x), th = cpu.geluForward(x);
    expect(Math.max(...e.map((v, i) => Math.abs(v - th[i])))).toBeGreaterThan(1e-4);
    // the reference erf itself, at tabulated values (A&S table 7.1 / mpmath)
    for (const [v, want] of [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276], [-1.5, -0.9661051464753108]]) {
      expect(Math.abs(cpu.erf(v) - want)).toBeLessThan(1e-15);
    }
  });

  it('swiglu_forward and residual_forward', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 1000 + 17;
    const a = randn(N, 13, 4), b = randn(N, 14);
    const out = g.tensor(N, 'out');
    K.swigluForward(g, out, put(g, a), put(g, b), N);
    checkTensor('swiglu', await g.read(out), cpu.swigluForward(a, b));
    K.residualForward(g, out, put(g, a), put(g, b), N);
    checkTensor('residual', await g.read(out), cpu.residualForward(a, b));
  });

  it('crossentropy_forward', async (ctx) => {
    if (!g) return ctx.skip();
    const [N, V] = [19, 515];
    const logits = randn(N * V, 15, 5), tgt = ids(N, V, 16);
    const losses = g.tensor(N, 'losses');
    K.crossentropyForward(g, losses, put(g, logits), put(g, tgt), N, V);
    checkTensor('crossentropy', await g.read(losses), cpu.crossentropyForward(logits, tgt, N, V));
  });
});

function checkDiffers(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1e-3) return true;
  return false;
}
