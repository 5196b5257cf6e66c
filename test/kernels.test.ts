// kernels: every forward kernel (attention: test/attention.test.ts) against the float64 CPU oracle (test/cpu.ts) on odd shapes,
// shapes that are not multiples of the 16x16 matmul tile or the workgroup sizes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Gpu } from '../src/gpu/gpu.js';
import { createGpu } from '../src/node/index.js';
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

  it('norm rows: the subgroup form (one subgroup a row, kernels/*norm_subgroup.wgsl) gives the bits of the workgroup form', async (ctx) => {
    if (!g) return ctx.skip();
    const wg = await createGpu({ force: { norm: 'workgroup' } });
    try {
      for (const [N, C] of [[13, 37], [5, 200], [3, 768], [2, 1]]) {
        const x = randn(N * C, 30, 3), w = randn(C, 31), b = randn(C, 32), dout = randn(N * C, 33), prior = randn(N * C, 34);
        const run = async (h: Gpu) => {
          const t = (n: number) => h.tensor(n, 't');
          const out = t(N * C), mean = t(N), rstd = t(N), rout = t(N * C), rr = t(N);
          const dx = put(h, prior), rdx = put(h, prior), dw = t(C), db = t(C), rdw = t(C);
          K.layernormForward(h, out, mean, rstd, put(h, x), put(h, w), put(h, b), N, C, 1e-5);
          K.layernormBackward(h, dx, dw, db, put(h, dout), put(h, x), put(h, w), mean, rstd, N, C);
          K.rmsnormForward(h, rout, rr, put(h, x), put(h, w), N, C, 1e-5);
          K.rmsnormBackward(h, rdx, rdw, put(h, dout), put(h, x), put(h, w), rr, N, C);
          return Promise.all([out, mean, rstd, dx, dw, db, rout, rr, rdx, rdw].map((v) => h.read(v)));
        };
        const [a, c] = [await run(g), await run(wg)];
        const ref = cpu.layernormForward(x, w, b, N, C, 1e-5);
        checkTensor(`layernorm ${N}x${C}`, a[0], ref.out);
        checkTensor(`layernorm dinp ${N}x${C}`, a[3], cpu.layernormBackward(dout, x, w, ref.mean, ref.rstd, N, C).dinp.map((v, i) => v + prior[i]));
        a.forEach((v, i) => expect(Buffer.from(v.buffer).equals(Buffer.from(c[i].buffer)), `${N}x${C} output ${i}`).toBe(true));
      }
      expect(g.tuner.used()['norm:C37']).toBe(g.subgroupSize?.min === g.rowThreads && g.subgroupSize?.max === g.rowThreads ? 'subgroup' : 'workgroup');
      expect(wg.tuner.used()['norm:C37']).toBe('workgroup');
    } finally {
      wg.destroy();
    }
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

  it('swiglu_forward', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 1000 + 17;
    const a = randn(N, 13, 4), b = randn(N, 14);
    const out = g.tensor(N, 'out');
    K.swigluForward(g, out, put(g, a), put(g, b), N);
    checkTensor('swiglu', await g.read(out), cpu.swigluForward(a, b));
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
