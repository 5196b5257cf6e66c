// backward: every backward kernel (attention: test/attention.test.ts) against the float64 CPU oracle (test/cpu.ts) on odd shapes, the
// += accumulation of parameter gradients, bit-for-bit determinism, chunking under the binding limit;
// and the oracle itself against central finite differences in float64.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Gpu } from '../src/gpu/gpu.js';
import * as K from '../src/gpu/kernels/index.js';
import { ropeTables } from '../src/model/rope.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor, put, ids } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());


/** base + k * grad: what a += kernel should leave in a buffer that held base */
function plus(base: ArrayLike<number>, grad: ArrayLike<number>, k = 1): Float64Array {
  return Float64Array.from({ length: base.length }, (_, i) => base[i] + k * grad[i]);
}

const f32 = (x: ArrayLike<number>) => Float32Array.from(x);
const same = (a: Float32Array, b: Float32Array) => expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);

// -----------------------------------------------------------------------------------------------
// the oracle: directional derivative of loss = sum(out * r) by central differences, vs the analytic one

function fdCheck(label: string, loss: (x: Float64Array) => number, x: ArrayLike<number>, grad: ArrayLike<number>, seed: number) {
  const u = randn(x.length, seed), h = 1e-6;
  const at = (s: number) => loss(Float64Array.from(x, (xi, i) => xi + s * h * u[i]));
  const fd = (at(1) - at(-1)) / (2 * h);
  let an = 0;
  for (let i = 0; i < x.length; i++) an += grad[i] * u[i];
  if (!(Math.abs(fd - an) <= 1e-6 * Math.max(1, Math.abs(an)))) throw new Error(`${label}: finite difference ${fd} vs analytic ${an}`);
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const f64 = (n: number, seed: number, scale = 1) => Float64Array.from(randn(n, seed, scale));

describe('CPU reference backward vs central finite differences (float64)', () => {
  it('encoder', () => {
    const [B, T, C, V] = [2, 5, 7, 11];
    const tok = ids(B * T, 4, 1), wte = f64(V * C, 2), wpe = f64(T * C, 3), r = f64(B * T * C, 4);
    const { dwte, dwpe } = cpu.encoderBackward(r, tok, B, T, C, V);
    fdCheck('dwte', (x) => dot(cpu.encoderForward(tok, x, wpe, B, T, C), r), wte, dwte, 5);
    fdCheck('dwpe', (x) => dot(cpu.encoderForward(tok, wte, x, B, T, C), r), wpe, dwpe, 6);
  });

  it('matmul', () => {
    const [N, C, OC] = [5, 7, 6];
    const x = f64(N * C, 7), w = f64(OC * C, 8), b = f64(OC, 9), r = f64(N * OC, 10);
    const { dinp, dweight, dbias } = cpu.matmulBackward(r, x, w, N, C, OC);
    fdCheck('dinp', (v) => dot(cpu.matmulForward(v, w, b, N, C, OC), r), x, dinp, 11);
    fdCheck('dweight', (v) => dot(cpu.matmulForward(x, v, b, N, C, OC), r), w, dweight, 12);
    fdCheck('dbias', (v) => dot(cpu.matmulForward(x, w, v, N, C, OC), r), b, dbias, 13);
  });

  it('rmsnorm and layernorm', () => {
    const [N, C] = [4, 9];
    const x = f64(N * C, 14, 2), w = f64(C, 15), b = f64(C, 16), r = f64(N * C, 17);
    const rms = cpu.rmsnormForward(x, w, N, C, 1e-5);
    const drms = cpu.rmsnormBackward(r, x, w, rms.rstd, N, C);
    fdCheck('rmsnorm dinp', (v) => dot(cpu.rmsnormForward(v, w, N, C, 1e-5).out, r), x, drms.dinp, 18);
    fdCheck('rmsnorm dweight', (v) => dot(cpu.rmsnormForward(x, v, N, C, 1e-5).out, r), w, drms.dweight, 19);
    const ln = cpu.layernormForward(x, w, b, N, C, 1e-5);
    const dln = cpu.layernormBackward(r, x, w, ln.mean, ln.rstd, N, C);
    fdCheck('layernorm dinp', (v) => dot(cpu.layernormForward(v, w, b, N, C, 1e-5).out, r), x, dln.dinp, 20);
    fdCheck('layernorm dweight', (v) => dot(cpu.layernormForward(x, v, b, N, C, 1e-5).out, r), w, dln.dweight, 21);
    fdCheck('layernorm dbias', (v) => dot(cpu.layernormForward(x, w, v, N, C, 1e-5).out, r), b, dln.dbias, 22);
  });

  it('rope, both conventions', () => {
    const [B, T, NH, HS] = [2, 5, 3, 6];
    const x = f64(B * T * NH * HS, 23), r = f64(x.length, 24);
    for (const mode of [0, 1] as const) {
      fdCheck(`rope ${mode}`, (v) => dot(cpu.ropeForward(v, B, T, NH, HS, 10000, mode), r), x, cpu.ropeBackward(r, B, T, NH, HS, 10000, mode), 25);
    }
    // GPT-NeoX: 2 of 6 dims of each head turn, heads inside a fused row of 3*NH*HS at offset NH*HS (k)
    const at = { R: 2, rs: 3 * NH * HS, off: NH * HS }, y = f64(B * T * 3 * NH * HS, 23), ry = f64(y.length, 24);
    fdCheck('rope partial fused', (v) => dot(cpu.ropeForward(v, B, T, NH, HS, 10000, 1, at), ry), y, cpu.ropeBackward(ry, B, T, NH, HS, 10000, 1, at), 25);
  });

  it('attention with grouped-query heads', () => {
    const [B, T, NH, KVH, HS] = [2, 5, 4, 2, 3];
    const q = f64(B * T * NH * HS, 26), k = f64(B * T * KVH * HS, 27), v = f64(B * T * KVH * HS, 28), r = f64(B * T * NH * HS, 29);
    const { att } = cpu.attentionForward(q, k, v, B, T, NH, KVH, HS);
    const { dq, dk, dv } = cpu.attentionBackward(r, q, k, v, att, B, T, NH, KVH, HS);
    fdCheck('dq', (x) => dot(cpu.attentionForward(x, k, v, B, T, NH, KVH, HS).out, r), q, dq, 30);
    fdCheck('dk', (x) => dot(cpu.attentionForward(q, x, v, B, T, NH, KVH, HS).out, r), k, dk, 31);
    fdCheck('dv', (x) => dot(cpu.attentionForward(q, k, x, B, T, NH, KVH, HS).out, r), v, dv, 32);
  });

  it('swiglu, gelu, residual', () => {
    const n = 50;
    const a = f64(n, 33, 3), b = f64(n, 34), r = f64(n, 35);
    const { dgate, dup } = cpu.swigluBackward(r, a, b);
    fdCheck('dgate', (x) => dot(cpu.swigluForward(x, b), r), a, dgate, 36);
    fdCheck('dup', (x) => dot(cpu.swigluForward(a, x), r), b, dup, 37);
    fdCheck('gelu', (x) => dot(cpu.geluForward(x), r), a, cpu.geluBackward(r, a), 38);
    fdCheck('gelu erf', (x) => dot(cpu.geluErfForward(x), r), a, cpu.geluErfBackward(r, a), 38);
    fdCheck('residual dinp1', (x) => dot(cpu.residualForward(x, b), r), a, r, 39);
  });

  it('crossentropy with softmax', () => {
    const [N, V] = [4, 13];
    const logits = f64(N * V, 40, 3), tgt = ids(N, V, 41), dl = f64(N, 42);
    fdCheck('dlogits', (x) => dot(cpu.crossentropyForward(x, tgt, N, V), dl), logits, cpu.crossentropySoftmaxBackward(dl, logits, tgt, N, V), 43);
  });
});

// -----------------------------------------------------------------------------------------------

describe('backward kernels vs float64 CPU reference', () => {
  it('encoder_backward: dwte, dwpe accumulate (+=), chunked rows, deterministic', async (ctx) => {
    if (!g) return ctx.skip();
    const [B, T, C, V] = [3, 11, 37, 515];
    // repeated tokens (ids below 5) and spread ones, including the last row of wte
    const tok = Uint32Array.from(ids(B * T, V, 44), (v, i) => (i % 2 ? v % 5 : v));
    tok[7] = V - 1;
    const dout = randn(B * T * C, 45), wte0 = randn(V * C, 46), wpe0 = randn(T * C, 47);
    const ref = cpu.encoderBackward(dout, tok, B, T, C, V);
    const dout_g = put(g, dout);
    // default chunking, then 128-row chunks (4 chunks over 515 rows)
    const runs: Float32Array[] = [];
    for (const maxFloats of [undefined, 128 * C, undefined]) {
      const dwte = put(g, wte0), dwpe = put(g, wpe0);
      K.encoderBackward(g, dwte, dwpe, dout_g, tok, B, T, C, maxFloats);
      const got = await g.read(dwte);
      checkTensor(`dwte (chunk ${maxFloats})`, got, plus(wte0, ref.dwte));
      checkTensor('dwpe', await g.read(dwpe), plus(wpe0, ref.dwpe));
      runs.push(got);
    }
    same(runs[0], runs[2]);
    // twice without positions: dwte doubles
    const dwte = put(g, wte0);
    K.encoderBackward(g, dwte, null, dout_g, tok, B, T, C);
    K.encoderBackward(g, dwte, null, dout_g, tok, B, T, C);
    checkTensor('dwte twice', await g.read(dwte), plus(wte0, ref.dwte, 2));
  });

  it('matmul_backward: odd shapes, with and without bias, += on parameters', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [N, C, OC] of [[13, 37, 29], [1, 5, 3], [40, 64, 172], [7, 172, 64]]) {
      const x = randn(N * C, 48), w = randn(OC * C, 49, 0.2), dout = randn(N * OC, 50);
      const dw0 = randn(OC * C, 51), db0 = randn(OC, 52), dinp0 = randn(N * C, 53);
      const ref = cpu.matmulBackward(dout, x, w, N, C, OC);
      for (const withBias of [false, true]) {
        const dinp = put(g, dinp0), dweight = put(g, dw0), dbias = put(g, db0);
        const args = [put(g, dout), put(g, x), put(g, w)] as const;
        K.matmulBackward(g, dinp, dweight, withBias ? dbias : null, ...args, N, C, OC);
        const label = `matmul ${N}x${C}x${OC}${withBias ? ' bias' : ''}`;
        checkTensor(`${label} dinp`, await g.read(dinp), ref.dinp);
        checkTensor(`${label} dweight`, await g.read(dweight), plus(dw0, ref.dweight));
        checkTensor(`${label} dbias`, await g.read(dbias), withBias ? plus(db0, ref.dbias) : db0);
        // a second call: parameter gradients add up, dinp is overwritten, or added to with accumulate
        K.matmulBackward(g, dinp, dweight, withBias ? dbias : null, ...args, N, C, OC, { accumulate: true });
        checkTensor(`${label} dinp accumulated`, await g.read(dinp), plus(ref.dinp, ref.dinp));
        checkTensor(`${label} dweight twice`, await g.read(dweight), plus(dw0, ref.dweight, 2));
        checkTensor(`${label} dbias twice`, await g.read(dbias), withBias ? plus(db0, ref.dbias, 2) : db0);
      }
    }
  });

  it('matmul_backward: dweight and dbias as two ranges of one gradient arena', async (ctx) => {
    if (!g) return ctx.skip();
    const [N, C, OC] = [13, 37, 29];
    const x = randn(N * C, 54), w = randn(OC * C, 55), dout = randn(N * OC, 56);
    const arena = g.tensor(2048, 'grads');
    const dweight = { buffer: arena.buffer, offset: 64, numel: OC * C }, dbias = { buffer: arena.buffer, offset: 64 * 20, numel: OC };
    const dinp = g.tensor(N * C, 'dinp');
    K.matmulBackward(g, dinp, dweight, dbias, put(g, dout), put(g, x), put(g, w), N, C, OC);
    const ref = cpu.matmulBackward(dout, x, w, N, C, OC);
    checkTensor('arena dweight', await g.read(dweight), ref.dweight);
    checkTensor('arena dbias', await g.read(dbias), ref.dbias);
  });

  it('matmul_backward: chunked over rows and weight rows (forced small bindings), deterministic', async (ctx) => {
    if (!g) return ctx.skip();
    // a 12800-float binding limit: 64-row chunks of N (3 chunks) and of OC (4 chunks, the last of 8 rows)
    const [N, C, OC] = [150, 150, 200];
    const x = randn(N * C, 57), w = randn(OC * C, 58, 0.2), dout = randn(N * OC, 59);
    const ref = cpu.matmulBackward(dout, x, w, N, C, OC);
    const args = [put(g, dout), put(g, x), put(g, w)] as const;
    const runs: Float32Array[][] = [];
    for (const maxBindingFloats of [12800, undefined, 12800]) {
      const dinp = g.tensor(N * C, 'dinp'), dweight = g.tensor(OC * C, 'dw'), dbias = g.tensor(OC, 'db');
      K.matmulBackward(g, dinp, dweight, dbias, ...args, N, C, OC, { maxBindingFloats });
      const got = [await g.read(dinp), await g.read(dweight), await g.read(dbias)];
      checkTensor(`chunked dinp (${maxBindingFloats})`, got[0], ref.dinp);
      checkTensor(`chunked dweight (${maxBindingFloats})`, got[1], ref.dweight);
      checkTensor(`chunked dbias (${maxBindingFloats})`, got[2], ref.dbias);
      runs.push(got);
    }
    runs[0].forEach((t, i) => same(t, runs[2][i]));
  });

  it('rmsnorm_backward and layernorm_backward: dinp +=, dweight/dbias += (column sums)', async (ctx) => {
    if (!g) return ctx.skip();
    for (const [N, C] of [[13, 37], [5, 200], [1, 1]]) {
      const x = randn(N * C, 60, 2).map((v) => v + 1), w = randn(C, 61), b = randn(C, 62), dout = randn(N * C, 63);
      const dinp0 = randn(N * C, 64), dw0 = randn(C, 65), db0 = randn(C, 66);
      // rmsnorm, with the forward's rstd (rounded to f32 as the GPU caches it)
      const rms = cpu.rmsnormForward(x, w, N, C, 1e-5), rstd = f32(rms.rstd);
      const rref = cpu.rmsnormBackward(dout, x, w, rstd, N, C);
      let dinp = put(g, dinp0), dweight = put(g, dw0);
      K.rmsnormBackward(g, dinp, dweight, put(g, dout), put(g, x), put(g, w), put(g, rstd), N, C);
      checkTensor(`rmsnorm dinp ${N}x${C}`, await g.read(dinp), plus(dinp0, rref.dinp));
      checkTensor(`rmsnorm dweight ${N}x${C}`, await g.read(dweight), plus(dw0, rref.dweight));
      // layernorm
      const ln = cpu.layernormForward(x, w, b, N, C, 1e-5), mean = f32(ln.mean), lrstd = f32(ln.rstd);
      const lref = cpu.layernormBackward(dout, x, w, mean, lrstd, N, C);
      dinp = put(g, dinp0); dweight = put(g, dw0);
      const dbias = put(g, db0);
      K.layernormBackward(g, dinp, dweight, dbias, put(g, dout), put(g, x), put(g, w), put(g, mean), put(g, lrstd), N, C);
      checkTensor(`layernorm dinp ${N}x${C}`, await g.read(dinp), plus(dinp0, lref.dinp));
      checkTensor(`layernorm dweight ${N}x${C}`, await g.read(dweight), plus(dw0, lref.dweight));
      checkTensor(`layernorm dbias ${N}x${C}`, await g.read(dbias), plus(db0, lref.dbias));
    }
  });

  it('rope_backward, interleaved and rotate_half (in place)', async (ctx) => {
    if (!g) return ctx.skip();
    const [B, T, NH, HS, theta] = [2, 11, 3, 10, 10000];
    const dout = randn(B * T * NH * HS, 67);
    const { cos, sin } = ropeTables(T, HS, theta);
    for (const mode of [0, 1] as const) {
      const v = put(g, dout);
      K.ropeBackward(g, v, put(g, cos), put(g, sin), B, T, NH, HS, mode);
      checkTensor(`rope backward mode ${mode}`, await g.read(v), cpu.ropeBackward(dout, B, T, NH, HS, theta, mode));
    }
    // partial rotary inside GPT-NeoX's fused qkv rows (q at 0, k at C): the other dims are untouched
    const R = 4, C = NH * HS, fused = randn(B * T * 3 * C, 66), t = ropeTables(T, R, theta);
    for (const off of [0, C]) {
      const v = put(g, fused);
      K.ropeBackward(g, v, put(g, t.cos), put(g, t.sin), B, T, NH, HS, 1, { rotary: R, rowStride: 3 * C, offset: off });
      checkTensor(`rope backward partial at ${off}`, await g.read(v), cpu.ropeBackward(fused, B, T, NH, HS, theta, 1, { R, rs: 3 * C, off }));
    }
  });

  it('swiglu_backward, gelu_backward (tanh and erf forms, large |x|), residual_backward (+=)', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 1000 + 17;
    const a = randn(N, 74, 3), b = randn(N, 75), dout = randn(N, 76);
    a[0] = 50; a[1] = -50; a[2] = 0;
    const sw = cpu.swigluBackward(dout, a, b);
    const dgate = g.tensor(N, 'dgate'), dup = g.tensor(N, 'dup');
    K.swigluBackward(g, dgate, dup, put(g, dout), put(g, a), put(g, b), N);
    checkTensor('swiglu dgate', await g.read(dgate), sw.dgate);
    checkTensor('swiglu dup', await g.read(dup), sw.dup);
    const dinp = g.tensor(N, 'dinp');
    K.geluBackward(g, dinp, put(g, a), put(g, dout), N);
    checkTensor('gelu dinp', await g.read(dinp), cpu.geluBackward(dout, a));
    K.geluErfBackward(g, dinp, put(g, a), put(g, dout), N);
    checkTensor('gelu erf dinp', await g.read(dinp), cpu.geluErfBackward(dout, a));
    for (const [name, back, ref] of [['gelu', K.geluBackward, cpu.geluBackward], ['gelu erf', K.geluErfBackward, cpu.geluErfBackward]] as const) {
      const io = put(g, dout);  // in place: dout read from dinp (the fallback of a matmul with a fused GELU backward)
      back(g, io, put(g, a), io, N);
      checkTensor(`${name} dinp in place`, await g.read(io), ref(dout, a));
    }
  });

  it('crossentropy_softmax_backward (in place over the logits; padded rows too)', async (ctx) => {
    if (!g) return ctx.skip();
    const [N, V] = [19, 515];
    const logits = randn(N * V, 77, 5), tgt = ids(N, V, 78);
    for (const dl of [new Float32Array(N).fill(1 / N), randn(N, 79)]) {
      const dlogits = put(g, logits);
      K.crossentropySoftmaxBackward(g, dlogits, put(g, dl), put(g, tgt), N, V);
      checkTensor('dlogits', await g.read(dlogits), cpu.crossentropySoftmaxBackward(dl, logits, tgt, N, V));
    }
    // rows of ld = 516 floats: the same values in the first V columns, zeros in the padding
    const ld = 516, padded = new Float32Array(N * ld).fill(7);
    for (let n = 0; n < N; n++) padded.set(logits.subarray(n * V, (n + 1) * V), n * ld);
    const dp = put(g, padded), dl = randn(N, 80);
    K.crossentropySoftmaxBackward(g, dp, put(g, dl), put(g, tgt), N, V, ld);
    const got = await g.read(dp), want = cpu.crossentropySoftmaxBackward(dl, logits, tgt, N, V);
    for (let n = 0; n < N; n++) {
      checkTensor(`dlogits row ${n}`, got.subarray(n * ld, n * ld + V), want.subarray(n * V, (n + 1) * V));
      expect(got[n * ld + V]).toBe(0);
    }
  });
});

describe("backward at GPT-2's vocabulary (50257 x 768 = 154 MB, over lavapipe's 128 MiB binding limit)", () => {
  const [V, C] = [50257, 768];

  it('matmul_backward through the vocab head, in weight-row chunks', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 4;
    const x = randn(N * C, 81), w = randn(V * C, 82, 0.02), dout = randn(N * V, 83);
    const dinp = g.tensor(N * C, 'dinp'), dweight = g.tensor(V * C, 'dwte'), dbias = g.tensor(V, 'db');
    K.matmulBackward(g, dinp, dweight, dbias, put(g, dout), put(g, x), put(g, w), N, C, V);
    const ref = cpu.matmulBackward(dout, x, w, N, C, V);
    // dinp sums 50257 f32 products in order: its rounding error grows with the length (measured 1.1e-4)
    checkTensor('vocab dinp', await g.read(dinp), ref.dinp, 5e-4, 1e-4);
    checkTensor('vocab dweight', await g.read(dweight), ref.dweight);
    checkTensor('vocab dbias', await g.read(dbias), ref.dbias);
  }, 60_000);

  it('encoder_backward into a dwte bound in row chunks', async (ctx) => {
    if (!g) return ctx.skip();
    const [B, T] = [2, 16];
    const rowsPerChunk = Math.floor(g.limits.maxStorageBufferBindingSize / 4 / C / 64) * 64;
    // tokens at both ends of the vocabulary and on both sides of the chunk boundary, some repeated
    const tok = Uint32Array.from(ids(B * T, V, 84));
    tok.set([0, V - 1, rowsPerChunk - 1, rowsPerChunk, rowsPerChunk, V - 1, 0], 3);
    const dout = randn(B * T * C, 85), dwte = g.tensor(V * C, 'dwte');
    K.encoderBackward(g, dwte, null, put(g, dout), tok, B, T, C);
    checkTensor('vocab dwte', await g.read(dwte), cpu.encoderBackward(dout, tok, B, T, C, V).dwte);
  }, 60_000);
});
